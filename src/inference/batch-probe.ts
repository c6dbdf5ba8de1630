/**
 * @module inference/batch-probe
 * Proves, before a version is batched, that its first dimension really is a batch: a
 * dynamic first dimension only says the model accepts any length there, not that rows are
 * independent (a sequence-first LSTM, a CumSum or a mean over axis 0, Unique, or dynamic
 * INT8 quantization all accept it and mix rows). The probe runs a few rows one by one and
 * the same rows stacked, in two orders and with one row repeated, and batches only if every
 * row's outputs agree. Inputs are drawn from the signature (seeded), never from traffic.
 */
import { messageOf } from '../errors.js';
import { mulberry32 } from '../random.js';
import { allocate, fromHalfBits, type TensorData } from '../runtime/datatypes.js';
import { concatRows, sliceRows } from '../batching/tensor-batch.js';
import { formatShape } from './signature.js';
import type { ModelSignature, Tensor, TensorSpec } from './types.js';

/** Runs the model once on `inputs` (every input, in signature order) and returns every output. */
export type ProbeRun = (inputs: Tensor[]) => Promise<Tensor[]>;

export interface ProbeResult {
  /** Rows may be merged across requests. */
  batchable: boolean;
  /** Why, in words: shown in model metadata, the repository index and the log. */
  reason: string;
  /** Largest |single − stacked| difference seen on float outputs (0 when all agree exactly). */
  maxAbsDiff: number;
}

/** Distinct rows; the stacked batches are [a, b, a, c] and its reverse, so a repeated row and an order change are both seen. */
const DISTINCT_ROWS = 3;
const STACK_ORDER = [0, 1, 0, 2];
/** Float agreement: |x − y| ≤ REL·max(|x|, |y|) + ABS·(the output's largest magnitude). Kernels may sum in another order per batch size; that stays far below these. */
const REL_TOLERANCE = 1e-4;
const ABS_TOLERANCE = 1e-5;
/** Sizes tried for dynamic dimensions other than the batch one: 1 first, then a size convolutions and pooling accept. */
const INNER_SIZES = [1, 32];

function sample(spec: TensorSpec, innerSize: number, random: () => number): Tensor {
  const shape = [1, ...spec.shape.slice(1).map((d) => (d < 0 ? innerSize : d))];
  let count = 1;
  for (const d of shape) count *= d;
  const data = allocate(spec.datatype, count);
  fill(data, spec.datatype, random);
  return { name: spec.name, datatype: spec.datatype, shape, data };
}

function fill(data: TensorData, datatype: TensorSpec['datatype'], random: () => number): void {
  for (let i = 0; i < data.length; i++) {
    const u = random();
    switch (datatype) {
      case 'FP32':
      case 'FP64':
        (data as Float32Array)[i] = u;
        break;
      case 'FP16':
        // Half-precision bits of values in [0, 1): exponent 0x3800–0x3bff covers [0.5, 1).
        (data as Uint16Array)[i] = 0x3800 + Math.floor(u * 0x400);
        break;
      case 'BYTES':
        (data as string[])[i] = String.fromCharCode(97 + Math.floor(u * 4));
        break;
      case 'BOOL':
        (data as Uint8Array)[i] = u < 0.5 ? 0 : 1;
        break;
      case 'INT64':
      case 'UINT64':
        (data as BigInt64Array)[i] = BigInt(Math.floor(u * 4));
        break;
      default:
        // Small non-negative integers: valid indices for any lookup table of 4 or more entries.
        (data as Int32Array)[i] = Math.floor(u * 4);
    }
  }
}

function valueAt(t: Tensor, i: number): number {
  const v = t.data[i]!;
  return t.datatype === 'FP16' ? fromHalfBits(v as number) : Number(v);
}

