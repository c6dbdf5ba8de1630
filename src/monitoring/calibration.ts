/**
 * @module monitoring/calibration
 * The score calibration a label-free performance estimate needs (NannyML's CBPE calibrates
 * first, too): isotonic regression fitted on labelled reference data, as scikit-learn's
 * `IsotonicRegression(out_of_bounds='clip', y_min=0, y_max=1)` fits and predicts it (pool
 * adjacent violators over the distinct scores, then linear interpolation between the
 * points it keeps, clipped at the ends). `berth reference` writes one per model version,
 * `<model>/<version>/reference.calibration.json`, beside the reference profile.
 *
 * Binary classifiers: one map, p(positive) → P(y = positive). Multi-class: one map per class
 * (one-vs-rest, renormalised when applied) for precision/recall/F1, and one from the
 * predicted class's probability to P(correct) for accuracy — the one the decision log's
 * stored score allows on labelled decisions.
 */
import { BerthError } from '../errors.js';

export const CALIBRATION_FILE = 'reference.calibration.json';
export const CALIBRATION_FORMAT = 'berth.calibration/v1';

/** A fitted isotonic map: the points scikit-learn keeps (`X_thresholds_`, `y_thresholds_`). */
export interface IsotonicMap {
  x: number[];
  y: number[];
}

/** Isotonic (non-decreasing) least-squares fit of y on x, with optional weights. */
export function fitIsotonic(x: ArrayLike<number>, y: ArrayLike<number>, weights?: ArrayLike<number>): IsotonicMap {
  const n = x.length;
  if (y.length !== n || (weights !== undefined && weights.length !== n)) throw new RangeError('fitIsotonic: x, y and weights differ in length');
  const order = Array.from({ length: n }, (_, i) => i).filter((i) => Number.isFinite(x[i]!)).sort((a, b) => x[a]! - x[b]!);
  // Distinct x with the weighted mean of their y (scikit-learn's _make_unique).
  const ux: number[] = [];
  const uy: number[] = [];
  const uw: number[] = [];
  for (const i of order) {
    const w = weights === undefined ? 1 : weights[i]!;
    if (!(w > 0)) continue;
    const last = ux.length - 1;
    if (last >= 0 && ux[last] === x[i]) {
      uy[last] = uy[last]! + w * y[i]!;
      uw[last] = uw[last]! + w;
    } else {
      ux.push(x[i]!);
      uy.push(w * y[i]!);
      uw.push(w);
    }
  }
  for (let i = 0; i < ux.length; i++) uy[i] = uy[i]! / uw[i]!;
  // Pool adjacent violators: a stack of blocks (mean, weight, first index).
  const mean: number[] = [];
  const weight: number[] = [];
  const start: number[] = [];
  for (let i = 0; i < ux.length; i++) {
    let m = uy[i]!;
    let w = uw[i]!;
    let s = i;
    while (mean.length > 0 && mean[mean.length - 1]! >= m) {
      const pm = mean.pop()!;
      const pw = weight.pop()!;
      s = start.pop()!;
      m = (pm * pw + m * w) / (pw + w);
      w += pw;
    }
    mean.push(m);
    weight.push(w);
    start.push(s);
  }
  const fitted = new Float64Array(ux.length);
  for (let b = 0; b < mean.length; b++) fitted.fill(Math.min(1, Math.max(0, mean[b]!)), start[b]!, b + 1 < start.length ? start[b + 1]! : ux.length);
  // Keep only the first and last point of each constant run: interpolation is unchanged.
  const out: IsotonicMap = { x: [], y: [] };
  for (let i = 0; i < ux.length; i++) {
    const interior = i > 0 && i < ux.length - 1;
    if (interior && fitted[i] === fitted[i - 1] && fitted[i] === fitted[i + 1]) continue;
    out.x.push(ux[i]!);
    out.y.push(fitted[i]!);
  }
  return out;
}

/** The map at s: linear interpolation between its points, clipped at the ends (numpy's interp). */
export function applyIsotonic(map: IsotonicMap, s: number): number {
  const { x, y } = map;
  const n = x.length;
  if (n === 0) return Number.NaN;
  if (!(s > x[0]!)) return y[0]!;
  if (s >= x[n - 1]!) return y[n - 1]!;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (x[mid]! <= s) lo = mid;
    else hi = mid;
  }
  const t = (s - x[lo]!) / (x[hi]! - x[lo]!);
  return y[lo]! + t * (y[hi]! - y[lo]!);
}

/** Expected calibration error: 10 equal-width bins of the score, weighted |mean score − share positive|. */
export function expectedCalibrationError(scores: ArrayLike<number>, positive: ArrayLike<boolean>, bins = 10): number {
  const sum = new Float64Array(bins);
  const hits = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(s * bins)));
    sum[b] = sum[b]! + s;
    hits[b] = hits[b]! + (positive[i] ? 1 : 0);
    count[b] = count[b]! + 1;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(sum[b]! - hits[b]!) / scores.length;
  return ece;
}

export interface Calibration {
  format: typeof CALIBRATION_FORMAT;
  method: 'isotonic';
  /** Class names in score order, and the positive class of a binary classifier. */
  classes: string[];
  positiveClass?: string;
  /** How the scores were turned into probabilities before calibration. */
  scoreKind: 'probabilities' | 'logits';
  /** Labelled rows the maps were fitted on, and where they came from. */
  rows: number;
  source: string;
  /** Binary: p(positive class) → P(y = positive). */
  positive?: IsotonicMap;
  /** Multi-class: per class, p(class) → P(y = class), one-vs-rest. */
  perClass?: IsotonicMap[];
  /** p(predicted class) → P(prediction correct). */
  confidence: IsotonicMap;
  /**
   * On the calibration rows: realised accuracy, and the expected calibration error of the
   * confidence (10 equal-width bins) before calibration and after it, cross-fitted.
   */
  fit: { accuracy: number; eceBefore: number; eceAfter: number };
}

