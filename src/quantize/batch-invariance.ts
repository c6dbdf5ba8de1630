/**
 * @module quantize/batch-invariance
 * Does a row's answer depend on the rows batched with it? Dynamic INT8 quantizes
 * activations with one scale per tensor computed at run time over the whole batch, so the
 * same row can come out differently alone and inside a batch; static QDQ (fixed scales,
 * integer arithmetic) and FP16 should not. This is measured, never assumed: every sample
 * runs alone (batch 1) and inside consecutive batches of the served size, and the outputs
 * are compared element by element. The verdict becomes `berth.quantize.batch_invariant`,
 * which the server reads before it merges requests into one batch.
 */
import type { Dataset } from './data.js';
import { runDataset } from './evaluate.js';
import type { HostTensor, ModelRunner } from './runner.js';

/**
 * Agreement rule, the same as the server's load-time batch probe (src/inference/batch-probe.ts):
 * |alone − batched| ≤ REL·max(|alone|, |batched|) + ABS·(largest magnitude of that output).
 * Float kernels may sum in another order per batch size; that stays far below these, while a
 * per-batch activation scale moves outputs by a quantization step (≈ 1e-3 to 1e-1).
 */
export const BATCH_REL_TOLERANCE = 1e-4;
export const BATCH_ABS_TOLERANCE = 1e-5;

export interface BatchComparison {
  /** Largest |alone − batched| over every element of every output. */
  maxAbsDiff: number;
  /** The same per output (an integer label output shows a changed class as a difference ≥ 1). */
  perOutput: Record<string, number>;
  /** Elements outside the agreement rule (0 = batch-invariant on this data). */
  elementsOutside: number;
  invariant: boolean;
  /** Outputs at batch 1 and at the served batch size, for accuracy at both. */
  alone: Record<string, HostTensor>;
  batched: Record<string, HostTensor>;
}

const num = (t: HostTensor, i: number): number => Number((t.data as ArrayLike<number | bigint>)[i]!);

/** Compares outputs of the same rows run alone and in batches, with the agreement rule above. */
export function compareOutputs(alone: Record<string, HostTensor>, batched: Record<string, HostTensor>): { maxAbsDiff: number; perOutput: Record<string, number>; elementsOutside: number } {
  let elementsOutside = 0;
  const perOutput: Record<string, number> = {};
  for (const [name, a] of Object.entries(alone)) {
    const b = batched[name];
    if (b === undefined || b.data.length !== a.data.length) { elementsOutside += a.data.length; perOutput[name] = Infinity; continue; }
    let maxAbsDiff = 0;
    let scale = 0;
    for (let i = 0; i < a.data.length; i++) scale = Math.max(scale, Math.abs(num(a, i)), Math.abs(num(b, i)));
    for (let i = 0; i < a.data.length; i++) {
      const x = num(a, i), y = num(b, i);
      const d = Math.abs(x - y);
      if (Number.isNaN(d) ? !(Number.isNaN(x) && Number.isNaN(y)) : d > BATCH_REL_TOLERANCE * Math.max(Math.abs(x), Math.abs(y)) + BATCH_ABS_TOLERANCE * scale) elementsOutside++;
      if (d > maxAbsDiff) maxAbsDiff = d;
    }
    perOutput[name] = maxAbsDiff;
  }
  return { maxAbsDiff: Math.max(0, ...Object.values(perOutput)), perOutput, elementsOutside };
}

/** Runs every row of `data` alone and in consecutive batches of `servedBatch`, and compares. */
export async function measureBatchInvariance(runner: ModelRunner, data: Dataset, servedBatch: number, batched?: Record<string, HostTensor>): Promise<BatchComparison> {
  const inBatches = batched ?? await runDataset(runner, data, servedBatch);
  const alone = await runDataset(runner, data, 1);
  const { maxAbsDiff, perOutput, elementsOutside } = compareOutputs(alone, inBatches);
  return { maxAbsDiff, perOutput, elementsOutside, invariant: elementsOutside === 0, alone, batched: inBatches };
}
