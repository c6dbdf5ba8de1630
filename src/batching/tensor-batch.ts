/**
 * @module batching/tensor-batch
 * Concatenation of several requests' tensors along dimension 0 into one batch, and the
 * split of a batch's outputs back into per-request views. Typed arrays only: one
 * allocation per batched input, `set` for the copies, `subarray` (no copy) for the split.
 */
import { allocate, type TensorData } from '../runtime/datatypes.js';
import type { Tensor } from '../inference/types.js';

/** Concatenates tensor i of every request (all with equal trailing dims) along dim 0. */
export function concatRows(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (first === undefined) throw new RangeError('concatRows needs at least one tensor');
  if (parts.length === 1) return first;
  let rows = 0;
  let total = 0;
  for (const p of parts) {
    rows += p.shape[0] ?? 1;
    total += p.data.length;
  }
  const out = allocate(first.datatype, total);
  let offset = 0;
  if (Array.isArray(out)) {
    for (const p of parts) {
      const src = p.data as string[];
      for (let i = 0; i < src.length; i++) out[offset + i] = src[i]!;
      offset += src.length;
    }
  } else {
    for (const p of parts) {
      (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p.data as ArrayLike<number | bigint>, offset);
      offset += p.data.length;
    }
  }
  return { name: first.name, datatype: first.datatype, shape: [rows, ...first.shape.slice(1)], data: out };
}

/** Rows [start, start+count) of a batched tensor: a view for typed arrays, a slice for strings. */
export function sliceRows(t: Tensor, start: number, count: number): Tensor {
  const rows = t.shape[0] ?? 1;
  const rowSize = rows === 0 ? 0 : t.data.length / rows;
  const from = start * rowSize;
  const to = (start + count) * rowSize;
  const data: TensorData = Array.isArray(t.data) ? t.data.slice(from, to) : t.data.subarray(from, to);
  return { name: t.name, datatype: t.datatype, shape: [count, ...t.shape.slice(1)], data };
}

/** A key equal for requests whose tensors can share a batch: same non-batch dims per input. */
export function shapeKey(inputs: readonly Tensor[]): string {
  let key = '';
  for (const t of inputs) {
    for (let i = 1; i < t.shape.length; i++) key += `${t.shape[i]},`;
    key += ';';
  }
  return key;
}
