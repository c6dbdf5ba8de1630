/**
 * The PCA reconstruction-error detector: the block scorer against a straightforward dense
 * computation, the row-by-row and bulk (addColumns) paths against each other, and the
 * one-pass PCA moments against the two-pass MultivariateBuilder (including the fallback
 * second pass when a column has more distinct categories than the pass tracks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DriftAccumulator } from '../../../src/drift/accumulator.js';
import { applySchemaToProfile } from '../../../src/drift/io.js';
import { MAX_TRACKED_CATEGORIES, PcaScorer, SCORE_BLOCK_ROWS, type PcaFit } from '../../../src/drift/multivariate.js';
import { MultivariateBuilder, ProfileBuilder, profileRows, type Profile } from '../../../src/drift/profile.js';
import { prepareReference } from '../../../src/drift/reference.js';
import type { Schema } from '../../../src/drift/schema.js';
import { close, normals, rng } from './helpers.js';

const schema: Schema = {
  columns: [
    { name: 'a', type: 'numeric', role: 'feature' },
    { name: 'b', type: 'numeric', role: 'feature' },
    { name: 'c', type: 'numeric', role: 'feature' },
    { name: 'city', type: 'categorical', role: 'feature' },
    { name: 'plan', type: 'categorical', role: 'feature' },
    { name: 'label', type: 'categorical', role: 'label' },
  ],
  missingTokens: ['', 'NA'],
};

type Row = { a: number | string; b: number; c: number | null; city: string; plan: string | null; label: string };

/** Correlated numerics with missing and invalid cells; 30 cities (only 20 get encoded), missing plans. */
function makeRows(n: number, seed: number, shift = 0): Row[] {
  const r = rng(seed);
  const z = normals(3 * n, r);
  return Array.from({ length: n }, (_, i) => {
    const u = z[3 * i]!;
    const a = 10 + 3 * u + shift;
    return {
      a: i % 97 === 5 ? 'NA' : i % 89 === 7 ? 'oops' : a,
      b: 2 * u + z[3 * i + 1]! - shift,
      c: i % 13 === 0 ? null : z[3 * i + 2]! * 5 + 100,
      city: `city${Math.floor(30 * r() * r())}`,
      plan: i % 17 === 0 ? null : u + shift > 0.3 ? 'pro' : r() < 0.5 ? 'basic' : 'free',
      label: r() < 0.5 ? 'yes' : 'no',
    };
  });
}

const fits = new Map<Profile, PcaFit>();

/** The squared reconstruction error of one row, written out densely from the definition. */
function referenceError(profile: Profile, row: Row): number {
  const fit = fits.get(profile) ?? prepareReference(profile).pca!.fit;
  fits.set(profile, fit);
  const enc = profile.multivariate!.encoding;
  const z: number[] = [];
  for (const n of enc.numeric) {
    const v = row[n.name as keyof Row];
    const x = typeof v === 'number' ? v : Number.NaN;
    z.push(Number.isFinite(x) ? (x - n.center) / n.scale : 0);
  }
  for (const c of enc.categorical) for (const v of c.categories) z.push(row[c.name as keyof Row] === v ? 1 : 0);
  const m = fit.kept.length;
  const w = Array.from(fit.kept, (i, a) => (z[i]! - fit.mean[a]!) / fit.sd[a]!);
  let captured = 0;
  for (let c = 0; c < fit.k; c++) {
    let p = 0;
    for (let a = 0; a < m; a++) p += fit.components[c * m + a]! * w[a]!;
    captured += p * p;
  }
  return Math.max(0, w.reduce((s, x) => s + x * x, 0) - captured);
}

const reference = makeRows(600, 1);
const profile = profileRows(reference, schema);

test('the block scorer equals a dense reference computation, row by row', () => {
  const prepared = prepareReference(profile);
  assert.ok(prepared.pca !== null, 'the fixture has a PCA block');
  assert.ok(profile.multivariate!.encoding.categorical.find((c) => c.name === 'city')!.categories.length === 20);
  const scorer: PcaScorer = prepared.pca.scorer;
  const rows = makeRows(SCORE_BLOCK_ROWS - 1, 2, 0.5); // a tail that is not a multiple of 4
  rows.push({ a: 'NA', b: Number.NaN, c: null, city: 'nowhere', plan: null, label: 'yes' }); // nothing present
  const enc = profile.multivariate!.encoding;
  const numeric = new Float64Array(enc.numeric.length * SCORE_BLOCK_ROWS);
  const slots = new Int32Array(enc.categorical.length * SCORE_BLOCK_ROWS);
  rows.forEach((row, r) => {
    enc.numeric.forEach((n, j) => {
      const v = row[n.name as keyof Row];
      numeric[j * SCORE_BLOCK_ROWS + r] = typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN;
    });
    enc.categorical.forEach((c, q) => (slots[q * SCORE_BLOCK_ROWS + r] = scorer.categorySlot(q, row[c.name as keyof Row] as string | null)));
  });
  const out = new Float64Array(SCORE_BLOCK_ROWS);
  scorer.score(numeric, slots, SCORE_BLOCK_ROWS, rows.length, out);
  rows.forEach((row, r) => close(out[r]!, referenceError(profile, row), 1e-9, 1e-9, `row ${r}`));
  assert.throws(() => scorer.score(numeric, slots, SCORE_BLOCK_ROWS, SCORE_BLOCK_ROWS + 1, out), RangeError);
});

