/**
 * @module monitoring/estimate
 * The label-free performance estimate (confidence-based performance estimation, the idea of
 * NannyML's CBPE): calibrate each decision's score (monitoring/calibration), treat its
 * outcome as a Bernoulli draw with the calibrated probability, and report the expected
 * confusion matrix's accuracy, precision, recall, F1 and AUC with a sampling interval.
 *
 * The interval is the 95 % range of the metric the same rows would realise if the
 * calibrated probabilities are right: a normal approximation to the sum of independent
 * Bernoulli outcomes (Poisson-binomial variance), through the delta method for the ratios;
 * the AUC's from 200 seeded Monte Carlo label draws. It does not cover calibration error,
 * and nothing here can see concept shift: inputs that now have other outcomes leave the
 * model's confidence unchanged.
 */
import { mulberry32 } from '../random.js';
import { applyIsotonic, type Calibration } from './calibration.js';

export interface Interval {
  value: number;
  low: number;
  high: number;
}

export interface PerformanceEstimate {
  /** Rows the estimate rests on. */
  rows: number;
  accuracy: Interval;
  /** Binary: of the positive class; multi-class: macro averages over every class. */
  precision?: Interval;
  recall?: Interval;
  f1?: Interval;
  /** Binary only, when both outcomes are expected. */
  auc?: Interval;
}

export const ESTIMATE_INTERVAL = '95 % interval of the value these rows would realise if the calibrated probabilities are right: normal approximation to a sum of independent Bernoulli outcomes (delta method for precision, recall and F1; multi-class macro averages ignore covariance between classes), AUC from 200 Monte Carlo label draws';

export const CONCEPT_SHIFT_CAVEAT = 'computed from the model\'s own calibrated confidence: it follows changes in the inputs (covariate shift) but cannot see concept shift — the same inputs now having other outcomes — which only labels reveal';

const Z95 = 1.959963984540054;
const AUC_DRAWS = 200;

function interval(value: number, variance: number): Interval {
  const h = Z95 * Math.sqrt(Math.max(0, variance));
  return { value, low: Math.max(0, value - h), high: Math.min(1, value + h) };
}

/** Delta-method variance of A / (A + B), A and B independent. */
function ratioVariance(a: number, va: number, b: number, vb: number): number {
  const s = a + b;
  return s > 0 ? (b * b * va + a * a * vb) / s ** 4 : 0;
}

/** Delta-method variance of 2A / (m + A + B), A and B independent, m fixed. */
function f1Variance(a: number, va: number, b: number, vb: number, m: number): number {
  const d = m + a + b;
  return d > 0 ? (4 * (m + b) ** 2 * va + 4 * a * a * vb) / d ** 4 : 0;
}

/**
 * Binary classifier. `pPositive[i]`: the positive class's probability (before calibration);
 * `predictedPositive[i]`: whether the model predicted the positive class.
 */
export function estimateBinary(pPositive: ArrayLike<number>, predictedPositive: ArrayLike<boolean>, calibration: Calibration, seed = 1): PerformanceEstimate | undefined {
  const map = calibration.positive;
  const n = pPositive.length;
  if (map === undefined || n === 0) return undefined;
  const q = Float64Array.from(pPositive, (p) => applyIsotonic(map, p));
  let a = 0;
  let va = 0;
  let nPredPos = 0;
  let b = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    const v = q[i]! * (1 - q[i]!);
    if (predictedPositive[i]) {
      a += q[i]!;
      va += v;
      nPredPos++;
    } else {
      b += q[i]!;
      vb += v;
    }
  }
  const nPredNeg = n - nPredPos;
  const out: PerformanceEstimate = { rows: n, accuracy: interval((a + nPredNeg - b) / n, (va + vb) / (n * n)) };
  if (nPredPos > 0) out.precision = interval(a / nPredPos, va / (nPredPos * nPredPos));
  if (a + b > 0) out.recall = interval(a / (a + b), ratioVariance(a, va, b, vb));
  if (nPredPos + a + b > 0) out.f1 = interval((2 * a) / (nPredPos + a + b), f1Variance(a, va, b, vb, nPredPos));
  const auc = expectedAuc(pPositive, q, seed);
  if (auc !== undefined) out.auc = auc;
  return out;
}

/**
 * Expected ROC AUC when row i is positive with probability q[i], ranked by its score s[i]
 * (ties count one half, as in the Mann–Whitney AUC the live figure uses): the expected
 * correctly ordered (positive, negative) pairs over the expected positives × negatives.
 * The ranking is by the model's own score, as for the realised AUC, not by the calibrated
 * probability (isotonic calibration makes ties of whole blocks).
 */
