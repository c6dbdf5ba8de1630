/**
 * @module decision/outcome
 * The post-processing stage: turns a model's output rows into the decisions a person reads —
 * the class name, the positive class's probability, and, where the model config names them,
 * the outcome ("approved" / "rejected") decided by a threshold. For a regressor, the value.
 */
import { fromHalfBits } from '../runtime/datatypes.js';
import type { Tensor } from '../inference/types.js';
import type { Task } from '../monitoring/binding.js';
import type { DecisionConfig } from '../repository/model-config.js';

export interface RowDecision {
  /** The decision's id: the request id for a one-row request, `<request id>/<row>` otherwise. */
  id: string;
  row: number;
  /** Predicted class (classifiers). */
  class?: string;
  /** Probability of the positive class (binary classifiers). */
  probability?: number;
  /** Every class's score, by class name (classifiers). */
  probabilities?: Record<string, number>;
  /** What the decision means for the person (when the model config names outcomes). */
  outcome?: string;
  /** Whether the outcome is the adverse one (when outcomes are named). */
  adverse?: boolean;
  /** Predicted value (regressors). */
  value?: number;
}

export function rowIds(requestId: string, rows: number): string[] {
  return rows === 1 ? [requestId] : Array.from({ length: rows }, (_, i) => `${requestId}/${i}`);
}

function valueAt(t: Tensor, i: number): number {
  const v = t.data[i]!;
  return t.datatype === 'FP16' ? fromHalfBits(v as number) : Number(v);
}

/** What the model config says a row's class means. */
export function outcomeOf(task: Extract<Task, { kind: 'classification' }>, config: DecisionConfig, cls: number): { outcome?: string; adverse?: boolean } {
  if (config.positiveOutcome === undefined && config.negativeOutcome === undefined) return {};
  const positive = task.positiveIndex ?? 1;
  const name = cls === positive ? (config.positiveOutcome ?? task.classes[cls]!) : (config.negativeOutcome ?? task.classes[cls]!);
  const adverseName = config.adverseOutcome ?? config.negativeOutcome ?? task.classes[1 - positive];
  return { outcome: name, adverse: name === adverseName };
}

/** One decision per row of the model's outputs. */
export function decideRows(task: Task, config: DecisionConfig, outputs: readonly Tensor[], ids: readonly string[]): RowDecision[] {
  const rows = ids.length;
  const out: RowDecision[] = ids.map((id, row) => ({ id, row }));
  if (task.kind === 'classification') {
    const scores = outputs.find((o) => o.name === task.scoreOutput);
    if (scores === undefined) return out;
    const c = task.classCount;
    for (let r = 0; r < rows; r++) {
      const d = out[r]!;
      const probabilities: Record<string, number> = {};
      let best = 0;
      for (let k = 0; k < c; k++) {
        const v = valueAt(scores, r * c + k);
        probabilities[task.classes[k]!] = v;
        if (v > valueAt(scores, r * c + best)) best = k;
      }
      if (c === 2 && task.positiveIndex !== undefined) {
        const p = valueAt(scores, r * c + task.positiveIndex);
        d.probability = p;
        if (config.threshold !== undefined) best = p >= config.threshold ? task.positiveIndex : 1 - task.positiveIndex;
      }
      d.class = task.classes[best]!;
      d.probabilities = probabilities;
      Object.assign(d, outcomeOf(task, config, best));
    }
  } else if (task.kind === 'regression') {
    const values = outputs.find((o) => o.name === task.valueOutput);
    if (values !== undefined) {
      const width = rows === 0 ? 0 : values.data.length / rows;
      for (let r = 0; r < rows; r++) out[r]!.value = valueAt(values, r * width);
    }
  }
  return out;
}
