/**
 * Distribution functions checked against scipy 1.10.1: every expected value is printed by
 * test/fixtures/drift/scipy_distributions_reference.py (run with /usr/bin/python3).
 */
import { test } from 'node:test';
import { besselKScaled, chi2Sf, cvmInfCdf, gammaQ, kolmogorovSf, kstwoSf, logGamma, normalSf, smirnovSf } from '../../../src/drift/stats/distributions.js';
import { close } from './helpers.js';

function table(fn: (...a: number[]) => number, cases: number[][], expected: number[], rel: number, name: string, abs = 1e-300): void {
  cases.forEach((args, i) => close(fn(...args), expected[i]!, rel, abs, `${name}(${args.join(', ')})`));
}

test('logGamma matches scipy.special.gammaln', () => {
  // scipy 1.10.1: special.gammaln([0.5, 1, 3.7, 10.5, 100.25, 1e4])
  table(logGamma, [[0.5], [1], [3.7], [10.5], [100.25], [1e4]], [0.5723649429247, 0.0, 1.428072326665388, 13.940625219403763, 360.28455963776423, 82099.71749644238], 1e-13, 'gammaln', 1e-14);
});

test('regularized upper incomplete gamma matches scipy.special.gammaincc', () => {
  // scipy 1.10.1: special.gammaincc(a, x) for (0.5,0.1),(0.5,4),(3,2.5),(10,25),(50,40),(500,600)
  table(gammaQ, [[0.5, 0.1], [0.5, 4], [3, 2.5], [10, 25], [50, 40], [500, 600]], [0.6547208460185768, 0.004677734981047276, 0.5438131158833297, 0.0002214766382487835, 0.9296649333406051, 1.2255942330622893e-05], 1e-11, 'gammaincc');
});

test('chi-squared survival function matches scipy.stats.chi2.sf', () => {
  // scipy 1.10.1: stats.chi2.sf(x, k) for (3.84,1),(10,3),(0.5,2),(100,80),(300,20),(1e-3,5)
  table(chi2Sf, [[3.84, 1], [10, 3], [0.5, 2], [100, 80], [300, 20], [1e-3, 5]], [0.05004352124870519, 0.01856613546304325, 0.7788007830714049, 0.064570368921133, 8.082849629775851e-52, 0.9999999983185123], 1e-11, 'chi2.sf');
});

test('normal survival function matches scipy.stats.norm.sf', () => {
  // scipy 1.10.1: stats.norm.sf([-3,-0.5,0,0.5,1.96,5,10,30])
  table(normalSf, [[-3], [-0.5], [0], [0.5], [1.96], [5], [10], [30]], [0.9986501019683699, 0.6914624612740131, 0.5, 0.3085375387259869, 0.024997895148220435, 2.866515718791933e-07, 7.61985302416047e-24, 4.906713927147908e-198], 1e-11, 'norm.sf');
});

test('Kolmogorov limit distribution matches scipy.stats.kstwobign.sf', () => {
  // scipy 1.10.1: stats.kstwobign.sf([0.2,0.5,0.8,1.0,1.36,2,3])
  table(kolmogorovSf, [[0.2], [0.5], [0.8], [1], [1.36], [2], [3]], [0.999999999999495, 0.9639452436648751, 0.5441424115741981, 0.26999967167735456, 0.049485876755377876, 0.0006709252557796953, 3.045995948942526e-08], 1e-12, 'kstwobign.sf');
});

test('exact one-sample Kolmogorov distribution matches scipy.stats.kstwo.sf in every algorithm branch', () => {
  // scipy 1.10.1: stats.kstwo.sf(x, n)
  const cases = [[0.3, 10], [0.05, 100], [0.1, 100], [0.2, 100], [0.3, 100], [0.6, 10], [0.05, 141], [0.15, 141], [0.01, 5000], [0.02, 5000], [0.03, 5000], [0.005, 50000], [0.008, 50000], [0.001, 200000], [0.003, 200000], [0.08, 1000], [0.95, 10], [0.07, 10]];
  const expected = [0.27053557479999946, 0.9532159710635725, 0.2526927570063874, 0.0005551927327988775, 1.7719869892662917e-08, 0.0005681672000000003, 0.8548456930096628, 0.0031058623613645147, 0.6954557253913853, 0.03613941395325637, 0.00024159234422666817, 0.1635336349243478, 0.003305231279334067, 0.9881500208855729, 0.0545369786611305, 5.154189384789824e-06, 1.9531250000000172e-13, 0.9999999619492741];
  table((x, n) => kstwoSf(x!, n!), cases, expected, 1e-9, 'kstwo.sf');
});

test('one-sided Smirnov distribution matches scipy.special.smirnov', () => {
  // scipy 1.10.1: special.smirnov(n, x) for (10,0.3),(100,0.1),(1000,0.05),(5000,0.02),(20,0.9)
  table(smirnovSf, [[10, 0.3], [100, 0.1], [1000, 0.05], [5000, 0.02], [20, 0.9]], [0.1354635556, 0.1265906584562817, 0.006506037390545166, 0.01806981293722266, 1.0003433227539019e-20], 1e-10, 'smirnov');
});

test('Cramér–von Mises limit CDF and its Bessel function match scipy', () => {
  // scipy 1.10.1: scipy.stats._hypotests._cdf_cvm_inf([0.01,0.05,0.1,0.2,0.461,0.743,1.0,2.0])
  table(cvmInfCdf, [[0.01], [0.05], [0.1], [0.2], [0.461], [0.743], [1.0], [2.0]], [5.86443281e-06, 0.12371907, 0.41512656, 0.73252957, 0.94989287, 0.98997448, 0.99753955, 0.99998722], 1e-7, '_cdf_cvm_inf');
  // scipy 1.10.1: special.kve(0.25, [0.01, 0.5, 3, 40])
  table((q) => besselKScaled(0.25, q!), [[0.01], [0.5], [3], [40]], [6.227707994041582, 1.5832939515157707, 0.7041397945021687, 0.19770810462750407], 1e-12, 'kve');
});
