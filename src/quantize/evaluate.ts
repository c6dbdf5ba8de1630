/**
 * @module quantize/evaluate
 * Measures a model the way the quantize report shows it: outputs over a whole dataset,
 * predicted classes, accuracy against labels (or agreement with the FP32 model when there
 * are none), and latency as the median of repeated runs at a fixed batch size.
 */
import { performance } from 'node:perf_hooks';
import { BerthError, messageOf } from '../errors.js';
import { batchFeeds, type Dataset } from './data.js';
import type { Feeds, HostTensor, ModelRunner } from './runner.js';

/** Runs every sample through the model; outputs are concatenated along the sample axis. */
export async function runDataset(runner: ModelRunner, ds: Dataset, batchSize = 256, outputNames?: readonly string[]): Promise<Record<string, HostTensor>> {
  const parts: Record<string, HostTensor[]> = {};
  for (let start = 0; start < ds.count; start += batchSize) {
    let out: Record<string, HostTensor>;
    try {
      out = await runner.run(batchFeeds(ds, start, Math.min(ds.count, start + batchSize)), outputNames);
    } catch (err) {
      throw new BerthError('BERTH_ERR_QUANTIZE_VERIFY', `running samples ${start}… failed: ${messageOf(err)}`, { cause: err });
    }
    for (const [name, t] of Object.entries(out)) (parts[name] ??= []).push(t);
  }
  const result: Record<string, HostTensor> = {};
  for (const [name, list] of Object.entries(parts)) {
    const first = list[0]!;
    const total = list.reduce((a, t) => a + t.data.length, 0);
    const Ctor = first.data.constructor as new (n: number) => HostTensor['data'];
    const data = new Ctor(total);
    let off = 0;
    for (const t of list) { (data as Float32Array).set(t.data as Float32Array, off); off += t.data.length; }
    result[name] = { type: first.type, data, dims: [list.reduce((a, t) => a + (t.dims[0] ?? 0), 0), ...first.dims.slice(1)] };
  }
  return result;
}

/** Class per sample: argmax over [n, C≥2]; the value itself for [n] / [n, 1] (int labels, or a score > 0.5 for float). */
export function predictedClasses(t: HostTensor): Float64Array {
  const n = t.dims[0] ?? 0;
  const per = n === 0 ? 0 : t.data.length / n;
  const out = new Float64Array(n);
  const at = (i: number): number => Number((t.data as ArrayLike<number | bigint>)[i]!);
  const isFloat = t.type === 'float32' || t.type === 'float64' || t.type === 'float16';
  for (let i = 0; i < n; i++) {
    if (per >= 2) {
      let best = 0, bestV = -Infinity;
      for (let c = 0; c < per; c++) { const v = at(i * per + c); if (v > bestV) { bestV = v; best = c; } }
      out[i] = best;
    } else {
      const v = at(i);
      out[i] = isFloat ? (v > 0.5 ? 1 : 0) : v;
    }
  }
  return out;
}