function expectedAuc(s: ArrayLike<number>, q: Float64Array, seed: number): Interval | undefined {
  const n = q.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => s[x]! - s[y]!);
  // Tie groups in ascending score order.
  const groupEnd: number[] = [];
  for (let i = 0; i < n; i++) if (i === n - 1 || s[order[i + 1]!] !== s[order[i]!]) groupEnd.push(i + 1);
  let pos = 0;
  let neg = 0;
  let pairs = 0;
  let start = 0;
  for (const end of groupEnd) {
    let gp = 0;
    let gn = 0;
    for (let j = start; j < end; j++) {
      gp += q[order[j]!]!;
      gn += 1 - q[order[j]!]!;
    }
    pairs += gp * (neg + gn / 2);
    pos += gp;
    neg += gn;
    start = end;
  }
  if (!(pos > 0.5) || !(neg > 0.5)) return undefined;
  const value = pairs / (pos * neg);
  // Interval: the AUC realised under labels drawn from q, 200 seeded draws.
  const r = mulberry32(seed);
  const draws: number[] = [];
  for (let d = 0; d < AUC_DRAWS; d++) {
    let P = 0;
    let N = 0;
    let U = 0;
    start = 0;
    for (const end of groupEnd) {
      let gp = 0;
      let gn = 0;
      for (let j = start; j < end; j++) {
        if (r() < q[order[j]!]!) gp++;
        else gn++;
      }
      U += gp * (N + gn / 2);
      P += gp;
      N += gn;
      start = end;
    }
    if (P > 0 && N > 0) draws.push(U / (P * N));
  }
  if (draws.length < AUC_DRAWS / 2) return { value, low: 0, high: 1 };
  draws.sort((x, y) => x - y);
  const at = (p: number) => draws[Math.min(draws.length - 1, Math.max(0, Math.round(p * (draws.length - 1))))]!;
  return { value, low: Math.min(value, at(0.025)), high: Math.max(value, at(0.975)) };
}

/**
 * Multi-class classifier. `confidence[i]`: the probability of the predicted class (enough
 * for accuracy). With `probabilities` (rows × C) and `predicted`, also macro precision,
 * recall and F1 from the per-class calibrations, renormalised per row.
 */
export function estimateMulticlass(confidence: ArrayLike<number>, calibration: Calibration, rows?: { probabilities: Float64Array; predicted: Int32Array }): PerformanceEstimate | undefined {
  const n = confidence.length;
  if (n === 0) return undefined;
  let sum = 0;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = applyIsotonic(calibration.confidence, confidence[i]!);
    sum += c;
    v += c * (1 - c);
  }
  const out: PerformanceEstimate = { rows: n, accuracy: interval(sum / n, v / (n * n)) };
  const maps = calibration.perClass;
  if (rows === undefined || maps === undefined) return out;
  const C = maps.length;
  const a = new Float64Array(C);
  const va = new Float64Array(C);
  const b = new Float64Array(C);
  const vb = new Float64Array(C);
  const predictedCount = new Float64Array(C);
  const q = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (let k = 0; k < C; k++) total += q[k] = applyIsotonic(maps[k]!, rows.probabilities[i * C + k]!);
    const pred = rows.predicted[i]!;
    predictedCount[pred] = predictedCount[pred]! + 1;
    for (let k = 0; k < C; k++) {
      const p = total > 0 ? q[k]! / total : 1 / C;
      if (k === pred) {
        a[k] = a[k]! + p;
        va[k] = va[k]! + p * (1 - p);
      } else {
        b[k] = b[k]! + p;
        vb[k] = vb[k]! + p * (1 - p);
      }
    }
  }
  let p = 0;
  let pv = 0;
  let r = 0;
  let rv = 0;
  let f = 0;
  let fv = 0;
  for (let k = 0; k < C; k++) {
    const m = predictedCount[k]!;
    if (m > 0) {
      p += a[k]! / m;
      pv += va[k]! / (m * m);
    }
    if (a[k]! + b[k]! > 0) {
      r += a[k]! / (a[k]! + b[k]!);
      rv += ratioVariance(a[k]!, va[k]!, b[k]!, vb[k]!);
    }
    if (m + a[k]! + b[k]! > 0) {
      f += (2 * a[k]!) / (m + a[k]! + b[k]!);
      fv += f1Variance(a[k]!, va[k]!, b[k]!, vb[k]!, m);
    }
  }
  out.precision = interval(p / C, pv / (C * C));
  out.recall = interval(r / C, rv / (C * C));
  out.f1 = interval(f / C, fv / (C * C));
  return out;
}
