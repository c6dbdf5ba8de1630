/**
 * The detector end to end on in-memory data: fast-check properties (identical samples never
 * drift; permuting rows changes nothing; merging profiles equals profiling the union within
 * the sketch bound), the streaming accumulator against the batch path, and degenerate
 * inputs (all-NaN, constant, single row, empty window) giving defined, finite results.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { DriftAccumulator } from '../../../src/drift/accumulator.js';
import { driftCsvFile, profileCsvFile, readSchemaFile } from '../../../src/drift/io.js';
import { mergeProfiles, profileRows, type Profile } from '../../../src/drift/profile.js';
import type { Schema } from '../../../src/drift/schema.js';
import { QuantileSketch, kllRankErrorBound } from '../../../src/drift/sketch/kll.js';
import { cdfAt } from '../../../src/drift/stats/ecdf.js';
import { resolveDriftOptions } from '../../../src/drift/options.js';
import { isBerthError } from '../../../src/errors.js';
import { normals, rng } from './helpers.js';

const FIX = 'test/fixtures/drift';
const schema: Schema = {
  columns: [
    { name: 'x', type: 'numeric', role: 'feature' },
    { name: 'y', type: 'numeric', role: 'feature' },
    { name: 'c', type: 'categorical', role: 'feature' },
  ],
  missingTokens: ['', 'NA'],
};

type Row = { x: number | null; y: number; c: string };
const rowArb = fc.record({
  x: fc.option(fc.integer({ min: -50, max: 50 }), { nil: null }),
  // Multiples of 1/8: sums are exact in floating point, so summation order cannot matter.
  y: fc.integer({ min: -8000, max: 8000 }).map((v) => v / 8),
  c: fc.constantFrom('a', 'b', 'c', 'd'),
});

function check(profile: Profile, rows: readonly Row[]) {
  const acc = new DriftAccumulator(profile);
  for (const r of rows) acc.add(r);
  return acc.evaluate();
}

/** Every number in a report is finite (no NaN / Infinity leaks). */
function assertFinite(v: unknown, path = 'report'): void {
  if (typeof v === 'number') assert.ok(Number.isFinite(v), `${path} = ${v}`);
  else if (Array.isArray(v)) v.forEach((x, i) => assertFinite(x, `${path}[${i}]`));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) assertFinite(x, `${path}.${k}`);
}

function rounded(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'number' ? (Math.abs(x) < 1e-9 ? 0 : Number(x.toPrecision(8))) : x)));
}

test('property: identical samples never drift', () => {
  fc.assert(
    fc.property(fc.array(rowArb, { minLength: 1, maxLength: 300 }), (rows) => {
      const report = check(profileRows(rows, schema), rows);
      assert.equal(report.verdict.drift, false, JSON.stringify(report.verdict));
      assertFinite(report);
    }),
    { numRuns: 60, seed: 20240601 },
  );
});

test('property: permuting rows changes nothing', () => {
  fc.assert(
    fc.property(fc.array(rowArb, { minLength: 2, maxLength: 200 }), fc.array(rowArb, { minLength: 1, maxLength: 200 }), fc.integer(), (ref, cur, seed) => {
      const r = rng(seed);
      const shuffle = <T>(a: readonly T[]): T[] => {
        const b = a.slice();
        for (let i = b.length - 1; i > 0; i--) {
          const j = Math.floor(r() * (i + 1));
          [b[i], b[j]] = [b[j]!, b[i]!];
        }
        return b;
      };
      const a = check(profileRows(ref, schema), cur);
      const b = check(profileRows(shuffle(ref), schema), shuffle(cur));
      assert.deepEqual(rounded(b), rounded(a));
    }),
    { numRuns: 40, seed: 20240602 },
  );
});