/**
 * Fits the calibration from class probabilities (rows × C, row-major), each row's label
 * (class index) and the predicted class (argmax).
 */
export function fitCalibration(probs: Float64Array, labels: ArrayLike<number>, meta: { classes: string[]; positiveIndex: number | undefined; scoreKind: Calibration['scoreKind']; source: string }): Calibration {
  const C = meta.classes.length;
  const n = labels.length;
  if (probs.length !== n * C) throw new RangeError(`fitCalibration: ${probs.length} probabilities for ${n} rows of ${C} classes`);
  if (n === 0) throw new BerthError('BERTH_ERR_CLI_USAGE', 'calibration data has no labelled rows');
  const conf = new Float64Array(n);
  const correct = new Float64Array(n);
  const correctB: boolean[] = [];
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let k = 1; k < C; k++) if (probs[r * C + k]! > probs[r * C + best]!) best = k;
    conf[r] = probs[r * C + best]!;
    correct[r] = labels[r] === best ? 1 : 0;
    correctB.push(labels[r] === best);
  }
  const confidence = fitIsotonic(conf, correct);
  // In-sample, isotonic calibration is perfect by construction: the "after" ECE is cross-fitted
  // (fitted on even rows, measured on odd ones, and the other way round).
  const calibrated = new Float64Array(n);
  for (const part of [0, 1]) {
    const fitRows = Array.from({ length: n }, (_, r) => r).filter((r) => r % 2 !== part);
    const map = fitIsotonic(fitRows.map((r) => conf[r]!), fitRows.map((r) => correct[r]!));
    for (let r = part; r < n; r += 2) calibrated[r] = applyIsotonic(map, conf[r]!);
  }
  let acc = 0;
  for (let r = 0; r < n; r++) acc += correct[r]!;
  const out: Calibration = {
    format: CALIBRATION_FORMAT,
    method: 'isotonic',
    classes: meta.classes,
    scoreKind: meta.scoreKind,
    rows: n,
    source: meta.source,
    confidence,
    fit: { accuracy: acc / n, eceBefore: expectedCalibrationError(conf, correctB), eceAfter: expectedCalibrationError(calibrated, correctB) },
  };
  const column = (k: number) => Float64Array.from({ length: n }, (_, r) => probs[r * C + k]!);
  const isClass = (k: number) => Float64Array.from({ length: n }, (_, r) => (labels[r] === k ? 1 : 0));
  if (C === 2 && meta.positiveIndex !== undefined) {
    out.positiveClass = meta.classes[meta.positiveIndex]!;
    out.positive = fitIsotonic(column(meta.positiveIndex), isClass(meta.positiveIndex));
  } else {
    out.perClass = meta.classes.map((_, k) => fitIsotonic(column(k), isClass(k)));
  }
  return out;
}

function isMap(v: unknown): v is IsotonicMap {
  const m = v as IsotonicMap;
  return typeof m === 'object' && m !== null && Array.isArray(m.x) && Array.isArray(m.y) && m.x.length === m.y.length && m.x.length > 0
    && m.x.every((t, i) => typeof t === 'number' && Number.isFinite(t) && (i === 0 || t > m.x[i - 1]!))
    && m.y.every((t, i) => typeof t === 'number' && t >= 0 && t <= 1 && (i === 0 || t >= m.y[i - 1]!));
}

/** Validates a parsed calibration document; `where` names the file in messages. */
export function parseCalibration(doc: unknown, where: string): Calibration {
  const fail = (msg: string): never => {
    throw new BerthError('BERTH_ERR_CALIBRATION', `${where}: ${msg}; rebuild it with berth reference`);
  };
  if (typeof doc !== 'object' || doc === null) fail('expected a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.format !== CALIBRATION_FORMAT) fail(`"format" must be "${CALIBRATION_FORMAT}", got ${JSON.stringify(d.format)}`);
  if (d.method !== 'isotonic') fail(`"method" must be "isotonic", got ${JSON.stringify(d.method)}`);
  if (!Array.isArray(d.classes) || d.classes.length < 2 || !d.classes.every((c) => typeof c === 'string')) fail('"classes" must be two or more class names');
  if (d.scoreKind !== 'probabilities' && d.scoreKind !== 'logits') fail(`"scoreKind" must be "probabilities" or "logits", got ${JSON.stringify(d.scoreKind)}`);
  if (typeof d.rows !== 'number' || !(d.rows > 0)) fail('"rows" must be a positive number');
  if (!isMap(d.confidence)) fail('"confidence" must be an isotonic map {x: ascending numbers, y: non-decreasing numbers in [0, 1]}');
  const classes = d.classes as string[];
  if (d.positive !== undefined) {
    if (!isMap(d.positive)) fail('"positive" must be an isotonic map');
    if (classes.length !== 2 || typeof d.positiveClass !== 'string' || !classes.includes(d.positiveClass)) fail('"positive" needs two classes and a "positiveClass" among them');
  } else if (!Array.isArray(d.perClass) || d.perClass.length !== classes.length || !d.perClass.every(isMap)) {
    fail(`"perClass" must hold one isotonic map per class (${classes.length})`);
  }
  return d as unknown as Calibration;
}
