/**
 * @module drift/stats/categorical
 * Tests on counts: the chi-squared homogeneity test of a 2×k contingency table (reference
 * counts vs current counts, no Yates correction, as scipy's
 * `chi2_contingency(correction=False)`), and the pooled two-proportion z-test.
 */
import { chi2Sf, normalSf } from './distributions.js';


export interface CountTestResult {
  statistic: number;
  pValue: number;
  /** Degrees of freedom (chi-squared) or 0 (z-test). */
  dof: number;
  reason?: string;
}

/**
 * Chi-squared homogeneity test of two count vectors over the same categories. Categories
 * empty in both are dropped (their expected count is 0); fewer than two non-empty
 * categories, or an empty sample, give statistic 0 and p = 1 with a reason.
 */
export function chi2Homogeneity(ref: ArrayLike<number>, cur: ArrayLike<number>): CountTestResult {
  if (ref.length !== cur.length) throw new RangeError(`chi2Homogeneity: ${ref.length} reference counts vs ${cur.length} current counts`);
  let nr = 0;
  let nc = 0;
  let k = 0;
  for (let i = 0; i < ref.length; i++) {
    nr += ref[i]!;
    nc += cur[i]!;
    if (ref[i]! + cur[i]! > 0) k++;
  }
  if (nr <= 0 || nc <= 0) return { statistic: 0, pValue: 1, dof: 0, reason: 'empty sample' };
  if (k < 2) return { statistic: 0, pValue: 1, dof: 0, reason: 'fewer than two observed categories' };
  const n = nr + nc;
  let stat = 0;
  for (let i = 0; i < ref.length; i++) {
    const col = ref[i]! + cur[i]!;
    if (col <= 0) continue;
    const er = (col * nr) / n;
    const ec = (col * nc) / n;
    stat += (ref[i]! - er) ** 2 / er + (cur[i]! - ec) ** 2 / ec;
  }
  const dof = k - 1;
  return { statistic: stat, pValue: chi2Sf(stat, dof), dof };
}

/**
 * Two-sided pooled two-proportion z-test of x1/n1 vs x2/n2. Identical proportions (or
 * pooled proportion 0 or 1) give z = 0, p = 1.
 */
export function twoProportionZTest(x1: number, n1: number, x2: number, n2: number): CountTestResult {
  if (!(n1 > 0) || !(n2 > 0)) return { statistic: 0, pValue: 1, dof: 0, reason: 'empty sample' };
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const p = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
  if (!(se > 0)) return { statistic: 0, pValue: 1, dof: 0, reason: p1 === p2 ? 'identical proportions' : 'pooled proportion is 0 or 1' };
  const z = (p1 - p2) / se;
  return { statistic: z, pValue: Math.min(1, 2 * normalSf(Math.abs(z))), dof: 0 };
}

/**
 * Pools categories whose expected current count (n·p_ref) is below `minExpected` into one
 * bucket (Cochran's rule), so the chi-squared approximation holds for small samples. The
 * last input bucket (overflow / unseen) is always pooled. Returns the pooled vectors.
 */
export function poolSparse(ref: ArrayLike<number>, cur: ArrayLike<number>, minExpected = 5): { ref: number[]; cur: number[] } {
  let nr = 0;
  let nc = 0;
  for (let i = 0; i < ref.length; i++) {
    nr += ref[i]!;
    nc += cur[i]!;
  }
  const outR: number[] = [];
  const outC: number[] = [];
  let poolR = 0;
  let poolC = 0;
  for (let i = 0; i < ref.length; i++) {
    const expected = nr > 0 ? (nc * ref[i]!) / nr : 0;
    if (i < ref.length - 1 && expected >= minExpected) {
      outR.push(ref[i]!);
      outC.push(cur[i]!);
    } else {
      poolR += ref[i]!;
      poolC += cur[i]!;
    }
  }
  if (poolR + poolC > 0) {
    outR.push(poolR);
    outC.push(poolC);
  }
  return { ref: outR, cur: outC };
}

/** log C(n, k) by log-gamma-free summation (exact enough for n ≤ 1e7). */
function logBinomPmf(n: number, k: number, p: number): number {
  let lc = 0;
  const kk = Math.min(k, n - k);
  for (let i = 1; i <= kk; i++) lc += Math.log((n - kk + i) / i);
  return lc + (k > 0 ? k * Math.log(p) : 0) + (n - k > 0 ? (n - k) * Math.log1p(-p) : 0);
}

/**
 * Two-sided exact binomial test of x successes in n trials against a known rate p (the
 * reference rate, estimated from a much larger sample): P of outcomes no more likely
 * than x, as R's binom.test. Used for missing rates when expected counts are small.
 */
export function binomialTest(x: number, n: number, p: number): CountTestResult {
  if (!(n > 0)) return { statistic: 0, pValue: 1, dof: 0, reason: 'empty sample' };
  if (p <= 0) return { statistic: x, pValue: x === 0 ? 1 : 0, dof: 0 };
  if (p >= 1) return { statistic: x, pValue: x === n ? 1 : 0, dof: 0 };
  const lx = logBinomPmf(n, x, p);
  // pmf(k) computed incrementally from pmf(0) in log space.
  let logPmf = n * Math.log1p(-p);
  const ratio = Math.log(p) - Math.log1p(-p);
  let total = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) logPmf += Math.log((n - k + 1) / k) + ratio;
    if (logPmf <= lx + 1e-7) total += Math.exp(logPmf);
  }
  return { statistic: x, pValue: Math.min(1, total), dof: 0 };
}
