/**
 * @module runtime/messages
 * The messages exchanged between the worker pool (HTTP thread) and a session worker.
 * Tensor data crosses as typed arrays whose buffers are transferred, never as JSON.
 */
import type { OrtType, TensorData } from './datatypes.js';

export interface SessionOptions {
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  enableCpuMemArena?: boolean;
}

export interface WireTensor {
  name: string;
  type: OrtType;
  dims: number[];
  data: TensorData;
}

export interface WireValueMetadata {
  name: string;
  isTensor: boolean;
  /** ORT type name ('float32', ...) for tensors. */
  type?: string;
  /** Dimensions: numbers, or strings for symbolic dims. */
  shape?: (number | string)[];
}

/**
 * Rows made in the worker from one record and background rows (explanations): for each
 * mask (a row of `masks`, one byte per feature), every background row with the masked-in
 * features' slots (`blocks`: offset, width pairs) taken from `x`. The reply is one score per
 * row — `output`'s element `row * stride + index` — in mask-major order.
 */
export interface MaskedRowsJob {
  input: string;
  x: Float32Array;
  /** Background rows, each x.length wide. */
  background: Float32Array;
  blocks: Int32Array;
  masks: Uint8Array;
  output: string;
  stride: number;
  index: number;
}

export type ToWorker =
  | { type: 'load'; id: number; key: string; path: string; options: SessionOptions }
  | { type: 'run'; id: number; key: string; feeds: WireTensor[]; fetches: string[] }
  | { type: 'masked'; id: number; key: string; job: MaskedRowsJob }
  | { type: 'unload'; id: number; key: string }
  /** Release every session and exit once the messages before it are handled (no reply: the worker exits). */
  | { type: 'shutdown'; id: number };

export type FromWorker =
  | { type: 'loaded'; id: number; inputs: WireValueMetadata[]; outputs: WireValueMetadata[]; loadMs: number; metadata: Record<string, string>; docString: string; memoryBytes: number }
  | { type: 'result'; id: number; outputs: WireTensor[]; computeNs: number }
  | { type: 'scores'; id: number; scores: Float64Array; computeNs: number }
  | { type: 'unloaded'; id: number }
  | { type: 'error'; id: number; message: string };
