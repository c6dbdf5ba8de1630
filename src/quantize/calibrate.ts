/**
 * @module quantize/calibrate
 * Static quantization needs the range of every activation it quantizes. This runs the
 * calibration data through a copy of the FP32 model whose graph outputs include every
 * tensor to observe, then turns what it saw into a [min, max] per tensor by one of:
 *   - minmax: the smallest and largest value seen (ONNX Runtime's default);
 *   - percentile: |x| histogram, cut at the given percentile (default 99.999), symmetric,
 *     clamped to the seen min/max — as ORT's PercentileCalibrater;
 *   - entropy: value histogram on [-absmax, absmax]; the threshold whose 128-level
 *     quantization loses least information (smallest KL divergence to the clipped
 *     distribution, TensorRT's method as ORT implements it), clamped to min/max.
 * Histograms are built in a second pass with the range from the first, instead of ORT's
 * growing histograms: same bins for every batch, same result for any batch order.
 * Runs go through an injected `CreateRunner`, so the server can calibrate off its main thread.
 */
import { BerthError, messageOf } from '../errors.js';
import { decodeModel, encodeModel } from '../onnx/codec.js';
import { makeValueInfo } from '../onnx/build.js';
import { DataType } from '../onnx/types.js';
import { batchFeeds, type Dataset } from './data.js';
import type { CreateRunner, HostTensor } from './runner.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

export interface TensorRange {
  min: number;
  max: number;
}

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** Percentile for 'percentile' (default 99.999, as ORT). */
  percentile?: number;
  /** Histogram bins (default 2048). ORT uses 2048 for percentile and 128 for entropy; 128 bins leave entropy a single candidate, i.e. minmax, so Berth uses 2048 for both. */
  bins?: number;
  /** Quantized levels the entropy search compares against (default 128, as ORT). */
  quantizedBins?: number;
  /** Samples per calibration run (default 64). */
  batchSize?: number;
  threads?: number;
}

/** A model whose outputs are `tensors` (plus its own), for observing intermediate values. */
export function augmentForCalibration(modelBytes: Uint8Array, tensors: readonly string[]): Uint8Array {
  const model = decodeModel(modelBytes);
  const graph = model.graph!;
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  for (const name of tensors) if (!existing.has(name)) (graph.output ??= []).push(makeValueInfo(name, DataType.FLOAT));
  return encodeModel(model);
}

function asFloat(t: HostTensor | undefined, name: string): Float32Array {
  if (t === undefined) throw new BerthError('BERTH_ERR_QUANTIZE_CALIBRATION', `calibration run did not return tensor '${name}'`);
  if (t.data instanceof Float32Array) return t.data;
  throw new BerthError('BERTH_ERR_QUANTIZE_CALIBRATION', `tensor '${name}' is ${t.type}, not float32`);
}

/** Runs calibration and returns a range per tensor. */
export async function calibrate(
  modelBytes: Uint8Array, tensors: readonly string[], data: Dataset, createRunner: CreateRunner, options: CalibrationOptions,
): Promise<Map<string, TensorRange>> {
  if (tensors.length === 0) return new Map();
  if (data.count === 0) throw new BerthError('BERTH_ERR_QUANTIZE_DATA', `${data.source}: calibration data has no samples`);
  const runner = await createRunner(augmentForCalibration(modelBytes, tensors), options.threads === undefined ? {} : { threads: options.threads });
  const batch = Math.max(1, options.batchSize ?? 64);
  const forEachBatch = async (visit: (name: string, values: Float32Array) => void): Promise<void> => {
    for (let start = 0; start < data.count; start += batch) {
      let out: Record<string, HostTensor>;
      try {
        out = await runner.run(batchFeeds(data, start, Math.min(data.count, start + batch)), tensors);
      } catch (err) {
        throw new BerthError('BERTH_ERR_QUANTIZE_CALIBRATION', `running the FP32 model on calibration samples ${start}… failed: ${messageOf(err)}`, { cause: err });
      }
      for (const name of tensors) visit(name, asFloat(out[name], name));
    }
  };
  try {
    const seen = new Map<string, TensorRange>(tensors.map((n) => [n, { min: Infinity, max: -Infinity }]));
    await forEachBatch((name, values) => {
      const r = seen.get(name)!;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (v < r.min) r.min = v;
        if (v > r.max) r.max = v;
      }
    });
    for (const r of seen.values()) if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) { r.min = 0; r.max = 0; }
    if (options.method === 'minmax') return seen;

    const bins = options.bins ?? 2048;
    const hists = new Map<string, Float64Array>(tensors.map((n) => [n, new Float64Array(bins)]));
    const absmax = new Map(tensors.map((n) => [n, Math.max(Math.abs(seen.get(n)!.min), Math.abs(seen.get(n)!.max))]));
    const byAbs = options.method === 'percentile';
    await forEachBatch((name, values) => {
      const h = hists.get(name)!;
      const a = absmax.get(name)!;
      if (a === 0) { h[byAbs ? 0 : bins >> 1]! += values.length; return; }
      const lo = byAbs ? 0 : -a;
      const k = bins / (a - lo);
      for (let i = 0; i < values.length; i++) {
        const v = byAbs ? Math.abs(values[i]!) : values[i]!;
        let b = Math.floor((v - lo) * k);
        if (b >= bins) b = bins - 1; else if (b < 0) b = 0;
        h[b]!++;
      }
    });
    const result = new Map<string, TensorRange>();
    for (const name of tensors) {
      const r = seen.get(name)!;
      const a = absmax.get(name)!;
      const h = hists.get(name)!;
      const t = a === 0 ? { min: 0, max: 0 }
        : byAbs ? percentileRange(h, a, options.percentile ?? 99.999)
        : entropyRange(h, a, options.quantizedBins ?? 128);
      result.set(name, { min: Math.max(t.min, r.min), max: Math.min(t.max, r.max) });
    }
    return result;
  } finally {
    await runner.release();
  }
}