test('property: merging profiles equals profiling the union, within the sketch bound', () => {
  fc.assert(
    fc.property(fc.array(rowArb, { minLength: 1, maxLength: 3000 }), fc.nat(), (rows, cut) => {
      const k = cut % rows.length;
      const opts = { k: 64, exactLimit: 0 };
      const merged = mergeProfiles(profileRows(rows.slice(0, k), schema, opts), profileRows(rows.slice(k), schema, opts));
      const union = profileRows(rows, schema, opts);
      assert.equal(merged.rows, union.rows);
      for (let i = 0; i < union.columns.length; i++) {
        const m = merged.columns[i]!;
        const u = union.columns[i]!;
        assert.deepEqual([m.rows, m.missing, m.invalid], [u.rows, u.missing, u.invalid]);
        if (m.type === 'numeric' && u.type === 'numeric') {
          assert.equal(m.summary.count, u.summary.count);
          assert.ok(Math.abs(m.summary.mean - u.summary.mean) <= 1e-9 * (1 + Math.abs(u.summary.mean)));
          const ms = QuantileSketch.fromJSON(m.sketch).toSample();
          const us = QuantileSketch.fromJSON(u.sketch).toSample();
          const truth = rows.map((r) => (m.name === 'x' ? r.x : r.y)).filter((v): v is number => v !== null);
          const eps = kllRankErrorBound(64);
          for (const q of [-40, -10, 0, 10, 40, -500, 500]) {
            const exact = truth.filter((v) => v <= q).length / Math.max(1, truth.length);
            assert.ok(Math.abs(cdfAt(ms, q) - exact) <= eps, `merged CDF(${q})`);
            assert.ok(Math.abs(cdfAt(us, q) - exact) <= eps, `union CDF(${q})`);
          }
        } else if (m.type === 'categorical' && u.type === 'categorical') {
          assert.deepEqual(m.categories, u.categories);
        }
      }
    }),
    { numRuns: 25, seed: 20240603 },
  );
});

test('a clear shift drifts; a large-sample tiny shift is significant but not drift (effect-size gate)', () => {
  const r = rng(9);
  const ref = Array.from(normals(20000, r), (x, i) => ({ x, y: x * 2 + 1, c: i % 3 ? 'a' : 'b' }));
  const profile = profileRows(ref, schema, { exactLimit: 20000 });
  const shifted = Array.from(normals(500, r, 1), (x, i) => ({ x, y: x * 2 + 1, c: i % 3 ? 'a' : 'b' }));
  const rep1 = check(profile, shifted as Row[]);
  assert.ok(rep1.verdict.drift);
  assert.deepEqual(rep1.verdict.driftedFeatures, ['x', 'y']);
  const tiny = Array.from(normals(200000, r, 0.06), (x, i) => ({ x, y: x * 2 + 1, c: i % 3 ? 'a' : 'b' }));
  const rep2 = check(profile, tiny as Row[]);
  const fx = rep2.features.find((f) => f.name === 'x')!;
  assert.equal(fx.regime, 'large');
  assert.ok(fx.test.pValueAdjusted < 0.05, `p=${fx.test.pValueAdjusted}`);
  assert.ok(!fx.drifted);
  assert.match(fx.decision, /^significant, below the effect threshold: /);
  assert.equal(fx.status, 'significant, below the effect threshold');
  assert.deepEqual(rep2.verdict.significantBelowEffect, ['x', 'y']);
});

test('per-column thresholds from options override the defaults', () => {
  const r = rng(10);
  const ref = Array.from(normals(2000, r), (x) => ({ x, y: x, c: 'a' }));
  const cur = Array.from(normals(500, r, 0.3), (x) => ({ x, y: x, c: 'a' }));
  const profile = profileRows(ref, schema);
  const loose = new DriftAccumulator(profile, { columns: { x: { effect: 5 } } });
  for (const row of cur) loose.add(row);
  const rep = loose.evaluate();
  assert.equal(rep.features.find((f) => f.name === 'x')!.drifted, false);
  assert.equal(rep.features.find((f) => f.name === 'y')!.drifted, true);
  assert.throws(() => resolveDriftOptions({ alpha: 2 }), (e: unknown) => isBerthError(e, 'BERTH_ERR_DRIFT_OPTIONS') && /alpha/.test((e as Error).message));
  assert.throws(() => new DriftAccumulator(profile, { columns: { nope: { effect: 1 } } }), /columns.nope/);
});

