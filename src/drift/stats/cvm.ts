/**
 * @module drift/stats/cvm
 * Two-sample Cramér–von Mises test as scipy's `cramervonmises_2samp(method='auto')`:
 * exact p-value (Xiao, Gordon & Yakovlev 2006) when both samples have ≤ 20 values,
 * otherwise Anderson's normalisation of T against the limiting CvM distribution.
 */
import { cvmInfCdf } from './distributions.js';
import { cvmStatistic, sampleOf, type WeightedSample } from './ecdf.js';

export interface CvmResult {
  statistic: number;
  pValue: number;
  method: 'exact' | 'asymptotic' | 'none';
  reason?: string;
}

/** Midranks of a sorted pooled array (average rank for ties), 1-based. */
function midranks(sorted: Float64Array): Float64Array {
  const r = new Float64Array(sorted.length);
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[i]) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) r[t] = avg;
    i = j + 1;
  }
  return r;
}

/** Binomial coefficient as a double (exact below 2^53). */
function binom(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return Math.round(c);
}

/** Exact p-value P(U ≥ u) under H0 for sample sizes m, n (scipy `_pval_cvm_2samp_exact`). */
export function cvmExactPValue(u: number, m: number, n: number): number {
  const g = gcdInt(m, n);
  const lcm = (m / g) * n;
  const a = lcm / m;
  const b = lcm / n;
  const mn = m * n;
  const zeta = Math.floor((lcm * lcm * (m + n) * (6 * u - mn * (4 * mn - 1))) / (6 * mn * mn));
  const combinations = binom(m + n, m);
  // gs[v]: frequency table value → count of g⁺_{u,v} (Xiao et al. p. 6)
  let gs: Map<number, number>[] = [new Map([[0, 1]])];
  for (let v = 0; v < m; v++) gs.push(new Map());
  for (let uu = 0; uu <= n; uu++) {
    const next: Map<number, number>[] = [];
    let tmp = new Map<number, number>();
    for (let v = 0; v < gs.length; v++) {
      const merged = new Map(tmp);
      for (const [val, cnt] of gs[v]!) merged.set(val, (merged.get(val) ?? 0) + cnt);
      const shift = (a * v - b * uu) ** 2;
      tmp = new Map();
      for (const [val, cnt] of merged) tmp.set(val + shift, cnt);
      next.push(tmp);
    }
    gs = next;
  }
  let count = 0;
  for (const [val, cnt] of gs[m]!) if (val >= zeta) count += cnt;
  return count / combinations;
}

function gcdInt(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Asymptotic p-value of T for sample sizes nx, ny (Anderson 1962 eqs. 11, 14, 15). */
export function cvmAsymptoticPValue(t: number, nx: number, ny: number): number {
  const k = nx * ny;
  const N = nx + ny;
  const et = (1 + 1 / N) / 6;
  let vt = (N + 1) * (4 * k * N - 3 * (nx * nx + ny * ny) - 2 * k);
  vt = vt / (45 * N * N * 4 * k);
  const tn = 1 / 6 + (t - et) / Math.sqrt(45 * vt);
  if (tn < 0.003) return 1;
  return Math.max(0, 1 - cvmInfCdf(tn));
}

/** Two-sample CvM on raw values, midranks for ties (non-finite values left out). */
export function cramerVonMises2samp(x: ArrayLike<number>, y: ArrayLike<number>, method: 'auto' | 'exact' | 'asymptotic' = 'auto'): CvmResult {
  const xs = sampleOf(x).values;
  const ys = sampleOf(y).values;
  const nx = xs.length;
  const ny = ys.length;
  if (nx <= 1 || ny <= 1) return { statistic: 0, pValue: 1, method: 'none', reason: 'each sample needs at least two values' };
  const pooled = new Float64Array(nx + ny);
  pooled.set(xs);
  pooled.set(ys, nx);
  // Rank each original element in the pooled sorted order.
  const order = Array.from(pooled.keys()).sort((i, j) => pooled[i]! - pooled[j]!);
  const sortedPooled = new Float64Array(order.map((i) => pooled[i]!));
  const mr = midranks(sortedPooled);
  const rank = new Float64Array(nx + ny);
  order.forEach((orig, pos) => (rank[orig] = mr[pos]!));
  let u = 0;
  for (let i = 0; i < nx; i++) u += (rank[i]! - (i + 1)) ** 2;
  u *= nx;
  let uy = 0;
  for (let j = 0; j < ny; j++) uy += (rank[nx + j]! - (j + 1)) ** 2;
  u += ny * uy;
  const k = nx * ny;
  const N = nx + ny;
  const t = u / (k * N) - (4 * k - 1) / (6 * N);
  const mode = method === 'auto' ? (Math.max(nx, ny) > 20 ? 'asymptotic' : 'exact') : method;
  const p = mode === 'exact' ? cvmExactPValue(u, nx, ny) : cvmAsymptoticPValue(t, nx, ny);
  return { statistic: t, pValue: p, method: mode };
}

/**
 * CvM test on weighted samples (sketches): T from the ECDF integral; exact p-value only
 * for small unit-weight samples, else asymptotic.
 */
export function cvmTest(a: WeightedSample, b: WeightedSample): CvmResult {
  const m = Math.round(a.total);
  const n = Math.round(b.total);
  if (m <= 1 || n <= 1) return { statistic: 0, pValue: 1, method: 'none', reason: 'each sample needs at least two values' };
  if (a.weights === null && b.weights === null && Math.max(m, n) <= 20) return cramerVonMises2samp(a.values, b.values);
  const t = cvmStatistic(a, b);
  return { statistic: t, pValue: cvmAsymptoticPValue(t, m, n), method: 'asymptotic' };
}