/** Compares one row's outputs run alone with the same row inside a batch; returns the float difference, or a reason they disagree. */
function compareRow(alone: Tensor[], batched: Tensor[], row: number, diff: { max: number }): string | undefined {
  for (let k = 0; k < alone.length; k++) {
    const a = alone[k]!;
    const b = sliceRows(batched[k]!, row, 1);
    if (a.shape.join(',') !== b.shape.join(',')) return `output '${a.name}' has shape ${formatShape(b.shape)} for a row inside a batch but ${formatShape(a.shape)} alone`;
    const float = a.datatype === 'FP32' || a.datatype === 'FP64' || a.datatype === 'FP16';
    let scale = 0;
    if (float) for (let i = 0; i < a.data.length; i++) scale = Math.max(scale, Math.abs(valueAt(a, i)));
    for (let i = 0; i < a.data.length; i++) {
      if (!float) {
        const x = a.data[i]!;
        const y = b.data[i]!;
        if (x !== y) return `output '${a.name}' element ${i} is ${String(y)} for a row inside a batch but ${String(x)} alone`;
        continue;
      }
      const xf = valueAt(a, i);
      const yf = valueAt(b, i);
      if (Number.isNaN(xf) && Number.isNaN(yf)) continue;
      const d = Math.abs(xf - yf);
      if (d > diff.max) diff.max = d;
      if (!(d <= REL_TOLERANCE * Math.max(Math.abs(xf), Math.abs(yf)) + ABS_TOLERANCE * scale)) {
        return `output '${a.name}' element ${i} is ${yf} for a row inside a batch but ${xf} alone`;
      }
    }
  }
  return undefined;
}

/** Runs the probe; never throws (a model that cannot even run the probe is served unbatched, with the error as the reason). */
export async function probeBatching(signature: ModelSignature, run: ProbeRun, seed = 0x5eed): Promise<ProbeResult> {
  if (signature.maxBatchSize === 0) return { batchable: false, reason: 'the model has no batch dimension', maxAbsDiff: 0 };
  const hasInnerDynamic = signature.inputs.some((s) => s.shape.slice(1).some((d) => d < 0));
  let lastError = '';
  for (const innerSize of hasInnerDynamic ? INNER_SIZES : [1]) {
    const random = mulberry32(seed);
    const rows = Array.from({ length: DISTINCT_ROWS }, () => signature.inputs.map((s) => sample(s, innerSize, random)));
    let alone: Tensor[][];
    try {
      alone = [];
      for (const r of rows) alone.push(await run(r));
    } catch (err) {
      lastError = messageOf(err);
      continue; // this inner size does not suit the model; try the next
    }
    for (const [i, outs] of alone.entries()) {
      const bad = outs.find((o) => o.shape[0] !== 1);
      if (bad !== undefined) {
        return { batchable: false, reason: `not batched: for a 1-row input, output '${bad.name}' has shape ${formatShape(bad.shape)} (row ${i}), so its first dimension is not the batch`, maxAbsDiff: 0 };
      }
    }
    const diff = { max: 0 };
    for (const order of [STACK_ORDER, [...STACK_ORDER].reverse()]) {
      const stacked = signature.inputs.map((_, k) => concatRows(order.map((r) => rows[r]![k]!)));
      let outs: Tensor[];
      try {
        outs = await run(stacked);
      } catch (err) {
        return { batchable: false, reason: `not batched: the model runs one row at a time but fails on ${order.length} stacked rows (${messageOf(err)})`, maxAbsDiff: 0 };
      }
      const short = outs.find((o) => o.shape[0] !== order.length);
      if (short !== undefined) {
        return { batchable: false, reason: `not batched: ${order.length} stacked rows give output '${short.name}' of shape ${formatShape(short.shape)}, not one row per input row`, maxAbsDiff: 0 };
      }
      for (let j = 0; j < order.length; j++) {
        const why = compareRow(alone[order[j]!]!, outs, j, diff);
        if (why !== undefined) {
          return { batchable: false, reason: `not batched: rows are not independent (${why}); set batching.probe: false in berth.yaml to batch anyway`, maxAbsDiff: diff.max };
        }
      }
    }
    return { batchable: true, reason: `batched: ${DISTINCT_ROWS} probe rows give the same outputs alone and stacked (max |Δ| ${diff.max.toExponential(1)})`, maxAbsDiff: diff.max };
  }
  return { batchable: false, reason: `not batched: the batching probe could not run the model on generated inputs (${lastError}); set batching.probe: false in berth.yaml to batch anyway`, maxAbsDiff: 0 };
}