test('DriftAccumulator: add(), addColumns() and merge() give the same PCA result as the reference mean', () => {
  const current = makeRows(1203, 3, 0.4); // two full blocks and a partial one
  const one = new DriftAccumulator(profile);
  for (const row of current) one.add(row);
  const halves = [new DriftAccumulator(one.reference), new DriftAccumulator(one.reference)];
  current.forEach((row, i) => halves[i % 2]!.add(row));
  const bulk = new DriftAccumulator(one.reference);
  const column = (name: keyof Row) => current.map((row) => row[name]);
  bulk.addColumns({ a: column('a') as (string | null)[], b: Float64Array.from(current, (row) => row.b), c: column('c') as (string | null)[], city: column('city') as string[], plan: column('plan') as (string | null)[], label: column('label') as string[] });
  const mv = one.evaluate().multivariate!;
  assert.deepEqual(bulk.evaluate(), one.evaluate(), 'the whole report, not only the PCA part');
  const merged = halves[0]!.merge(halves[1]!).evaluate().multivariate!;
  close(merged.currentError!, mv.currentError!, 1e-12, 0, 'merged mean');
  const expected = current.reduce((s, row) => s + referenceError(profile, row), 0) / current.length;
  close(mv.currentError!, expected, 1e-9, 0, 'mean squared error');
});

test('a column ignored at check time counts as missing for the PCA, in both paths', () => {
  const ignoring = applySchemaToProfile(profile, { columns: [{ name: 'a', type: 'numeric', role: 'ignore' }], missingTokens: [] }, 'schema');
  const current = makeRows(300, 4);
  const ignored = new DriftAccumulator(ignoring);
  const missingA = new DriftAccumulator(profile);
  const bulk = new DriftAccumulator(ignoring);
  for (const row of current) {
    ignored.add(row);
    missingA.add({ ...row, a: 'NA' });
  }
  bulk.addColumns({ a: current.map((r) => r.a) as (string | null)[], b: current.map((r) => r.b), c: current.map((r) => r.c) as (string | null)[], city: current.map((r) => r.city), plan: current.map((r) => r.plan) });
  assert.equal(ignored.evaluate().multivariate!.currentError, missingA.evaluate().multivariate!.currentError);
  assert.equal(bulk.evaluate().multivariate!.currentError, missingA.evaluate().multivariate!.currentError);
});

/** The two-pass PCA moments (the encoding fixed first, then every row encoded). */
function twoPass(rows: readonly Row[], s: Schema): NonNullable<Profile['multivariate']> {
  const b = new ProfileBuilder(s, { multivariate: false });
  for (const row of rows) b.addRow(row);
  const m = new MultivariateBuilder(s, b.multivariateEncoding()!);
  for (const row of rows) m.addRow(row);
  return m.toJSON();
}

function assertSameMoments(actual: NonNullable<Profile['multivariate']>, expected: NonNullable<Profile['multivariate']>): void {
  assert.deepEqual(actual.encoding, expected.encoding);
  assert.equal(actual.n, expected.n);
  actual.sums.forEach((v, i) => close(v, expected.sums[i]!, 1e-9, 1e-9 * expected.n, `sums[${i}]`));
  actual.products.forEach((v, i) => close(v, expected.products[i]!, 1e-9, 1e-9 * expected.n, `products[${i}]`));
}

test('one-pass PCA moments equal the two-pass moments (missing, invalid, unencoded categories)', () => {
  const b = new ProfileBuilder(schema);
  for (const row of reference) b.addRow(row);
  assert.equal(b.secondPass(), null, 'one pass suffices');
  assertSameMoments(b.toProfile().multivariate!, twoPass(reference, schema));
});

test('a column with more distinct categories than the pass tracks: one pass when its top ones came early, else a second pass', () => {
  const wide: Schema = { columns: [...schema.columns, { name: 'id', type: 'categorical', role: 'feature' }], missingTokens: schema.missingTokens };
  const distinct = MAX_TRACKED_CATEGORIES + 40;
  // Early: frequent ids first, then a long tail of singletons. Late: the frequent ids only after the tail.
  const early = reference.map((row, i) => ({ ...row, id: i < 200 ? `top${i % 5}` : `rare${i % distinct}` }));
  const late = reference.map((row, i) => ({ ...row, id: i >= 400 ? `top${i % 5}` : `rare${i % distinct}` }));
  for (const [rows, passes] of [[early, 1], [late, 2]] as const) {
    const b = new ProfileBuilder(wide);
    for (const row of rows) b.addRow(row);
    const second = b.secondPass();
    assert.equal(second === null ? 1 : 2, passes);
    if (second !== null) for (const row of rows) second.addRow(row);
    assertSameMoments(b.toProfile(second).multivariate!, twoPass(rows, wide));
    assert.deepEqual(profileRows(rows, wide), b.toProfile(second));
  }
});
