/**
 * @module monitoring/binding
 * What live monitoring knows about a model version: its task (classifier or regressor,
 * which outputs carry scores, labels or values, class names, the validated accuracy) and
 * the columns live drift watches. Decided from the model config's `monitoring` section,
 * falling back to the model itself: its outputs' shapes and its ONNX metadata
 * (`berth.classes`, `berth.metrics.test_accuracy`, written by the example training scripts).
 *
 * Drift columns, in this order (the reference profile's columns follow it by position):
 * for a version with a tabular preprocessing spec, one column per raw field the model uses
 * (`age` in years, `workclass` as its category — read from the raw record, or decoded from
 * the encoded tensor for tensor requests); otherwise every element of each input row
 * (inputs with a batch dimension); then for a classifier one probability column per class
 * and the predicted class, for a regressor the value.
 */
import type { TabularSpec } from '../preprocessing/tabular.js';
import type { ModelSignature } from '../inference/types.js';
import type { MonitoringConfig } from '../repository/model-config.js';

export type { MonitoringConfig };

export type Task =
  | {
      kind: 'classification';
      scoreOutput: string;
      labelOutput: string | undefined;
      classCount: number;
      classes: string[];
      positiveIndex: number | undefined;
      /** monitoring.scoreKind; undefined: probabilities if every row is one (monitoring/scores). */
      scoreKind: 'probabilities' | 'logits' | undefined;
      /** Scores per row: classCount, or 1 for a binary classifier's single logit (sigmoid). */
      scoreWidth: number;
    }
  | { kind: 'regression'; valueOutput: string }
  | { kind: 'none'; reason: string };

export interface DriftColumn {
  name: string;
  type: 'numeric' | 'categorical';
  role: 'feature' | 'probability' | 'prediction';
  /** Where the value comes from: element `index` of a row of tensor `tensor` ('predicted' = argmax of the scores), or a raw field. */
  source: { kind: 'input' | 'output'; tensor: string; index: number } | { kind: 'predicted' } | RawFieldSource;
}

/** A raw field of a tabular spec: from the record, or decoded from its slots in the encoded tensor. */
export interface RawFieldSource {
  kind: 'raw';
  field: string;
  tensor: string;
  feature: TabularSpec['features'][number];
  missing: readonly string[];
}

export interface Binding {
  task: Task;
  validatedAccuracy: number | undefined;
  columns: DriftColumn[];
}

const isFloat = (d: string): boolean => d === 'FP32' || d === 'FP64' || d === 'FP16';

function parseJsonArray(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
  } catch {
    return undefined;
  }
}

function rowWidth(shape: readonly number[]): number | undefined {
  const inner = shape.slice(1);
  if (inner.some((d) => d < 0)) return undefined;
  return inner.reduce((a, b) => a * b, 1);
}

