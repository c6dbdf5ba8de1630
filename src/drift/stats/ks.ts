/**
 * @module drift/stats/ks
 * Two-sample Kolmogorov–Smirnov test, two-sided, with scipy's `ks_2samp(method='auto')`
 * p-value: exact (Hodges' lattice-path counts) when both samples have ≤ 10 000 values,
 * otherwise the exact one-sample Kolmogorov distribution at n = round(mn/(m+n)).
 */
import { kstwoSf } from './distributions.js';
import { ksStatistic, sampleOf, type WeightedSample } from './ecdf.js';

export type KsMethod = 'auto' | 'exact' | 'asymp';

export interface KsResult {
  statistic: number;
  pValue: number;
  /** Which p-value computation ran. */
  method: 'exact' | 'asymp' | 'none';
  /** Set when the result is a defined fallback (empty sample, …) rather than a test. */
  reason?: string;
}

const MAX_AUTO_N = 10000;
const INT32_MAX = 2147483647;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Pr(D_{n,n} ≥ h/n): proportion of lattice paths leaving the band |x − y| < h (scipy `_compute_prob_outside_square`). */
export function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  let k = Math.floor(n / h);
  while (k >= 0) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
    k -= 1;
  }
  return 2 * P;
}

/**
 * Proportion of lattice paths from (0,0) to (m,n) that do not stay strictly inside
 * |x/m − y/n| < h/lcm(m,n) (scipy `_compute_outer_prob_inside_method`, Viehmann's
 * recursion for 1 − p).
 */
export function probOutsideInsideMethod(m0: number, n0: number, g: number, h: number): number {
  let m = m0;
  let n = n0;
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  for (let j = minj; j < maxj; j++) A[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.max(Math.floor((ng * i - h) / mg) + 1, 0);
    minj = Math.min(minj, n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj]! * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) {
      for (let t = maxj - minj; t < maxj - minj + (lastlen - curlen) && t < lenA; t++) A[t] = 1;
    }
  }
  return A[maxj - minj - 1]!;
}

/**
 * p-value of a two-sided two-sample KS statistic `d` for sample sizes n1, n2, chosen as
 * scipy does. Returns the (possibly lattice-rounded) statistic with it.
 */
export function ksPValue(d: number, n1: number, n2: number, method: KsMethod = 'auto'): KsResult {
  if (!(n1 >= 1) || !(n2 >= 1)) return { statistic: 0, pValue: 1, method: 'none', reason: 'empty sample' };
  let mode: 'exact' | 'asymp';
  const g = gcd(n1, n2);
  const n1g = n1 / g;
  const n2g = n2 / g;
  if (method === 'auto') mode = Math.max(n1, n2) <= MAX_AUTO_N ? 'exact' : 'asymp';
  else if (method === 'exact' && n1g >= INT32_MAX / n2g) mode = 'asymp';
  else mode = method;
  if (mode === 'exact') {
    const lcm = n1g * n2;
    const h = Math.round(d * lcm);
    const dr = h / lcm;
    if (h === 0) return { statistic: dr, pValue: 1, method: 'exact' };
    const prob = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideInsideMethod(n1, n2, g, h);
    if (Number.isFinite(prob) && prob >= 0 && prob <= 1) return { statistic: dr, pValue: prob, method: 'exact' };
    d = dr; // exact failed numerically: fall through to the asymptotic distribution
  }
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  const p = kstwoSf(d, Math.max(1, Math.round(en)));
  return { statistic: d, pValue: Math.min(1, Math.max(0, p)), method: 'asymp' };
}

/** Two-sample KS test on raw values (non-finite values are left out). */
export function ks2samp(a: ArrayLike<number>, b: ArrayLike<number>, method: KsMethod = 'auto'): KsResult {
  return ksTest(sampleOf(a), sampleOf(b), method);
}

/** Two-sample KS test on weighted samples; sample sizes are the weight totals. */
export function ksTest(a: WeightedSample, b: WeightedSample, method: KsMethod = 'auto'): KsResult {
  if (a.total < 1 || b.total < 1) return { statistic: 0, pValue: 1, method: 'none', reason: 'empty sample' };
  const d = ksStatistic(a, b);
  return ksPValue(d, Math.round(a.total), Math.round(b.total), method);
}
