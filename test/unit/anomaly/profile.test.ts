/**
 * The anomaly profile's multivariate score against scipy, and its calibration: the
 * threshold is numpy's quantile of the training rows' own scores.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAnomalyProfile, mahalanobis2, quantileSorted, type OodModel } from '../../../src/anomaly/profile.js';

// Reference values: Debian's python3 (numpy 1.24, scipy 1.10):
//   C = np.cov(X, rowvar=False, ddof=1); ridge = 0.01 * np.trace(C) / 3; P = np.linalg.inv(C + ridge * np.eye(3))
//   scipy.spatial.distance.mahalanobis(x, X.mean(0), P) ** 2, and np.quantile(scores, q) over the rows' own scores.
const X = [[1.0, 2.0, 0.5], [2.0, 1.5, 1.0], [0.5, 3.0, 0.0], [1.5, 2.5, 1.5], [3.0, 1.0, 0.5], [2.5, 2.0, 1.0]];
const RIDGE = 0.0055000000000000005;
const D2_OF_4_0_2 = 12.58223743976274;
const ROW_SCORES = [2.016378278276873, 1.2761816872626623, 3.5826118870221473, 2.8276063156716296, 2.851864630844622, 2.016378278276873];
const Q99 = 3.546074524213271;

test('Mahalanobis distance² with the ridge equals scipy\'s, and the threshold is numpy\'s 0.99 quantile of the rows\' scores', () => {
  const data = Float64Array.from(X.flat());
  const p = buildAnomalyProfile(data, 6, 3, { input: 'x', quantile: 0.99 });
  const ood = p.ood as OodModel;
  assert.equal(ood.method, 'mahalanobis');
  assert.ok(Math.abs(ood.ridge - RIDGE) < 1e-15);
  const z = new Float64Array(3);
  assert.ok(Math.abs(mahalanobis2([4, 0, 2], 0, ood.mean, ood.precision, 3, z) - D2_OF_4_0_2) < 1e-9);
  for (let r = 0; r < 6; r++) assert.ok(Math.abs(mahalanobis2(data, r * 3, ood.mean, ood.precision, 3, z) - ROW_SCORES[r]!) < 1e-9, `row ${r}`);
  assert.ok(Math.abs(ood.threshold - Q99) < 1e-9);
  assert.deepEqual(p.elements, { min: [0.5, 1.0, 0.0], max: [3.0, 3.0, 1.5] });
});

test('quantiles interpolate like numpy\'s default', () => {
  // np.quantile([1, 2, 4, 8], [0, 0.25, 0.5, 0.9, 1]) = [1, 1.75, 3, 6.8, 8]
  const s = [1, 2, 4, 8];
  assert.deepEqual([0, 0.25, 0.5, 0.9, 1].map((q) => quantileSorted(s, q)).map((v) => Math.round(v * 1e12) / 1e12), [1, 1.75, 3, 6.8, 8]);
});

test('on many rows drawn like the training rows, about (1 − quantile) of them score above the threshold', () => {
  // Seeded correlated Gaussian rows; the threshold is calibrated on the first half and checked on the second.
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed + 0.5) / 2 ** 32;
  };
  const gauss = (): number => Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand());
  const n = 20_000;
  const rows = new Float64Array(2 * n * 4);
  for (let r = 0; r < 2 * n; r++) {
    const a = gauss();
    const b = gauss();
    rows.set([a, a + 0.5 * b, gauss(), 2 * b], r * 4);
  }
  const p = buildAnomalyProfile(rows.subarray(0, n * 4), n, 4, { input: 'x', quantile: 0.99 });
  const ood = p.ood as OodModel;
  const z = new Float64Array(4);
  let above = 0;
  for (let r = n; r < 2 * n; r++) if (mahalanobis2(rows, r * 4, ood.mean, ood.precision, 4, z) > ood.threshold) above++;
  // Binomial(20000, 0.01): sd ≈ 14 rows; ±5 sd.
  assert.ok(Math.abs(above - 200) < 70, `${above} of ${n} held-out rows above the threshold`);
});
