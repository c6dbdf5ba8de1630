/**
 * @module quantize/paired
 * How sure an accuracy claim is: FP32 and the converted model answer the same samples, so
 * their accuracies are paired, and the evidence is in the discordant samples (right under
 * one, wrong under the other). McNemar's test (exact conditional binomial on the discordant
 * pairs, and its mid-p version) says whether the drop differs from 0; Newcombe's (1998)
 * method 10 gives a 95% interval on the drop. Method 10 (Wilson score limits of both
 * marginal proportions, combined square-and-add with their correlation) is chosen because
 * it keeps close to nominal coverage when the difference is near 0 — the usual case here —
 * where the Wald interval on paired differences is too narrow (Newcombe 1998; Fagerland,
 * Lydersen & Laake 2014, Stat Med 33:2850). Without labels the metric is agreement with
 * FP32 (one proportion), and its interval is the Wilson score interval.
 */

/** Two-sided 97.5% quantile of the standard normal distribution (95% intervals). */
export const Z_95 = 1.959963984540054;

/** The paired 2 × 2 table of per-sample outcomes (FP32 right/wrong × converted right/wrong). */
export interface PairedCounts {
  bothCorrect: number;
  /** FP32 right, converted wrong: the samples the conversion broke. */
  fp32Only: number;
  /** FP32 wrong, converted right. */
  quantizedOnly: number;
  bothWrong: number;
}

/** Counts the table from per-sample predicted classes and the labels. */
export function pairedCounts(fp32: ArrayLike<number>, quantized: ArrayLike<number>, labels: ArrayLike<number>): PairedCounts {
  const t: PairedCounts = { bothCorrect: 0, fp32Only: 0, quantizedOnly: 0, bothWrong: 0 };
  for (let i = 0; i < labels.length; i++) {
    const f = fp32[i] === labels[i], q = quantized[i] === labels[i];
    if (f && q) t.bothCorrect++;
    else if (f) t.fp32Only++;
    else if (q) t.quantizedOnly++;
    else t.bothWrong++;
  }
  return t;
}

export interface McNemarResult {
  discordant: number;
  /** Exact conditional test: two-sided binomial(b + c, ½) p-value on min(b, c). */
  exactP: number;
  /** Mid-p: the exact p-value less the probability of the observed table (Fagerland et al. 2013). */
  midP: number;
}

/** log P(X = k) for X ~ Binomial(n, ½). */
function logHalfBinomPmf(n: number, k: number): number {
  let lc = 0;
  const kk = Math.min(k, n - k);
  for (let i = 1; i <= kk; i++) lc += Math.log((n - kk + i) / i);
  return lc - n * Math.LN2;
}

/** McNemar's test on the discordant counts b (FP32 only right) and c (converted only right). */
export function mcnemar(b: number, c: number): McNemarResult {
  const n = b + c;
  if (n === 0) return { discordant: 0, exactP: 1, midP: 1 };
  const m = Math.min(b, c);
  // P(X ≤ m) summed upwards from k = 0; m ≤ n/2, so the terms only grow and nothing underflows badly.
  let lower = 0;
  for (let k = 0; k <= m; k++) lower += Math.exp(logHalfBinomPmf(n, k));
  const atM = Math.exp(logHalfBinomPmf(n, m));
  return { discordant: n, exactP: Math.min(1, 2 * lower), midP: Math.min(1, 2 * (lower - atM / 2)) };
}

/** Wilson score interval for x successes in n (no continuity correction). */
export function wilsonInterval(x: number, n: number, z = Z_95): [number, number] {
  if (n === 0) return [0, 1];
  const p = x / n, z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Clamp: at x = 0 or x = n the formula's limit is exactly 0 or 1 but rounds a hair past it.
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Newcombe (1998) method 10 interval for p1 − p2, p1 = P(FP32 right), p2 = P(converted right):
 * the point estimate is (b − c)/n. φ estimates the correlation of the two marginals, with
 * ad − bc shrunk towards 0 by n/2 when positive (Newcombe's continuity correction).
 */
export function newcombePairedInterval(t: PairedCounts, z = Z_95): { estimate: number; lower: number; upper: number } {
  const a = t.bothCorrect, b = t.fp32Only, c = t.quantizedOnly, d = t.bothWrong;
  const n = a + b + c + d;
  if (n === 0) return { estimate: 0, lower: -1, upper: 1 };
  const x1 = a + b, x2 = a + c;
  const p1 = x1 / n, p2 = x2 / n;
  const [l1, u1] = wilsonInterval(x1, n, z);
  const [l2, u2] = wilsonInterval(x2, n, z);
  let phi = 0;
  const marginals = (a + b) * (c + d) * (a + c) * (b + d);
  if (marginals > 0) {
    const det = a * d - b * c;
    const shrunk = det > n / 2 ? det - n / 2 : det >= 0 ? 0 : det;
    phi = shrunk / Math.sqrt(marginals);
  }
  const dl1 = p1 - l1, du1 = u1 - p1, dl2 = p2 - l2, du2 = u2 - p2;
  const estimate = p1 - p2;
  const lower = estimate - Math.sqrt(Math.max(0, dl1 * dl1 + du2 * du2 - 2 * phi * dl1 * du2));
  const upper = estimate + Math.sqrt(Math.max(0, dl2 * dl2 + du1 * du1 - 2 * phi * dl2 * du1));
  return { estimate, lower: Math.max(-1, lower), upper: Math.min(1, upper) };
}

/** Where the accuracy drop stands against the limit, judged on the point estimate and the interval together. */
export type LimitVerdict =
  /** Point estimate and the whole interval within the limit. */
  | 'within'
  /** Point estimate within, but the interval reaches past the limit: passes, not shown to be within. */
  | 'not-shown-within'
  /** Point estimate over the limit, but the interval reaches back below it: fails, not shown to exceed. */
  | 'exceeded'
  /** The whole interval is over the limit. */
  | 'shown-exceeded';

export function limitVerdict(drop: number, upper: number, lower: number, limit: number): LimitVerdict {
  if (drop <= limit) return upper <= limit ? 'within' : 'not-shown-within';
  return lower > limit ? 'shown-exceeded' : 'exceeded';
}
