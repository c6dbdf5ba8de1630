/**
 * @module pipeline/transformer
 * The pre-processing stage of a model version (KServe's "transformer"): turns raw records —
 * the fields a person filled in — into the tensors the model takes, versioned with the model
 * by its preprocessing spec. One implementation per spec kind behind this interface
 * (`tabular`, `image`); a new kind is a new file registered in `createTransformer`.
 */
import { BerthError } from '../errors.js';
import type { ModelSignature, Tensor } from '../inference/types.js';
import type { VersionPreprocessing } from '../preprocessing/load.js';
import { ImageTransformer, readImageSpec } from './image.js';
import { TabularTransformer } from './tabular.js';

/** One raw record: field name → value, as a client sends it (JSON numbers, strings, null). */
export type RawRecord = Readonly<Record<string, unknown>>;

/** What can be wrong with a field of a record (the anomaly layer adds range and distribution kinds). */
export type FieldProblemKind = 'unknown_field' | 'missing_field' | 'wrong_type' | 'non_finite' | 'unseen_category' | 'out_of_range';

export interface FieldProblem {
  kind: FieldProblemKind;
  field: string;
  value: unknown;
  /** Says what is wrong and what was expected, in words. */
  message: string;
  /** The record cannot be encoded at all (missing field, wrong type, NaN): it can never be served. */
  blocking: boolean;
}

export interface RawField {
  name: string;
  type: 'numeric' | 'categorical';
  /** Used by the model (else carried along, like the label or a dropped column). */
  used: boolean;
  /** Categories seen in training (categorical fields). */
  categories?: readonly string[];
}

export interface EncodedRecords {
  /** The model's inputs for all rows (rows that cannot be encoded are zeros). */
  inputs: Tensor[];
  /** Per row: what is wrong with its fields (empty when nothing is). */
  problems: FieldProblem[][];
}

export interface Transformer {
  readonly kind: string;
  /** The spec's content hash: the pipeline's identity, stored with every decision. */
  readonly hash: string;
  readonly fields: readonly RawField[];
  /** Encodes records; never throws for a bad record (its problems say why), only for a bad request shape. */
  encode(records: readonly RawRecord[]): EncodedRecords;
}

/** The transformer for a version's spec, checked against the model's inputs; undefined when the kind has none. */
export function createTransformer(p: VersionPreprocessing, signature: ModelSignature): Transformer | undefined {
  if (p.kind === 'tabular' && p.tabular !== undefined) {
    const t = new TabularTransformer(p.tabular, p.hash);
    const input = signature.inputs.find((s) => s.name === t.outputName);
    const width = input?.shape[input.shape.length - 1];
    if (input === undefined || signature.inputs.length !== 1 || input.datatype !== 'FP32' || width !== t.width) {
      throw new BerthError('BERTH_ERR_PIPELINE_MISMATCH', `${p.location} writes FP32 '${t.outputName}' [-1, ${t.width}], but the model's inputs are ${signature.inputs.map((s) => `${s.name} ${s.datatype} [${s.shape.join(', ')}]`).join(', ')}`);
    }
    return t;
  }
  if (p.kind === 'image') {
    const { image, output } = readImageSpec(p.raw, p.location);
    const input = signature.inputs.find((s) => s.name === output);
    const inner = input?.shape.slice(signature.maxBatchSize > 0 ? 1 : 0) ?? [];
    const t = new ImageTransformer(image, output, p.hash, inner);
    if (input === undefined || signature.inputs.length !== 1 || input.datatype !== 'FP32' || signature.maxBatchSize === 0 || inner.some((d) => d < 0) || inner.reduce((a, b) => a * b, 1) !== t.width) {
      throw new BerthError('BERTH_ERR_PIPELINE_MISMATCH', `${p.location} writes FP32 '${output}' of ${t.width} values per row, but the model's inputs are ${signature.inputs.map((s) => `${s.name} ${s.datatype} [${s.shape.join(', ')}]`).join(', ')}`);
    }
    return t;
  }
  return undefined;
}