/** Which output to score: the preferred one, else the first float output with ≥ 2 columns, else the first output. */
export function chooseOutput(outputs: Record<string, HostTensor>, preferred?: string): string {
  if (preferred !== undefined) {
    if (outputs[preferred] === undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', `the model has no output '${preferred}' (outputs: ${Object.keys(outputs).join(', ')})`);
    return preferred;
  }
  for (const [name, t] of Object.entries(outputs)) {
    if ((t.type === 'float32' || t.type === 'float64') && t.dims.length === 2 && t.dims[1]! >= 2) return name;
  }
  const first = Object.keys(outputs)[0];
  if (first === undefined) throw new BerthError('BERTH_ERR_QUANTIZE_VERIFY', 'the model produced no outputs');
  return first;
}

export function percentEqual(a: Float64Array, b: Float64Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length === 0 ? 100 : (100 * same) / a.length;
}

export function maxAbsDiff(a: HostTensor, b: HostTensor): number {
  let m = 0;
  const n = Math.min(a.data.length, b.data.length);
  for (let i = 0; i < n; i++) {
    const d = Math.abs(Number((a.data as ArrayLike<number | bigint>)[i]!) - Number((b.data as ArrayLike<number | bigint>)[i]!));
    if (d > m || Number.isNaN(d)) m = d;
  }
  return m;
}

export interface LatencyResult {
  batch: number;
  medianMs: number;
  p90Ms: number;
  runs: number;
}

/**
 * Latency of two models on the same feeds, alternating a run of one and a run of the other (and
 * which goes first), so a burst of load from another process slows both alike; median of
 * each after a warm-up; at least `minRuns` pairs and `minTimeMs` of timing per model.
 */
export async function measureLatencyPair(a: ModelRunner, b: ModelRunner, feeds: Feeds, options: { minRuns?: number; minTimeMs?: number; maxRuns?: number; warmup?: number } = {}): Promise<[LatencyResult, LatencyResult]> {
  const batch = Object.values(feeds)[0]?.dims[0] ?? 1;
  for (let i = 0; i < (options.warmup ?? 5); i++) { await a.run(feeds); await b.run(feeds); }
  const times: [number[], number[]] = [[], []];
  const runners = [a, b];
  const started = performance.now();
  const minRuns = options.minRuns ?? 30, minTime = options.minTimeMs ?? 400, maxRuns = options.maxRuns ?? 5000;
  for (let k = 0; k < maxRuns && (k < minRuns || performance.now() - started < 2 * minTime); k++) {
    for (const which of k % 2 === 0 ? [0, 1] : [1, 0]) {
      const t0 = performance.now();
      await runners[which]!.run(feeds);
      times[which]!.push(performance.now() - t0);
    }
  }
  return [summarize(times[0], batch), summarize(times[1], batch)];
}

function summarize(times: number[], batch: number): LatencyResult {
  times.sort((x, y) => x - y);
  const q = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
  return { batch, medianMs: times.length % 2 === 1 ? times[times.length >> 1]! : (times[times.length / 2 - 1]! + times[times.length / 2]!) / 2, p90Ms: q(0.9), runs: times.length };
}

/** What an output holds, which decides the metric that fits it. */
export type OutputKind = 'class-scores' | 'labels' | 'values';

/** One output of the converted model against FP32's on the same rows. */
export interface OutputComparison {
  name: string;
  kind: OutputKind;
  /** Dimensions after the sample axis. */
  sampleShape: number[];
  /** class-scores: % of rows with the same argmax; labels: % of equal values. */
  agreement?: number;
  meanAbsDiff: number;
  maxAbsDiff: number;
  /** Mean |FP32 value|, to read meanAbsDiff against. */
  meanAbsFp32: number;
}

/** Float [n, C ≥ 2]: class scores; integer [n] or [n, 1]: labels; anything else (maps, regressions): values. */
export function outputKind(t: HostTensor): OutputKind {
  const isFloat = t.type === 'float32' || t.type === 'float64' || t.type === 'float16';
  if (isFloat && t.dims.length === 2 && (t.dims[1] ?? 0) >= 2) return 'class-scores';
  if (!isFloat && (t.dims.length === 1 || (t.dims.length === 2 && t.dims[1] === 1))) return 'labels';
  return 'values';
}

/** Every output compared with the metric that fits it: argmax agreement, equality, or mean / max |Δ|. */
export function compareOutputsToFp32(fp32: Record<string, HostTensor>, converted: Record<string, HostTensor>): OutputComparison[] {
  const result: OutputComparison[] = [];
  for (const [name, ref] of Object.entries(fp32)) {
    const got = converted[name];
    if (got === undefined) continue;
    const kind = outputKind(ref);
    const n = Math.min(ref.data.length, got.data.length);
    let sum = 0, sumRef = 0, max = 0;
    for (let i = 0; i < n; i++) {
      const a = Number((ref.data as ArrayLike<number | bigint>)[i]!), b = Number((got.data as ArrayLike<number | bigint>)[i]!);
      const d = Math.abs(a - b);
      sum += d;
      sumRef += Math.abs(a);
      if (d > max || Number.isNaN(d)) max = d;
    }
    const c: OutputComparison = { name, kind, sampleShape: ref.dims.slice(1), meanAbsDiff: n === 0 ? 0 : sum / n, maxAbsDiff: max, meanAbsFp32: n === 0 ? 0 : sumRef / n };
    if (kind !== 'values') c.agreement = percentEqual(predictedClasses(ref), predictedClasses(got));
    result.push(c);
  }
  return result;
}
