/**
 * @module anomaly/profile
 * What the anomaly layer knows about a version's training data, shipped beside the model as
 * `<model>/<N>/anomaly.profile.json` (written by `berth reference`): the range of every
 * input element and raw numeric field, the categories seen, and a multivariate
 * out-of-distribution score — the Mahalanobis distance² of a row from the training rows'
 * mean under their (ridge-regularised) covariance — with its threshold calibrated on the
 * training rows themselves, so that a set share of them (1% by default) lies above it.
 */
import { BerthError } from '../errors.js';
import type { RawRecord as TabularRecord, TabularSpec } from '../preprocessing/tabular.js';

export const ANOMALY_PROFILE_FILE = 'anomaly.profile.json';
export const ANOMALY_FORMAT = 'berth.anomaly/v1';
/** Above this many input elements a covariance is too large to ship and to score per request. */
export const MAX_OOD_DIMENSION = 512;

export type FieldRange = { name: string; type: 'numeric'; min: number; max: number } | { name: string; type: 'categorical'; counts: Record<string, number> };

export interface OodModel {
  method: 'mahalanobis';
  /** Share of training rows at or below the threshold. */
  quantile: number;
  threshold: number;
  /** Added to the covariance's diagonal: one-hot columns make it singular. */
  ridge: number;
  mean: number[];
  /** Σ⁻¹, upper triangle row by row (with the diagonal). */
  precision: number[];
  /** Training rows' scores at 1000 evenly spaced ranks (0.05%, 0.15%, …, 99.95%), to place a row among them. */
  referenceScores: number[];
}

export interface AnomalyProfile {
  format: typeof ANOMALY_FORMAT;
  rows: number;
  /** The model input the rows were taken from, and its elements per row. */
  input: { name: string; width: number };
  /** Per input element: the smallest and largest training value. */
  elements: { min: number[]; max: number[] };
  /** Raw fields (tabular models), as the person filled them in. */
  fields?: FieldRange[];
  ood: OodModel | { unavailable: string };
}

/** numpy's default ('linear') quantile of sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Cholesky factor (lower, row-major) of a symmetric positive definite p×p matrix. */
function cholesky(a: Float64Array, p: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j]!;
      for (let k = 0; k < j; k++) s -= l[i * p + k]! * l[j * p + k]!;
      if (i === j) {
        if (!(s > 0)) throw new BerthError('BERTH_ERR_FILE', 'the training rows\' covariance is not positive definite even with the ridge');
        l[i * p + i] = Math.sqrt(s);
      } else l[i * p + j] = s / l[j * p + j]!;
    }
  }
  return l;
}

/** Inverse of a symmetric positive definite matrix from its Cholesky factor. */
function inverseFromCholesky(l: Float64Array, p: number): Float64Array {
  // L⁻¹ by forward substitution, then Σ⁻¹ = L⁻ᵀ L⁻¹.
  const li = new Float64Array(p * p);
  for (let c = 0; c < p; c++) {
    for (let i = c; i < p; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * p + k]! * li[k * p + c]!;
      li[i * p + c] = s / l[i * p + i]!;
    }
  }
  const inv = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = i; j < p; j++) {
      let s = 0;
      for (let k = j; k < p; k++) s += li[k * p + i]! * li[k * p + j]!;
      inv[i * p + j] = s;
      inv[j * p + i] = s;
    }
  }
  return inv;
}

/** Mahalanobis distance² of row `x` (at `offset`) with mean and packed precision. */
export function mahalanobis2(x: ArrayLike<number>, offset: number, mean: ArrayLike<number>, packed: ArrayLike<number>, p: number, z: Float64Array): number {
  for (let i = 0; i < p; i++) z[i] = x[offset + i]! - mean[i]!;
  let d = 0;
  let k = 0;
  for (let i = 0; i < p; i++) {
    const zi = z[i]!;
    if (zi === 0) {
      k += p - i;
      continue;
    }
    d += packed[k++]! * zi * zi;
    let s = 0;
    for (let j = i + 1; j < p; j++) s += packed[k++]! * z[j]!;
    d += 2 * zi * s;
  }
  return d;
}

export interface BuildOptions {
  input: string;
  /** Share of training rows at or below the OOD threshold (default 0.99). */
  quantile?: number;
  /** The spec the rows were encoded with: raw field ranges and category counts follow from it. */
  spec?: TabularSpec;
  /**
   * The raw records the rows were encoded from, in the same order: numeric field ranges are
   * then read from them exactly (decoding float32 would put capital-gain's minimum at
   * −0.0000125 instead of 0) and missing values are left out.
   */
  records?: readonly TabularRecord[];
}

