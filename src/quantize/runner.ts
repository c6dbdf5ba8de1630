/**
 * @module quantize/runner
 * The one place the quantizer touches ONNX Runtime. Everything else sees a `ModelRunner`
 * made by a `CreateRunner`, so callers can inject their own — the server passes one that
 * runs in a worker thread; the CLI uses the in-process `createOrtRunner`.
 */
import * as ort from 'onnxruntime-node';
import { BerthError, messageOf } from '../errors.js';
import { float16BitsToFloat32, float32ToFloat16Array } from '../onnx/tensor.js';

export type HostData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;

/** A tensor on the host: element type name as onnxruntime-common spells it. */
export interface HostTensor {
  type: 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool' | 'float16';
  data: HostData;
  dims: number[];
}

export type Feeds = Record<string, HostTensor>;

export interface ModelRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

export interface RunnerOptions {
  /** Intra-op threads (0 = ONNX Runtime's default: one per core). */
  threads?: number;
  /** ORT graph optimizations; 'all' unless told otherwise. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

export type CreateRunner = (model: Uint8Array, options?: RunnerOptions) => Promise<ModelRunner>;

export const createOrtRunner: CreateRunner = async (model, options = {}) => {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, {
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: options.optimization ?? 'all',
      logSeverityLevel: 3,
    });
  } catch (err) {
    throw new BerthError('BERTH_ERR_QUANTIZE_VERIFY', `ONNX Runtime could not load the model: ${messageOf(err)}`, { cause: err });
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputNames) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data as never, t.dims);
      const result = outputNames === undefined ? await session.run(ortFeeds) : await session.run(ortFeeds, [...outputNames]);
      const out: Record<string, HostTensor> = {};
      for (const [name, v] of Object.entries(result)) {
        out[name] = { type: v.type as HostTensor['type'], data: v.data as HostData, dims: [...v.dims] };
      }
      return out;
    },
    release: () => session.release(),
  };
};

/**
 * For an FP16 model whose own inputs and outputs are float16 (`--no-keep-io-types`): feeds
 * float32 data as float16 and returns float16 outputs as float32, so it can be measured on
 * the same data and against the same outputs as the FP32 model.
 */
export function withFloat32Io(create: CreateRunner): CreateRunner {
  return async (model, options) => {
    const inner = await create(model, options);
    return {
      inputNames: inner.inputNames,
      outputNames: inner.outputNames,
      async run(feeds, outputNames) {
        const half: Feeds = {};
        for (const [name, t] of Object.entries(feeds)) half[name] = t.type === 'float32' ? { type: 'float16', data: float32ToFloat16Array(t.data as Float32Array), dims: t.dims } : t;
        const out = await inner.run(half, outputNames);
        for (const [name, t] of Object.entries(out)) if (t.type === 'float16') out[name] = { type: 'float32', data: float16BitsToFloat32(t.data as Uint16Array), dims: t.dims };
        return out;
      },
      release: () => inner.release(),
    };
  };
}
