/**
 * @module drift/reference
 * A profile prepared for repeated drift checks: per numeric column the distinct values of
 * its sketch (the grid current values are counted against) with the reference CDF at each,
 * quantile bin edges and std; per categorical column the category index; and the PCA fit.
 * Built once per profile; windows of current data then cost O(1) memory per column.
 */
import { CategoryCounts } from './sketch/categories.js';
import { QuantileSketch } from './sketch/kll.js';
import { encodingDimension, fitPca, PcaScorer, type PcaFit } from './multivariate.js';
import { quantileOf, type WeightedSample } from './stats/ecdf.js';
import type { ColumnProfile, Profile } from './profile.js';

export interface NumericReference {
  kind: 'numeric';
  profile: ColumnProfile & { type: 'numeric' };
  /** Distinct sketch values ascending, and the reference CDF (fraction ≤) at each. */
  grid: Float64Array;
  cdf: Float64Array;
  /** Weight (count) at each grid value. */
  weight: Float64Array;
  /** Values the sketch stands for (present, non-missing). */
  n: number;
  std: number;
  mean: number;
  /** Normalised rank error of the reference sketch (0 when exact). */
  rankError: number;
  exact: boolean;
  /** Indices into grid of the bin edges for `bins` quantile bins. */
  binEdgeIndex: (bins: number) => Int32Array;
  /** Number of grid values ≤ x (upper bound), via a bucket index: O(1) on average. */
  locate: (x: number) => number;
}

/**
 * Builds upperBound(grid, ·) accelerated by equal-width buckets over the grid's range:
 * bucket b starts at the first grid value above its left edge, so a lookup is one
 * multiplication and a short scan instead of ~10 unpredictable binary-search branches.
 */
function makeLocator(grid: Float64Array): (x: number) => number {
  const R = grid.length;
  if (R < 16) return (x) => upperBound(grid, x);
  const lo = grid[0]!;
  const hi = grid[R - 1]!;
  const B = 4 * R;
  const width = (hi - lo) / B;
  if (!(width > 0) || !Number.isFinite(width)) return (x) => upperBound(grid, x);
  const start = new Int32Array(B + 2);
  for (let b = 0; b <= B + 1; b++) start[b] = upperBound(grid, lo + b * width);
  const inv = 1 / width;
  return (x) => {
    if (x < lo) return 0;
    if (x >= hi) return R;
    const b = Math.floor((x - lo) * inv);
    let i = start[b]!;
    const end = start[b + 1]!;
    while (i > 0 && grid[i - 1]! > x) i--; // guards the rounding of floor((x − lo)/width)
    // grid[i−1] ≤ left edge of bucket b ≤ x; advance past values ≤ x inside the bucket.
    if (end - i > 8) {
      let l = i;
      let h = end;
      while (l < h) {
        const m = (l + h) >>> 1;
        if (grid[m]! <= x) l = m + 1;
        else h = m;
      }
      return l;
    }
    while (i < end && grid[i]! <= x) i++;
    return i;
  };
}

export interface CategoricalReference {
  kind: 'categorical';
  profile: ColumnProfile & { type: 'categorical' };
  categories: string[];
  index: Map<string, number>;
  counts: Float64Array;
  other: number;
  n: number;
  /** Categories seen exactly once (Good–Turing estimate of unseen mass = singletons / n). */
  singletons: number;
}

export type ColumnReference = NumericReference | CategoricalReference;

export interface PreparedReference {
  profile: Profile;
  columns: ColumnReference[];
  pca: {
    fit: PcaFit;
    scorer: PcaScorer;
    /** Profile column index of each encoding numeric / categorical column (−1 when absent). */
    numericColumns: number[];
    categoricalColumns: number[];
  } | null;
}

function prepareNumeric(col: ColumnProfile & { type: 'numeric' }): NumericReference {
  const sketch = QuantileSketch.fromJSON(col.sketch);
  // Exact: the distinct values weighted by their counts (the same ECDF, one grid point each).
  let s: WeightedSample;
  if (sketch.isExact) {
    const { values, counts } = sketch.distinct();
    s = { values, weights: counts, total: sketch.n };
  } else s = sketch.toSample();
  const gridList: number[] = [];
  const wList: number[] = [];
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i]!;
    const w = s.weights === null ? 1 : s.weights[i]!;
    if (gridList.length > 0 && gridList[gridList.length - 1] === v) wList[wList.length - 1]! += w;
    else {
      gridList.push(v);
      wList.push(w);
    }
  }
  const grid = Float64Array.from(gridList);
  const weight = Float64Array.from(wList);
  const cdf = new Float64Array(grid.length);
  let c = 0;
  for (let i = 0; i < grid.length; i++) {
    c += weight[i]!;
    cdf[i] = s.total > 0 ? c / s.total : 0;
  }
  const count = col.summary.count;
  const std = count > 1 ? Math.sqrt(Math.max(0, col.summary.m2) / count) : 0;
  const cache = new Map<number, Int32Array>();
  const binEdgeIndex = (bins: number): Int32Array => {
    let out = cache.get(bins);
    if (out !== undefined) return out;
    const idx: number[] = [];
    for (let j = 1; j < bins; j++) {
      const q = quantileOf(s, j / bins);
      if (Number.isNaN(q)) continue;
      const gi = upperBound(grid, q) - 1;
      if (gi >= 0 && gi < grid.length - 1 && (idx.length === 0 || idx[idx.length - 1]! < gi)) idx.push(gi);
    }
    out = Int32Array.from(idx);
    cache.set(bins, out);
    return out;
  };
  return { kind: 'numeric', profile: col, grid, cdf, weight, n: s.total, std, mean: col.summary.mean, rankError: sketch.rankError, exact: sketch.isExact, binEdgeIndex, locate: makeLocator(grid) };
}

function prepareCategorical(col: ColumnProfile & { type: 'categorical' }): CategoricalReference {
  const cc = CategoryCounts.fromJSON(col.categories);
  const sorted = cc.sorted();
  const categories = sorted.map(([v]) => v);
  let singletons = 0;
  for (const [, n] of sorted) if (n === 1) singletons++;
  return {
    kind: 'categorical',
    profile: col,
    categories,
    index: new Map(categories.map((v, i) => [v, i])),
    counts: Float64Array.from(sorted.map(([, n]) => n)),
    other: cc.other,
    n: cc.total,
    singletons,
  };
}

/** Number of grid values ≤ x. */
export function upperBound(grid: Float64Array, x: number): number {
  let lo = 0;
  let hi = grid.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (grid[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function prepareReference(profile: Profile, varianceExplained = 0.65): PreparedReference {
  const columns = profile.columns.map((c) => (c.type === 'numeric' ? prepareNumeric(c) : prepareCategorical(c)));
  let pca: PreparedReference['pca'] = null;
  const mv = profile.multivariate;
  if (mv !== null) {
    const fit = fitPca(mv.n, mv.sums, mv.products, encodingDimension(mv.encoding), varianceExplained);
    if (fit !== null && fit.referenceError > 1e-9) {
      const byName = new Map(profile.columns.map((c, i) => [c.name, i]));
      pca = {
        fit,
        scorer: new PcaScorer(fit, mv.encoding),
        numericColumns: mv.encoding.numeric.map((n) => byName.get(n.name) ?? -1),
        categoricalColumns: mv.encoding.categorical.map((n) => byName.get(n.name) ?? -1),
      };
    }
  }
  return { profile, columns, pca };
}
