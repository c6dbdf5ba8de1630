/**
 * @module drift/stats/ecdf
 * Weighted empirical distributions and the statistics that compare two of them by a walk
 * over their merged sorted values: the Kolmogorov–Smirnov distance, the Cramér–von Mises
 * integral and the Wasserstein-1 distance. A raw sample is a weighted sample whose weights
 * are all 1; a KLL sketch is one whose weights are powers of two. One code path serves both.
 */

/** A sample sorted ascending; `weights` null means every value has weight 1. */
export interface WeightedSample {
  readonly values: Float64Array;
  readonly weights: Float64Array | null;
  /** Sum of the weights (the sample size the sample stands for). */
  readonly total: number;
}

/** Sorts a copy of the finite values of `data` into a unit-weight sample. */
export function sampleOf(data: ArrayLike<number>): WeightedSample {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (Number.isFinite(data[i])) n++;
  const values = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (Number.isFinite(v)) values[j++] = v;
  }
  values.sort();
  return { values, weights: null, total: n };
}

/** Weight of the value at index i. */
function w(s: WeightedSample, i: number): number {
  return s.weights === null ? 1 : s.weights[i]!;
}

/**
 * Calls `visit(x, fa, fb, wa, wb)` once per distinct value x of the union, in ascending
 * order, with the right-continuous CDFs of a and b at x and the weight each has at x.
 */
export function walkUnion(
  a: WeightedSample,
  b: WeightedSample,
  visit: (x: number, fa: number, fb: number, wa: number, wb: number) => void,
): void {
  const av = a.values;
  const bv = b.values;
  let i = 0;
  let j = 0;
  let ca = 0;
  let cb = 0;
  const ta = a.total;
  const tb = b.total;
  while (i < av.length || j < bv.length) {
    const x = j >= bv.length || (i < av.length && av[i]! <= bv[j]!) ? av[i]! : bv[j]!;
    let wa = 0;
    let wb = 0;
    while (i < av.length && av[i] === x) wa += w(a, i++);
    while (j < bv.length && bv[j] === x) wb += w(b, j++);
    ca += wa;
    cb += wb;
    visit(x, ta > 0 ? ca / ta : 0, tb > 0 ? cb / tb : 0, wa, wb);
  }
}

/** Two-sided KS statistic sup |F_a − F_b| (0 when either sample is empty). */
export function ksStatistic(a: WeightedSample, b: WeightedSample): number {
  if (a.total <= 0 || b.total <= 0) return 0;
  let d = 0;
  walkUnion(a, b, (_x, fa, fb) => {
    const diff = Math.abs(fa - fb);
    if (diff > d) d = diff;
  });
  return Math.min(d, 1);
}

/**
 * Wasserstein-1 distance ∫|F_a − F_b| dx (scipy `wasserstein_distance`). 0 when either
 * sample is empty.
 */
export function wasserstein1(a: WeightedSample, b: WeightedSample): number {
  if (a.total <= 0 || b.total <= 0) return 0;
  let prevX = 0;
  let prevDiff = 0;
  let first = true;
  let sum = 0;
  walkUnion(a, b, (x, fa, fb) => {
    if (!first) sum += (x - prevX) * prevDiff;
    first = false;
    prevX = x;
    prevDiff = Math.abs(fa - fb);
  });
  return sum;
}

/**
 * Anderson's two-sample Cramér–von Mises T = (mn/N)·∫(F_a − F_b)² dH_N, with H_N the
 * pooled empirical distribution. Equals scipy's rank formula when there are no ties.
 */
export function cvmStatistic(a: WeightedSample, b: WeightedSample): number {
  const m = a.total;
  const n = b.total;
  if (m <= 0 || n <= 0) return 0;
  const N = m + n;
  let integral = 0;
  walkUnion(a, b, (_x, fa, fb, wa, wb) => {
    const d = fa - fb;
    integral += ((wa + wb) / N) * d * d;
  });
  return ((m * n) / N) * integral;
}

/** Right-continuous CDF of a weighted sample at x (fraction of weight ≤ x). */
export function cdfAt(s: WeightedSample, x: number): number {
  if (s.total <= 0) return 0;
  const v = s.values;
  let lo = 0;
  let hi = v.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  if (s.weights === null) return lo / s.total;
  let c = 0;
  for (let i = 0; i < lo; i++) c += s.weights[i]!;
  return c / s.total;
}

/** Cumulative weights (prefix sums), for repeated CDF queries on a weighted sample. */
export function cumulativeWeights(s: WeightedSample): Float64Array {
  const out = new Float64Array(s.values.length);
  let c = 0;
  for (let i = 0; i < out.length; i++) {
    c += w(s, i);
    out[i] = c;
  }
  return out;
}

/**
 * Quantile (inverse CDF, lower) of a weighted sample: the smallest value whose cumulative
 * fraction reaches q. NaN for an empty sample.
 */
export function quantileOf(s: WeightedSample, q: number): number {
  const v = s.values;
  if (v.length === 0) return Number.NaN;
  const target = q * s.total;
  let c = 0;
  for (let i = 0; i < v.length; i++) {
    c += w(s, i);
    if (c >= target) return v[i]!;
  }
  return v[v.length - 1]!;
}

/**
 * Counts of a weighted sample in bins given by ascending edges: bin i holds values in
 * (edges[i−1], edges[i]], the first bin everything ≤ edges[0], the last everything
 * > the last edge. Returns edges.length + 1 counts.
 */
export function binCounts(s: WeightedSample, edges: ArrayLike<number>): Float64Array {
  const out = new Float64Array(edges.length + 1);
  const v = s.values;
  let b = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    while (b < edges.length && x > edges[b]!) b++;
    out[b] = out[b]! + w(s, i);
  }
  return out;
}
