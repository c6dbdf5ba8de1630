/**
 * @module inference/validate
 * Checks decoded request tensors against a model signature, protocol-independently: names,
 * datatypes, shapes, a shared batch size within the limit, and no NaN/±Infinity in float
 * inputs unless the model allows them. Messages name the input and say what was expected
 * and what was received.
 */
import { BerthError } from '../errors.js';
import { elementCount, type V2Datatype } from '../runtime/datatypes.js';
import { formatShape } from './signature.js';
import type { ModelSignature, Tensor, TensorSpec } from './types.js';

function describe(spec: TensorSpec): string {
  return `'${spec.name}' (${spec.datatype} ${formatShape(spec.shape)})`;
}

/** The spec for a request input, after checking its datatype and shape. */
export function checkInputHeader(signature: ModelSignature, name: string, datatype: V2Datatype, shape: readonly number[]): TensorSpec {
  const spec = signature.inputs.find((s) => s.name === name);
  if (spec === undefined) {
    throw new BerthError('BERTH_ERR_INVALID_INPUT', `unknown input '${name}'; the model's inputs are ${signature.inputs.map(describe).join(', ')}`);
  }
  if (spec.datatype !== datatype) {
    throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': expected datatype ${spec.datatype}, got ${datatype}`);
  }
  const rankOk = shape.length === spec.shape.length;
  const dimsOk = rankOk && spec.shape.every((d, i) => d === -1 || d === shape[i]);
  if (!dimsOk) {
    throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': expected shape ${formatShape(spec.shape)}, got ${formatShape(shape)}`);
  }
  return spec;
}

/** Checks the data length of a decoded tensor against its shape. */
export function checkElementCount(t: Tensor): void {
  const expected = elementCount(t.shape);
  if (t.data.length !== expected) {
    throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${t.name}': shape ${formatShape(t.shape)} needs ${expected} elements, got ${t.data.length}`);
  }
}

/** Refuses NaN and ±Infinity in a float input unless the spec allows them. FP16 is checked on its bits. */
export function checkFinite(t: Tensor, spec: TensorSpec): void {
  if (spec.allowNonFinite === true) return;
  const d = t.data;
  if (t.datatype === 'FP32' || t.datatype === 'FP64') {
    const a = d as Float32Array | Float64Array;
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      // v - v is NaN exactly for NaN and ±Infinity.
      if (v - v !== 0) throw nonFinite(t.name, i, v);
    }
  } else if (t.datatype === 'FP16') {
    const a = d as Uint16Array;
    for (let i = 0; i < a.length; i++) {
      if ((a[i]! & 0x7c00) === 0x7c00) throw nonFinite(t.name, i, (a[i]! & 0x3ff) !== 0 ? NaN : (a[i]! & 0x8000 ? -Infinity : Infinity));
    }
  }
}

function nonFinite(name: string, index: number, v: number): BerthError {
  return new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': element ${index} is ${String(v)}; NaN and Infinity are not allowed (set allowNonFinite in the model config to accept them)`);
}

/**
 * Final whole-request checks: every input present exactly once (returned in the model's
 * input order) and one batch size shared by all inputs, within maxBatchSize.
 * Returns the request's batch size (1 for models without a batch dimension).
 */
export function checkRequestInputs(signature: ModelSignature, tensors: Tensor[]): { inputs: Tensor[]; batchSize: number } {
  const ordered: Tensor[] = [];
  for (const spec of signature.inputs) {
    const matches = tensors.filter((t) => t.name === spec.name);
    if (matches.length === 0) throw new BerthError('BERTH_ERR_INVALID_INPUT', `missing input ${describe(spec)}`);
    if (matches.length > 1) throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${spec.name}' is given ${matches.length} times`);
    ordered.push(matches[0]!);
  }
  if (signature.maxBatchSize === 0 || ordered.length === 0) return { inputs: ordered, batchSize: 1 };
  const first = ordered[0]!;
  const batchSize = first.shape[0]!;
  for (const t of ordered) {
    if (t.shape[0] !== batchSize) {
      throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${t.name}': batch size (first dimension) ${String(t.shape[0])} differs from input '${first.name}' with ${batchSize}`);
    }
  }
  if (batchSize > signature.maxBatchSize) {
    throw new BerthError('BERTH_ERR_BATCH_TOO_LARGE', `input '${first.name}': batch size ${batchSize} exceeds this model's maxBatchSize ${signature.maxBatchSize}; split the request`);
  }
  return { inputs: ordered, batchSize };
}

/** Names of the outputs to compute: the requested ones (checked) or all. */
export function checkRequestedOutputs(signature: ModelSignature, requested: readonly string[] | undefined): string[] {
  if (requested === undefined || requested.length === 0) return signature.outputs.map((o) => o.name);
  for (const name of requested) {
    if (!signature.outputs.some((o) => o.name === name)) {
      throw new BerthError('BERTH_ERR_INVALID_OUTPUT_REQUEST', `unknown output '${name}'; the model's outputs are ${signature.outputs.map((o) => `'${o.name}'`).join(', ')}`);
    }
  }
  if (new Set(requested).size !== requested.length) throw new BerthError('BERTH_ERR_INVALID_OUTPUT_REQUEST', 'an output is requested more than once');
  return [...requested];
}
