/**
 * Two-sample tests and distances checked against scipy 1.10.1 / numpy 1.24.2. Every expected
 * number below is printed by test/fixtures/drift/scipy_reference.py (run it with
 * /usr/bin/python3); the comment above each names the exact call.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ks2samp, ksTest } from '../../../src/drift/stats/ks.js';
import { cramerVonMises2samp } from '../../../src/drift/stats/cvm.js';
import { chi2Homogeneity, twoProportionZTest } from '../../../src/drift/stats/categorical.js';
import { hellinger, jensenShannon, normalizedWasserstein, psi } from '../../../src/drift/stats/distances.js';
import { sampleOf, wasserstein1 } from '../../../src/drift/stats/ecdf.js';
import { adjustPValues } from '../../../src/drift/stats/multiple.js';
import { close, seq } from './helpers.js';

const A25 = [0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77, 1.09, -1.28, 2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47];
const B20 = [2.2, 1.66, 1.38, 0.2, 0.36, 0, 0.96, 1.56, 0.44, 1.5, -0.28, 0.35, 1.57, 1.3, 0.87, 0.57, 0.98, 1.19, 1.2, 0.22];
const T1 = [1, 1, 2, 2, 3, 3, 3, 4];
const T2 = [2, 3, 3, 4, 4, 5, 5, 6, 6];

test('ks2samp matches scipy: exact, unequal sizes', () => {
  // scipy 1.10.1: stats.ks_2samp(A25, B20, method='auto') -> statistic=0.34 pvalue=0.12276281531463283
  const r = ks2samp(A25, B20);
  close(r.statistic, 0.34);
  close(r.pValue, 0.12276281531463283, 1e-10);
  assert.equal(r.method, 'exact');
});

test('ks2samp matches scipy: exact, equal sizes (prob outside square)', () => {
  // scipy 1.10.1: stats.ks_2samp(A25[:15], B20[:15]) -> statistic=0.5333333333333333 pvalue=0.026248485664288602
  const r = ks2samp(A25.slice(0, 15), B20.slice(0, 15));
  close(r.statistic, 0.5333333333333333);
  close(r.pValue, 0.026248485664288602, 1e-10);
});

test('ks2samp matches scipy with ties', () => {
  // scipy 1.10.1: stats.ks_2samp(T1, T2) -> statistic=0.5416666666666666 pvalue=0.10941999177293293
  const r = ks2samp(T1, T2);
  close(r.statistic, 0.5416666666666666);
  close(r.pValue, 0.10941999177293293, 1e-10);
});

test('ks2samp matches scipy: exact for 1000 vs 800', () => {
  // scipy 1.10.1: stats.ks_2samp(seq(1000,7919,13,10007,100), seq(800,104729,7,9973,100,3.0)) -> statistic=0.031 pvalue=0.7746644968061616
  const r = ks2samp(seq(1000, 7919, 13, 10007, 100), seq(800, 104729, 7, 9973, 100, 3));
  close(r.statistic, 0.031);
  close(r.pValue, 0.7746644968061616, 1e-9);
  assert.equal(r.method, 'exact');
});

test('ks2samp matches scipy: asymptotic (kstwo at round(mn/(m+n)))', () => {
  // scipy 1.10.1: stats.ks_2samp(seq(12000,7919,13,10007,100), seq(300,104729,7,9973,100,5.0)) -> statistic=0.07741666666666669 pvalue=0.0565473011817994
  const r1 = ks2samp(seq(12000, 7919, 13, 10007, 100), seq(300, 104729, 7, 9973, 100, 5));
  close(r1.statistic, 0.07741666666666669);
  close(r1.pValue, 0.0565473011817994, 1e-9);
  assert.equal(r1.method, 'asymp');
  // scipy 1.10.1: stats.ks_2samp(seq(20000,7919,13,10007,100), seq(15000,104729,7,9973,100,0.5)) -> statistic=0.005333333333333333 pvalue=0.9667243506219048
  const r2 = ks2samp(seq(20000, 7919, 13, 10007, 100), seq(15000, 104729, 7, 9973, 100, 0.5));
  close(r2.statistic, 0.005333333333333333);
  close(r2.pValue, 0.9667243506219048, 1e-9);
});

test('ks2samp: single-row sample, empty sample, all-NaN and constant columns give defined results', () => {
  // scipy 1.10.1: stats.ks_2samp([0.1,0.2,0.3],[0.25]) -> statistic=0.6666666666666666 pvalue=1.0
  const one = ks2samp([0.1, 0.2, 0.3], [0.25]);
  close(one.statistic, 0.6666666666666666);
  close(one.pValue, 1);
  const empty = ks2samp([1, 2, 3], []);
  assert.deepEqual([empty.statistic, empty.pValue, empty.reason], [0, 1, 'empty sample']);
  const nan = ks2samp([Number.NaN, Number.NaN], [1, 2]);
  assert.equal(nan.pValue, 1);
  assert.equal(nan.reason, 'empty sample');
  const constant = ks2samp([5, 5, 5, 5], [5, 5, 5]);
  assert.deepEqual([constant.statistic, constant.pValue], [0, 1]);
});

test('ksTest on weighted samples equals the raw test when weights are expanded', () => {
  const ref = { values: new Float64Array([1, 2, 3, 4]), weights: new Float64Array([2, 2, 2, 2]), total: 8 };
  const raw = ks2samp([1, 1, 2, 2, 3, 3, 4, 4], [2.5, 3.5, 4.5]);
  const weighted = ksTest(ref, sampleOf([2.5, 3.5, 4.5]));
  assert.equal(weighted.statistic, raw.statistic);
  assert.equal(weighted.pValue, raw.pValue);
});

test('cramervonmises_2samp matches scipy: exact and asymptotic', () => {
  // scipy 1.10.1: stats.cramervonmises_2samp(A25[:10], B20[:12]) -> statistic=0.23030303030303 pvalue=0.2320527769444178 (exact)
  const r1 = cramerVonMises2samp(A25.slice(0, 10), B20.slice(0, 12));
  close(r1.statistic, 0.23030303030303, 1e-12);
  close(r1.pValue, 0.2320527769444178, 1e-10);
  assert.equal(r1.method, 'exact');
  // scipy 1.10.1: stats.cramervonmises_2samp(T1, T2) -> statistic=0.6274509803921569 pvalue=0.018757712875359933 (exact, midranks)
  const r2 = cramerVonMises2samp(T1, T2);
  close(r2.statistic, 0.6274509803921569, 1e-12);
  close(r2.pValue, 0.018757712875359933, 1e-10);
  // scipy 1.10.1: stats.cramervonmises_2samp(A25, B20) -> statistic=0.5158518518518518 pvalue=0.036204752224827 (asymptotic)
  const r3 = cramerVonMises2samp(A25, B20);
  close(r3.statistic, 0.5158518518518518, 1e-12);
  close(r3.pValue, 0.036204752224827, 1e-6);
  assert.equal(r3.method, 'asymptotic');
  // scipy 1.10.1: stats.cramervonmises_2samp(A25, B20, method='exact') -> pvalue=0.03670723387469227
  close(cramerVonMises2samp(A25, B20, 'exact').pValue, 0.03670723387469227, 1e-10);
  // scipy 1.10.1: stats.cramervonmises_2samp(seq(1000,...), seq(800,...,3.0)) -> statistic=0.3088376157407424 pvalue=0.1277088893884467
  const r4 = cramerVonMises2samp(seq(1000, 7919, 13, 10007, 100), seq(800, 104729, 7, 9973, 100, 3));
  close(r4.statistic, 0.3088376157407424, 1e-9);
  close(r4.pValue, 0.1277088893884467, 1e-6);
});

test('cramervonmises_2samp: fewer than two values gives p = 1 with a reason', () => {
  const r = cramerVonMises2samp([1], [1, 2, 3]);
  assert.equal(r.pValue, 1);
  assert.match(r.reason ?? '', /at least two/);
});

test('chi-squared homogeneity matches scipy chi2_contingency(correction=False)', () => {
  // scipy 1.10.1: stats.chi2_contingency([[120,80,50,10],[30,25,20,5]], correction=False) -> statistic=2.8333333333333357 pvalue=0.4180420121237294 dof=3
  const r1 = chi2Homogeneity([120, 80, 50, 10], [30, 25, 20, 5]);
  close(r1.statistic, 2.8333333333333357, 1e-12);
  close(r1.pValue, 0.4180420121237294, 1e-10);
  assert.equal(r1.dof, 3);
  // scipy 1.10.1: stats.chi2_contingency([[10,5],[3,7]], correction=False) -> statistic=3.2318376068376073 pvalue=0.07221960851244569 dof=1
  // (our input has an extra all-zero category, which is dropped as scipy would reject it)
  const r2 = chi2Homogeneity([10, 0, 5], [3, 0, 7]);
  close(r2.statistic, 3.2318376068376073, 1e-12);
  close(r2.pValue, 0.07221960851244569, 1e-10);
  assert.equal(r2.dof, 1);
  assert.equal(chi2Homogeneity([0, 0], [0, 0]).pValue, 1);
  assert.equal(chi2Homogeneity([5, 0], [3, 0]).reason, 'fewer than two observed categories');
});

test('two-proportion z-test matches the formula with scipy.stats.norm and chi2_contingency 2x2', () => {
  // numpy/scipy 1.10.1: z=(30/200-50/210)/sqrt(p(1-p)(1/200+1/210)), p=80/410 -> z=-2.249919831824958, 2*norm.sf(|z|)=0.024454034789014437
  // cross-check: chi2_contingency([[30,170],[50,160]], correction=False) -> statistic=5.06213924963925 (= z²) pvalue=0.024454034789014506
  const r = twoProportionZTest(30, 200, 50, 210);
  close(r.statistic, -2.249919831824958, 1e-12);
  close(r.pValue, 0.024454034789014437, 1e-10);
  close(r.statistic ** 2, 5.06213924963925, 1e-12);
  assert.equal(twoProportionZTest(0, 10, 0, 20).pValue, 1);
  assert.equal(twoProportionZTest(0, 0, 1, 2).reason, 'empty sample');
});

test('PSI, Jensen–Shannon (base 2), Hellinger match numpy/scipy', () => {
  const R = [120, 80, 50, 10, 0];
  const C = [30, 25, 20, 5, 7];
  // numpy 1.24.2: r,c = proportions; floored at 1e-4; sum((c-r)*log(c/r)) -> 0.5873902697368788
  close(psi(R, C), 0.5873902697368788, 1e-12);
  // scipy 1.10.1: scipy.spatial.distance.jensenshannon(R, C, base=2) -> 0.22174363855260207
  close(jensenShannon(R, C), 0.22174363855260207, 1e-12);
  // numpy 1.24.2: sqrt(1 - sum(sqrt(r*c))) -> 0.2154949896640796
  close(hellinger(R, C), 0.2154949896640796, 1e-12);
  assert.equal(jensenShannon(R, R), 0);
  assert.equal(psi([0, 0], [0, 0]), 0);
  assert.equal(jensenShannon([0, 0], [1, 1]), 0.7071067811865476); // an empty side counts as all-zero proportions; still finite
});

test('Wasserstein-1 normalised by the reference std matches scipy', () => {
  // scipy 1.10.1: stats.wasserstein_distance(A25, B20) -> 0.7172999999999997; / np.std(A25) -> 0.6586271379444798
  const a = sampleOf(A25);
  const b = sampleOf(B20);
  close(wasserstein1(a, b), 0.7172999999999997, 1e-12);
  let mean = 0;
  for (const v of A25) mean += v / A25.length;
  let v2 = 0;
  for (const v of A25) v2 += (v - mean) ** 2 / A25.length;
  close(normalizedWasserstein(a, b, Math.sqrt(v2)).value, 0.6586271379444798, 1e-12);
  assert.deepEqual(normalizedWasserstein(sampleOf([3, 3]), sampleOf([3]), 0).value, 0);
  assert.deepEqual(normalizedWasserstein(sampleOf([3, 3]), sampleOf([4]), 0).value, 1);
});

test('Benjamini–Hochberg and Bonferroni adjusted p-values', () => {
  // numpy 1.24.2 implementation of R's p.adjust(method="BH") on [0.01,0.04,0.03,0.005,0.5,0.2] -> [0.03,0.06,0.06,0.03,0.5,0.24]
  const bh = adjustPValues([0.01, 0.04, 0.03, 0.005, 0.5, 0.2], 'bh');
  [0.03, 0.06, 0.06, 0.03, 0.5, 0.24].forEach((e, i) => close(bh[i]!, e, 1e-12));
  assert.deepEqual(adjustPValues([0.01, 0.3], 'bonferroni'), [0.02, 0.6]);
});
