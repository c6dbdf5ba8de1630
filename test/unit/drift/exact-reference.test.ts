/**
 * Issue 10, items 3 and 4: drift tests against a berth.profile/v2 profile are the tests on
 * the raw reference data. Expected values from scipy 1.10.1 / numpy 1.24.2 on the same
 * numbers, printed by test/fixtures/drift/scipy_exact_reference.py (run with /usr/bin/python3).
 * The old profiles (KLL k = 200 past 2,048 values) are checked beside them: what they lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DriftAccumulator } from '../../../src/drift/accumulator.js';
import { parseProfile, PROFILE_FORMAT, profileRows, type Profile } from '../../../src/drift/profile.js';
import type { ColumnDrift } from '../../../src/drift/report.js';
import type { Schema } from '../../../src/drift/schema.js';
import { close, seq } from './helpers.js';

const schema: Schema = { columns: [{ name: 'x', type: 'numeric', role: 'feature' }], missingTokens: [] };
/** The profile format and sketch settings before issue 10 (exact only up to 2,048 values, then KLL k = 200). */
const V1_SKETCH = { exactLimit: 2048, k: 200 };

function profileOf(values: Float64Array, options: { exactLimit?: number; k?: number } = {}): Profile {
  return profileRows(Array.from(values, (x) => ({ x })), schema, { ...options, multivariate: false });
}

function column(profile: Profile, current: Float64Array): ColumnDrift {
  const acc = new DriftAccumulator(profile, { multivariate: { enabled: false } });
  acc.addColumns({ x: current });
  return acc.evaluate().features[0]!;
}

test('KS against an 8,000-row reference is scipy ks_2samp on the raw data', () => {
  const ref = seq(8000, 7919, 13, 10007, 100);
  const cur = seq(500, 104729, 7, 9973, 100, 4);
  const profile = profileOf(ref);
  assert.equal(profile.format, PROFILE_FORMAT);
  const c = column(profile, cur);
  // scipy: ks_2samp(ref, cur, method='auto') → statistic=0.040875 pvalue=0.4019294663806996
  close(c.test.statistic, 0.040875, 1e-12);
  close(c.test.pValue, 0.4019294663806996, 1e-9);
  assert.doesNotMatch(c.test.method, /D − ε/);
  // The old profile computed the p-value at D − 0.0133: conservative, so power was lost.
  const old = column(profileOf(ref, V1_SKETCH), cur);
  assert.match(old.test.method, /at D − ε \(ε = 0\.0133/);
  assert.ok(old.test.pValue > 0.6, `old p = ${old.test.pValue}`);
});

test('regression: a one-hot share changing by less than 1.33 points is significant at volume (it never could be against the sketch)', () => {
  const ref = Float64Array.from(seq(30000, 7919, 13, 10000, 1), (v) => (v < 3000 ? 1 : 0));
  const cur = Float64Array.from(seq(100000, 104729, 7, 10000, 1), (v) => (v < 3120 ? 1 : 0));
  const c = column(profileOf(ref), cur);
  // scipy: ks_2samp → statistic=0.01200000000000001 pvalue=0.0025768750459229757 (asymptotic)
  close(c.test.statistic, 0.012, 1e-12);
  close(c.test.pValue, 0.0025768750459229757, 1e-9);
  assert.ok(c.test.pValueAdjusted < 0.05);
  assert.equal(c.status, 'significant, below the effect threshold');
  const old = column(profileOf(ref, V1_SKETCH), cur);
  assert.ok(old.test.pValue > 0.5, `against the old sketch D − ε leaves nothing: p = ${old.test.pValue}`);
});

test('normalised Wasserstein on a capital-loss-like column matches scipy within its stated error', () => {
  const a = seq(30000, 7919, 13, 10007, 1);
  const b = seq(30000, 104729, 7, 9973, 10, 1000);
  const ref = Float64Array.from(a, (v, i) => (v < 500 ? b[i]! : 0));
  const a2 = seq(2000, 7927, 3, 10009, 1);
  const b2 = seq(2000, 104723, 11, 9967, 7, 1200);
  const cur = Float64Array.from(a2, (v, i) => (v < 900 ? b2[i]! : 0));
  // scipy: wasserstein_distance(ref, cur) = 97.95143666666664, np.std(ref) = 331.98237487347023,
  // normalised = 0.2950501113319623
  const c = column(profileOf(ref), cur);
  const expected = 0.2950501113319623;
  const err = c.effect.error!;
  assert.equal(c.effect.metric, 'wasserstein');
  assert.ok(err >= 0 && err < 2e-3, `stated error ${err}`);
  assert.ok(Math.abs(c.effect.value - expected) <= err + 1e-12, `|${c.effect.value} − ${expected}| > ${err}`);
  close(c.stats.wasserstein!, 97.95143666666664, 1e-3);
  // Against the old sketch the effect was off by more than its own scale of error.
  const old = column(profileOf(ref, V1_SKETCH), cur);
  assert.ok(Math.abs(old.effect.value - expected) <= old.effect.error! + 1e-12, 'the sketch bound holds too, but is wide');
  assert.ok(old.effect.error! > 10 * err, `old error bound ${old.effect.error} vs ${err}`);
});

test('numeric PSI and Jensen–Shannon over quantile bins of the reference are numpy/scipy on the raw data', () => {
  const ref = seq(20000, 7919, 13, 10007, 100);
  const cur = seq(3000, 104729, 7, 9973, 90, 2);
  const c = column(profileOf(ref), cur);
  // numpy: 10 inverted-CDF quantile bins of ref, PSI with empty bins floored at 1e-4 → 0.07363721286656662
  close(c.stats.psi!, 0.07363721286656662, 1e-9);
  // scipy: jensenshannon(ref counts, cur counts, base=2) → 0.11441615585261501
  close(c.stats.jensen_shannon!, 0.11441615585261501, 1e-9);
});

test('berth.profile/v1 documents are still read, with a note saying how to rebuild them', () => {
  const ref = seq(8000, 7919, 13, 10007, 100);
  const v2 = profileOf(ref, V1_SKETCH);
  // What a v1 writer produced: format v1, the KLL levels as they are.
  const v1 = JSON.parse(JSON.stringify({ ...v2, format: 'berth.profile/v1' })) as unknown;
  const parsed = parseProfile(v1, 'old.profile.json');
  assert.equal(parsed.format, 'berth.profile/v1');
  assert.match(parsed.notes.join(' '), /old\.profile\.json is a berth\.profile\/v1 profile .* rebuild it \(berth reference/);
  const acc = new DriftAccumulator(parsed, { multivariate: { enabled: false } });
  acc.addColumns({ x: seq(500, 104729, 7, 9973, 100, 4) });
  const report = acc.evaluate();
  assert.ok(report.notes.some((n) => n.includes('berth.profile/v1')));
  assert.ok(report.reference.sketchRankError > 0.013);
});

test('the exact reference serialises as distinct values with counts: a one-hot column is two numbers', () => {
  const ref = Float64Array.from(seq(30000, 7919, 13, 10000, 1), (v) => (v < 3000 ? 1 : 0));
  const col = profileOf(ref).columns[0]!;
  assert.equal(col.type, 'numeric');
  if (col.type !== 'numeric') return;
  assert.deepEqual(col.sketch.values, [0, 1]);
  assert.deepEqual(col.sketch.counts, [21000, 9000]);
  assert.equal(col.sketch.levels, undefined);
});