/** Builds the profile from `count` training rows of `width` elements (row-major). */
export function buildAnomalyProfile(data: ArrayLike<number>, count: number, width: number, o: BuildOptions): AnomalyProfile {
  if (count < 2) throw new BerthError('BERTH_ERR_FILE', `an anomaly profile needs at least 2 rows, got ${count}`);
  const min = new Array<number>(width).fill(Infinity);
  const max = new Array<number>(width).fill(-Infinity);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < width; j++) {
      const v = data[r * width + j]!;
      if (v < min[j]!) min[j] = v;
      if (v > max[j]!) max[j] = v;
    }
  }
  const profile: AnomalyProfile = { format: ANOMALY_FORMAT, rows: count, input: { name: o.input, width }, elements: { min, max }, ood: { unavailable: '' } };
  if (o.records !== undefined && o.records.length !== count) throw new BerthError('BERTH_ERR_FILE', `an anomaly profile of ${count} rows was given ${o.records.length} raw records`);
  if (o.spec !== undefined) profile.fields = fieldRanges(data, count, width, o.spec, o.records);
  profile.ood = width > MAX_OOD_DIMENSION
    ? { unavailable: `the input has ${width} elements per row, more than the ${MAX_OOD_DIMENSION} a covariance is kept for` }
    : oodModel(data, count, width, o.quantile ?? 0.99);
  return profile;
}

/** A raw numeric value as the spec reads it; NaN when missing (or not a number). */
function rawNumber(record: TabularRecord, spec: TabularSpec, column: string, missing: ReadonlySet<string>): number {
  const v = Array.isArray(record) ? (record as readonly string[])[spec.rawColumns.indexOf(column)] : (record as Readonly<Record<string, unknown>>)[column];
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  const t = v.trim();
  return t === '' || missing.has(t) ? NaN : Number(t);
}

function fieldRanges(data: ArrayLike<number>, count: number, width: number, spec: TabularSpec, records: readonly TabularRecord[] | undefined): FieldRange[] {
  const out: FieldRange[] = [];
  const missing = new Set(spec.missingValues);
  for (const f of spec.features) {
    if (f.type === 'numeric') {
      let lo = Infinity;
      let hi = -Infinity;
      for (let r = 0; r < count; r++) {
        // Without the records, missing values (encoded as exactly 0, the training mean) are part of the range.
        const x = records === undefined ? data[r * width + f.offset]! * f.std + f.mean : rawNumber(records[r]!, spec, f.column, missing);
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      out.push({ name: f.column, type: 'numeric', min: lo, max: hi });
    } else {
      const counts: Record<string, number> = {};
      for (let k = 0; k < f.width; k++) {
        let n = 0;
        for (let r = 0; r < count; r++) if (data[r * width + f.offset + k]! > 0.5) n++;
        counts[f.categories[k]!] = n;
      }
      out.push({ name: f.column, type: 'categorical', counts });
    }
  }
  return out;
}

function oodModel(data: ArrayLike<number>, count: number, p: number, quantile: number): OodModel {
  const mean = new Float64Array(p);
  for (let r = 0; r < count; r++) for (let j = 0; j < p; j++) mean[j]! += data[r * p + j]!;
  for (let j = 0; j < p; j++) mean[j]! /= count;
  const cov = new Float64Array(p * p);
  const z = new Float64Array(p);
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < p; j++) z[j] = data[r * p + j]! - mean[j]!;
    for (let i = 0; i < p; i++) {
      const zi = z[i]!;
      if (zi === 0) continue;
      for (let j = i; j < p; j++) cov[i * p + j]! += zi * z[j]!;
    }
  }
  let trace = 0;
  for (let i = 0; i < p; i++) {
    for (let j = i; j < p; j++) {
      const v = cov[i * p + j]! / (count - 1);
      cov[i * p + j] = v;
      cov[j * p + i] = v;
    }
    trace += cov[i * p + i]!;
  }
  // Ridge: 1% of the mean variance (one-hot groups sum to 1, so the covariance alone is singular).
  const ridge = Math.max(1e-12, 0.01 * (trace / p));
  for (let i = 0; i < p; i++) cov[i * p + i]! += ridge;
  const precisionFull = inverseFromCholesky(cholesky(cov, p), p);
  const precision: number[] = [];
  for (let i = 0; i < p; i++) for (let j = i; j < p; j++) precision.push(precisionFull[i * p + j]!);
  const meanArr = Array.from(mean);
  const scores = new Float64Array(count);
  for (let r = 0; r < count; r++) scores[r] = mahalanobis2(data, r * p, meanArr, precision, p, z);
  scores.sort();
  const referenceScores = Array.from({ length: 1000 }, (_, k) => quantileSorted(scores, (k + 0.5) / 1000));
  return { method: 'mahalanobis', quantile, threshold: quantileSorted(scores, quantile), ridge, mean: meanArr, precision, referenceScores };
}

/** Checks a parsed profile's shape (a file from another tool or version of Berth is refused with a clear message). */
export function checkAnomalyProfile(raw: unknown, where: string): AnomalyProfile {
  const p = raw as Partial<AnomalyProfile>;
  if (typeof p !== 'object' || p === null || p.format !== ANOMALY_FORMAT) throw new BerthError('BERTH_ERR_FILE', `${where}: not a ${ANOMALY_FORMAT} document (run berth reference to write it)`);
  const w = p.input?.width;
  if (typeof w !== 'number' || p.elements?.min.length !== w || p.elements.max.length !== w) throw new BerthError('BERTH_ERR_FILE', `${where}: elements do not match input.width`);
  const ood = p.ood as OodModel | { unavailable: string } | undefined;
  if (ood !== undefined && 'method' in ood && (ood.mean.length !== w || ood.precision.length !== (w * (w + 1)) / 2)) throw new BerthError('BERTH_ERR_FILE', `${where}: the OOD model does not match input.width`);
  return p as AnomalyProfile;
}
