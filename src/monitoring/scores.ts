/**
 * @module monitoring/scores
 * A classifier's score output as class probabilities, the one place that decides what the
 * scores are. With `monitoring.scoreKind: logits`: softmax over the classes (the sigmoid for
 * one logit per row). Otherwise the scores must already be probabilities — every value in
 * [0, 1] and each row summing to 1 within PROBABILITY_SUM_TOLERANCE (then they are divided
 * by their sum) — and when a row is not, the result says why: the label-free estimate and
 * the live AUC are then unavailable instead of wrong (logits read as probabilities once gave
 * an "estimated accuracy" of 19.6).
 */
import type { Tensor } from '../inference/types.js';
import type { Task } from './binding.js';

export type ClassificationTask = Extract<Task, { kind: 'classification' }>;

/** How far a probability row's sum may be from 1 (float32 softmax outputs are within ~1e-6). */
export const PROBABILITY_SUM_TOLERANCE = 1e-3;
/** How far outside [0, 1] a probability may be (float32 rounding). */
const RANGE_TOLERANCE = 1e-6;

export interface ClassProbabilities {
  /** rows × classCount, row-major: probabilities summing to 1 — or the raw scores when `problem` is set. */
  probabilities: Float64Array;
  /** The predicted class of each row (argmax of the scores, the first on ties). */
  predicted: Int32Array;
  /** Set when the scores are not probabilities: what was wrong, and what to configure. */
  problem?: string;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toPrecision(6))) : String(x);
}

/** The class probabilities of `rows` rows of the task's score tensor. */
export function classProbabilities(task: ClassificationTask, scores: Tensor, rows: number): ClassProbabilities {
  const C = task.classCount;
  const width = task.scoreWidth;
  const data = scores.data as ArrayLike<number | bigint | boolean | string>;
  const probabilities = new Float64Array(rows * C);
  const predicted = new Int32Array(rows);
  let problem: string | undefined;
  const sums = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    if (width === 1) {
      // One logit: p(second class) = σ(z).
      const z = Number(data[r]);
      const p1 = 1 / (1 + Math.exp(-z));
      probabilities[o] = 1 - p1;
      probabilities[o + 1] = p1;
      predicted[r] = p1 > 0.5 ? 1 : 0;
      continue;
    }
    let best = 0;
    let max = -Infinity;
    for (let k = 0; k < C; k++) {
      const v = Number(data[r * width + k]);
      probabilities[o + k] = v;
      if (v > max) {
        max = v;
        best = k;
      }
    }
    predicted[r] = best;
    if (task.scoreKind === 'logits') {
      let sum = 0;
      for (let k = 0; k < C; k++) sum += probabilities[o + k] = Math.exp(probabilities[o + k]! - max);
      for (let k = 0; k < C; k++) probabilities[o + k] = probabilities[o + k]! / sum;
      continue;
    }
    let sum = 0;
    let outside: number | undefined;
    for (let k = 0; k < C; k++) {
      const v = probabilities[o + k]!;
      if (!(v >= -RANGE_TOLERANCE && v <= 1 + RANGE_TOLERANCE)) outside ??= v;
      sum += v;
    }
    sums[r] = sum;
    if (problem === undefined && (outside !== undefined || !(Math.abs(sum - 1) <= PROBABILITY_SUM_TOLERANCE))) {
      const what = outside !== undefined ? `a score of ${fmt(outside)} is outside [0, 1]` : `its scores sum to ${fmt(sum)}, not 1`;
      problem = task.scoreKind === 'probabilities'
        ? `monitoring.scoreKind is probabilities, but row ${r} of output '${task.scoreOutput}' is not: ${what}`
        : `output '${task.scoreOutput}' is not class probabilities (row ${r}: ${what}); if it holds logits, set monitoring.scoreKind: logits in the model's berth.yaml`;
    }
  }
  if (problem === undefined && task.scoreKind !== 'logits' && width !== 1) {
    for (let r = 0; r < rows; r++) for (let k = 0; k < C; k++) probabilities[r * C + k] = Math.min(1, Math.max(0, probabilities[r * C + k]!)) / sums[r]!;
  }
  const out: ClassProbabilities = { probabilities, predicted };
  if (problem !== undefined) out.problem = problem;
  return out;
}
