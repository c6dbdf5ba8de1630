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
