/**
 * @module bench/lib/raw-ort
 * The ceilings. (1) Raw: onnxruntime-node in this process, no HTTP, no worker thread.
 * (2) Via the worker pool: the same session behind Berth's own `WorkerPool` (one worker
 * thread, tensors posted to it and back), which is exactly the thread hop every server
 * request makes, without HTTP. Both use the session options the server gives the model
 * (ONNX Runtime's defaults unless the model config sets `session`).
 *
 * For each batch size: warm up, then several timed repeats of back-to-back calls; rows/s
 * is the median over the repeats, p50/p99 are per call over all repeats. A repeat during
 * which other processes used more CPU than the noise threshold is thrown away and run
 * again (within a budget).
 */
import * as ort from 'onnxruntime-node';
import type { SessionOptions } from '../../src/runtime/messages.js';
import { WorkerPool } from '../../src/runtime/worker-pool.js';
import { LatencyHistogram } from './histogram.js';
import type { BenchModel } from './models.js';
import type { NoiseMeter } from './noise.js';

export interface RawOptions {
  batches: number[];
  warmupMs: number;
  repeats: number;
  repeatMs: number;
  session: SessionOptions;
}

export interface RawResult {
  batch: number;
  calls: number;
  /** Median over repeats of rows / second. */
  rowsPerSecond: number;
  /** Each repeat's rows / second, to judge the spread. */
  repeatRowsPerSecond: number[];
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** Cores other processes used during the kept repeats. */
  otherCpu: number;
  discardedRepeats: number;
  /** Out of retries: some kept repeats were noisy. */
  noisy: boolean;
}

export function ortVersion(): string {
  return ort.env.versions.node ?? ort.env.versions.common;
}

function rows(model: BenchModel, batch: number): Float32Array {
  const data = new Float32Array(model.row.length * batch);
  for (let b = 0; b < batch; b++) data.set(model.row, b * model.row.length);
  return data;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Repeat {
  hist: LatencyHistogram;
  rowsPerSecond: number;
  otherCores: number;
}

async function timedRepeat(call: () => Promise<unknown>, batch: number, ms: number, noise: NoiseMeter): Promise<Repeat> {
  const hist = new LatencyHistogram(100);
  let calls = 0;
  const mark = noise.mark();
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(ms * 1e6));
  let now = start;
  while (now < end) {
    const t0 = now;
    await call();
    now = process.hrtime.bigint();
    hist.recordNs(Number(now - t0));
    calls += 1;
  }
  return { hist, rowsPerSecond: (calls * batch) / (Number(now - start) / 1e9), otherCores: noise.otherCores(mark) };
}

/** Warm-up, then quiet repeats of back-to-back `call()`s. */
async function measureCalls(call: () => Promise<unknown>, batch: number, o: RawOptions, noise: NoiseMeter): Promise<RawResult> {
  const warmEnd = performance.now() + o.warmupMs;
  while (performance.now() < warmEnd) await call();

  const kept: Repeat[] = [];
  const rejected: Repeat[] = [];
  while (kept.length < o.repeats) {
    const r = await timedRepeat(call, batch, o.repeatMs, noise);
    if (noise.isQuiet(r.otherCores)) {
      kept.push(r);
      continue;
    }
    rejected.push(r);
    if (rejected.length > o.repeats) break;
    await noise.waitQuiet();
  }
  const noisy = kept.length < o.repeats;
  if (noisy) {
    rejected.sort((a, b) => a.otherCores - b.otherCores);
    kept.push(...rejected.splice(0, o.repeats - kept.length));
  }
  const hist = new LatencyHistogram(100);
  for (const r of kept) hist.merge(r.hist);
  const ms = (ns: number): number => ns / 1e6;
  return {
    batch,
    calls: hist.count,
    rowsPerSecond: median(kept.map((r) => r.rowsPerSecond)),
    repeatRowsPerSecond: kept.map((r) => Math.round(r.rowsPerSecond)),
    latencyMs: { mean: ms(hist.meanNs()), p50: ms(hist.percentileNs(50)), p90: ms(hist.percentileNs(90)), p99: ms(hist.percentileNs(99)), max: ms(hist.maxNs()) },
    otherCpu: kept.reduce((a, r) => a + r.otherCores, 0) / kept.length,
    discardedRepeats: rejected.length,
    noisy,
  };
}

/** onnxruntime-node in this process. */
export async function measureRaw(model: BenchModel, o: RawOptions, noise: NoiseMeter): Promise<RawResult[]> {
  const session = await ort.InferenceSession.create(model.file, o.session);
  const out: RawResult[] = [];
  try {
    for (const batch of o.batches) {
      const feeds = { [model.input]: new ort.Tensor('float32', rows(model, batch), [batch, ...model.rowShape]) };
      out.push(await measureCalls(() => session.run(feeds, session.outputNames), batch, o, noise));
    }
  } finally {
    await session.release();
  }
  return out;
}

/** The same session behind Berth's WorkerPool (one worker): ORT plus the thread hop. */
export async function measureViaWorker(model: BenchModel, o: RawOptions, noise: NoiseMeter): Promise<RawResult[]> {
  const pool = new WorkerPool({ size: 1 });
  const out: RawResult[] = [];
  try {
    const handle = await pool.load(model.file, o.session);
    const fetches = handle.outputs.map((m) => m.name);
    for (const batch of o.batches) {
      // Copied by structured clone on every call, as the server does for a lone request.
      const feeds = [{ name: model.input, type: 'float32' as const, dims: [batch, ...model.rowShape], data: rows(model, batch) }];
      out.push(await measureCalls(() => pool.run(handle, feeds, fetches), batch, o, noise));
    }
  } finally {
    await pool.close();
  }
  return out;
}