/** Symmetric threshold at the percentile of an |x| histogram on [0, absmax]. */
export function percentileRange(hist: Float64Array, absmax: number, percentile: number): TensorRange {
  const total = hist.reduce((a, b) => a + b, 0);
  const target = percentile / 100;
  let cum = 0;
  let idx = hist.length;
  for (let i = 0; i < hist.length; i++) {
    cum += hist[i]! / total;
    if (cum >= target) { idx = i; break; }
  }
  // ORT takes the bin's left edge (np.searchsorted on the cdf, then hist_edges[idx]).
  const t = (idx * absmax) / hist.length;
  return { min: -t, max: t };
}

function smooth(p: Float64Array, eps = 0.0001): Float64Array | undefined {
  let zeros = 0;
  for (const v of p) if (v === 0) zeros++;
  const nonzeros = p.length - zeros;
  if (nonzeros === 0) return undefined;
  const eps1 = (eps * zeros) / nonzeros;
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = p[i] === 0 ? eps : p[i]! - eps1;
  return out;
}

function kl(p: Float64Array, q: Float64Array): number {
  let sp = 0, sq = 0;
  for (let i = 0; i < p.length; i++) { sp += p[i]!; sq += q[i]!; }
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    if (pi > 0) d += pi * Math.log(pi / (q[i]! / sq));
  }
  return d;
}

/**
 * Entropy (KL) calibration on a value histogram over [-absmax, absmax]: for each candidate
 * symmetric window around the zero bin, fold the outliers into the edge bins (p), squeeze
 * the window into `quantizedBins` levels and expand back (q), and keep the window whose
 * smoothed KL(p‖q) is least.
 */
export function entropyRange(hist: Float64Array, absmax: number, quantizedBins: number): TensorRange {
  const nb = hist.length;
  const zero = nb >> 1;
  const half = quantizedBins >> 1;
  const prefix = new Float64Array(nb + 1);
  for (let i = 0; i < nb; i++) prefix[i + 1] = prefix[i]! + hist[i]!;
  const edge = (k: number): number => -absmax + (2 * absmax * k) / nb;
  let best = Infinity;
  let bestRange: TensorRange = { min: -absmax, max: absmax };
  for (let i = half; i <= zero; i++) {
    const start = zero - i;
    const end = Math.min(zero + i + 1, nb);
    const len = end - start;
    const p = hist.slice(start, end);
    p[0]! += prefix[start]!;
    p[len - 1]! += prefix[nb]! - prefix[end]!;
    const merged = Math.floor(len / quantizedBins);
    const q = new Float64Array(len);
    for (let j = 0; j < quantizedBins; j++) {
      const s = j * merged;
      const e = j === quantizedBins - 1 ? len : s + merged;
      let sum = 0, nonzero = 0;
      for (let k = s; k < e; k++) { sum += hist[start + k]!; }
      // Levels expand back over the bins p counts as occupied.
      for (let k = s; k < s + merged; k++) if (p[k] !== 0) nonzero++;
      if (nonzero > 0) {
        const level = Math.trunc(sum / nonzero);
        for (let k = s; k < s + merged; k++) q[k] = level;
      }
    }
    const ps = smooth(p);
    const qs = smooth(q);
    const d = ps === undefined || qs === undefined ? Infinity : kl(ps, qs);
    if (d < best) {
      best = d;
      bestRange = { min: edge(start), max: edge(end) };
    }
  }
  return bestRange;
}