export function decideTask(signature: ModelSignature, metadata: Readonly<Record<string, string>>, config: MonitoringConfig = {}): Task {
  if (config.task === 'none') return { kind: 'none', reason: 'monitoring.task is none' };
  if (signature.maxBatchSize === 0) return { kind: 'none', reason: 'the model has no batch dimension' };
  const out = (name: string | undefined) => (name === undefined ? undefined : signature.outputs.find((o) => o.name === name));
  const scores = out(config.scoreOutput) ?? (config.task === 'regression' ? undefined : signature.outputs.find((o) => isFloat(o.datatype) && o.shape.length === 2 && (o.shape[1] ?? 0) >= 2));
  if (config.task !== 'regression' && scores !== undefined) {
    // A binary classifier may give one logit per row ([batch] or [batch, 1]): the sigmoid makes it p(second class).
    const singleLogit = config.scoreKind === 'logits' && config.task === 'classification' && (scores.shape.length === 1 || (scores.shape.length === 2 && scores.shape[1] === 1));
    const scoreWidth = singleLogit ? 1 : scores.shape[1] ?? 0;
    const classCount = singleLogit ? 2 : scoreWidth;
    if (classCount < 2) return { kind: 'none', reason: `score output '${scores.name}' needs a fixed class dimension ≥ 2 (or monitoring.scoreKind: logits for one logit per row)` };
    const labelOut = out(config.labelOutput) ?? signature.outputs.find((o) => o !== scores && !isFloat(o.datatype) && (o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1)));
    const classes = config.classes ?? parseJsonArray(metadata['berth.classes']) ?? Array.from({ length: classCount }, (_, i) => String(i));
    if (classes.length !== classCount) return { kind: 'none', reason: `${classes.length} class names for ${classCount} scores in '${scores.name}'` };
    let positiveIndex: number | undefined;
    if (classCount === 2) positiveIndex = config.positiveClass === undefined ? 1 : classes.indexOf(config.positiveClass);
    if (positiveIndex === -1) return { kind: 'none', reason: `monitoring.positiveClass '${config.positiveClass ?? ''}' is not one of ${classes.join(', ')}` };
    return { kind: 'classification', scoreOutput: scores.name, labelOutput: labelOut?.name, classCount, classes, positiveIndex, scoreKind: config.scoreKind, scoreWidth };
  }
  const value = out(config.valueOutput) ?? signature.outputs.find((o) => isFloat(o.datatype) && (o.shape.length === 1 || (o.shape.length === 2 && o.shape[1] === 1)));
  if (value !== undefined) return { kind: 'regression', valueOutput: value.name };
  return { kind: 'none', reason: 'no output looks like class scores [batch, C] or a value [batch]; set monitoring.task in berth.yaml' };
}

export function driftColumns(signature: ModelSignature, task: Task, featureNames?: readonly string[], spec?: TabularSpec): DriftColumn[] {
  const cols: DriftColumn[] = [];
  if (signature.maxBatchSize === 0) return cols;
  let f = 0;
  const specInput = spec === undefined ? undefined : ((spec as { output?: { name?: string } }).output?.name ?? 'features');
  if (spec !== undefined && specInput !== undefined && signature.inputs.some((i) => i.name === specInput)) {
    for (const feature of spec.features) cols.push({ name: feature.column, type: feature.type, role: 'feature', source: { kind: 'raw', field: feature.column, tensor: specInput, feature, missing: spec.missingValues } });
  }
  for (const input of signature.inputs) {
    if (input.name === specInput && cols.length > 0) continue;
    const width = rowWidth(input.shape);
    if (width === undefined || input.datatype === 'BYTES' || width > 4096) continue;
    for (let j = 0; j < width; j++, f++) {
      cols.push({ name: featureNames?.[f] ?? `${input.name}[${j}]`, type: input.datatype === 'BOOL' ? 'categorical' : 'numeric', role: 'feature', source: { kind: 'input', tensor: input.name, index: j } });
    }
  }
  if (task.kind === 'classification') {
    for (let k = 0; k < task.classCount; k++) cols.push({ name: `p(${task.classes[k]})`, type: 'numeric', role: 'probability', source: { kind: 'output', tensor: task.scoreOutput, index: k } });
    cols.push({ name: 'predicted class', type: 'categorical', role: 'prediction', source: { kind: 'predicted' } });
  } else if (task.kind === 'regression') {
    cols.push({ name: `predicted ${task.valueOutput}`, type: 'numeric', role: 'prediction', source: { kind: 'output', tensor: task.valueOutput, index: 0 } });
  }
  return cols;
}

export function bindModel(signature: ModelSignature, metadata: Readonly<Record<string, string>>, config: MonitoringConfig = {}, spec?: TabularSpec): Binding {
  const task = decideTask(signature, metadata, config);
  const meta = Number(metadata['berth.metrics.test_accuracy']);
  const validatedAccuracy = config.validatedAccuracy ?? (Number.isFinite(meta) ? meta : undefined);
  return { task, validatedAccuracy, columns: driftColumns(signature, task, config.featureNames, spec) };
}