test('missing-rate change and unseen categories are their own signals', () => {
  const r = rng(12);
  const ref = Array.from(normals(3000, r), (x, i) => ({ x, y: x, c: ['a', 'b', 'c'][i % 3]! }));
  const profile = profileRows(ref, schema);
  const cur = Array.from(normals(400, r), (x, i) => ({ x: i % 3 === 0 ? null : x, y: x, c: i % 10 === 0 ? 'zzz' : ['a', 'b', 'c'][i % 3]! }));
  const rep = check(profile, cur as Row[]);
  const x = rep.features.find((f) => f.name === 'x')!;
  assert.ok(x.missing.drifted);
  const c = rep.features.find((f) => f.name === 'c')!;
  assert.ok(c.unseen!.drifted);
  assert.deepEqual(c.unseen!.categories, [['zzz', 40]]);
  assert.ok(rep.verdict.signals.some((s) => s.includes('missing rate of "x"')));
  assert.ok(rep.verdict.signals.some((s) => s.includes('never saw')));
});

test('degenerate inputs give defined, finite results with a reason', () => {
  const constRef = profileRows(Array.from({ length: 50 }, (_, i) => ({ x: 5, y: i, c: 'a' })), schema);
  const cases: Row[][] = [
    [{ x: 5, y: 1, c: 'a' }], // single row
    Array.from({ length: 20 }, () => ({ x: null, y: Number.NaN, c: 'a' })), // all missing
    Array.from({ length: 20 }, () => ({ x: 6, y: 3, c: 'b' })), // constant, different
  ];
  for (const cur of cases) {
    const rep = check(constRef, cur);
    assertFinite(rep);
  }
  const rep = check(constRef, cases[2]!);
  assert.match(rep.features[0]!.reason ?? '', /constant/);
  const empty = new DriftAccumulator(constRef).evaluate();
  assertFinite(empty);
  assert.equal(empty.verdict.drift, false);
  assert.equal(empty.features[0]!.reason, 'no values in the current window');
  const allNanRef = profileRows([{ x: null, y: 1, c: 'a' }, { x: null, y: 2, c: 'a' }], schema);
  assertFinite(check(allNanRef, [{ x: 1, y: 1, c: 'a' }]));
});

test('DriftAccumulator.evaluate() equals the batch path; addColumns and merge agree with add', async () => {
  const s = await readSchemaFile(join(FIX, 'schema.json'));
  const profile = await profileCsvFile(join(FIX, 'reference.csv'), s);
  const batch = await driftCsvFile(profile, join(FIX, 'current-shifted.csv'));
  const { readCsvFile } = await import('../../../src/drift/csv.js');
  const acc = new DriftAccumulator(profile);
  const halves = [new DriftAccumulator(acc.reference), new DriftAccumulator(acc.reference)];
  let header: string[] | null = null;
  let i = 0;
  for await (const rec of readCsvFile(join(FIX, 'current-shifted.csv'))) {
    if (header === null) {
      header = rec;
      continue;
    }
    const row = Object.fromEntries(header.map((h, j) => [h, rec[j]]));
    acc.add(row);
    halves[i++ % 2]!.add(row);
  }
  const streamed = acc.evaluate({ currentSource: join(FIX, 'current-shifted.csv') });
  assert.deepEqual(rounded(streamed), rounded(batch));
  assert.deepEqual(rounded(halves[0]!.merge(halves[1]!).evaluate({ currentSource: join(FIX, 'current-shifted.csv') })), rounded(batch));

  const plain = profileRows(Array.from(normals(300, rng(1)), (x) => ({ x, y: -x, c: 'a' })), schema);
  const cols = { x: normals(100, rng(2)), y: normals(100, rng(3)), c: Array.from({ length: 100 }, () => 'a') };
  const bulk = new DriftAccumulator(plain);
  bulk.addColumns(cols);
  const one = new DriftAccumulator(plain);
  for (let r = 0; r < 100; r++) one.add({ x: cols.x[r], y: cols.y[r], c: 'a' });
  assert.deepEqual(rounded(bulk.evaluate()), rounded(one.evaluate()));
  one.reset();
  assert.equal(one.rows, 0);
});
