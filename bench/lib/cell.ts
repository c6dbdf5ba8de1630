/**
 * @module bench/lib/cell
 * One HTTP cell of the table: a model, a server (Berth with batching off/on, or the HTTP
 * floor) and a concurrency. After a warm-up the measurement runs as one-second slices of
 * the load generator; cells compared with each other take their slices in turn. A slice
 * during which other processes used more CPU than the noise threshold is thrown away and
 * re-run (within a budget). The accepted slices are pooled: their requests, their latency
 * distributions, the server's /metrics deltas and the CPU its threads used.
 */
import { LatencyHistogram } from './histogram.js';
import type { LoadOptions, LoadResult } from './load-result.js';
import { scrape, windowOf, type ServerCounters } from './metrics-scrape.js';
import type { NoiseMeter } from './noise.js';
import { cpuUse, meanCpuUse, threadTimes, type ThreadTimes } from './proc-stat.js';
import type { Mode, Row } from './report.js';

export type LoadRunner = (o: LoadOptions) => Promise<LoadResult>;

export interface CellSpec {
  model: string;
  mode: Exclude<Mode, 'raw'>;
  baseUrl: string;
  /** The serving process, for its CPU times. */
  pid: number;
  bodyFile: string;
  headers: Record<string, string>;
  /** The request path (default /v2/models/<model>/infer). */
  path?: string;
  concurrency: number;
  /** Seconds of accepted measurement wanted. */
  seconds: number;
  /** Seconds of one slice (the whole measurement when the generator is slow to start). */
  sliceSeconds: number;
  warmupSeconds: number;
  /** Extra slices allowed to replace noisy ones (0 with noiseGate off: keep every slice). */
  maxRetries: number;
  /** Re-run slices measured while the machine was busy (default on). */
  noiseGate?: boolean;
  cwd: string;
  /** Called when the warm-up is over and measuring starts. */
  onMeasureStart?: () => void;
}

interface Slice {
  load: LoadResult;
  wallS: number;
  threadsBefore: ThreadTimes[];
  threadsAfter: ThreadTimes[];
  countersBefore: ServerCounters | undefined;
  countersAfter: ServerCounters | undefined;
  otherCores: number;
}

function sumCpu(ts: ThreadTimes[]): number {
  return ts.reduce((a, t) => a + t.cpuS, 0);
}

async function runSlice(spec: CellSpec, seconds: number, load: LoadRunner, noise: NoiseMeter): Promise<Slice> {
  const isServer = spec.mode !== 'floor';
  const url = `${spec.baseUrl}${spec.path ?? `/v2/models/${spec.model}/infer`}`;
  const countersBefore = isServer ? await scrape(spec.baseUrl, spec.model) : undefined;
  const threadsBefore = threadTimes(spec.pid);
  const mark = noise.mark();
  const r = await load({ url, bodyFile: spec.bodyFile, headers: spec.headers, concurrency: spec.concurrency, seconds, cwd: spec.cwd });
  const threadsAfter = threadTimes(spec.pid);
  const otherCores = noise.otherCores(mark, sumCpu(threadsAfter) - sumCpu(threadsBefore) + r.generatorCpuS);
  const wallS = Number(process.hrtime.bigint() - mark.t) / 1e9;
  const countersAfter = isServer ? await scrape(spec.baseUrl, spec.model) : undefined;
  return { load: r, wallS, threadsBefore, threadsAfter, countersBefore, countersAfter, otherCores };
}

export async function runCell(spec: CellSpec, load: LoadRunner, noise: NoiseMeter): Promise<Row> {
  const [row] = await runInterleaved([spec], load, noise);
  return row!;
}

interface Progress {
  spec: CellSpec;
  wanted: number;
  accepted: Slice[];
  rejected: Slice[];
}

/**
 * Measures several cells (the same concurrency against different servers) together, one
 * slice of each in turn, so that a slow spell of the machine hits them all alike and the
 * ratios between them stay fair. Returns one row per spec, in order.
 */
export async function runInterleaved(specs: CellSpec[], load: LoadRunner, noise: NoiseMeter): Promise<Row[]> {
  for (const spec of specs) {
    const url = `${spec.baseUrl}${spec.path ?? `/v2/models/${spec.model}/infer`}`;
    if (spec.warmupSeconds > 0) await load({ url, bodyFile: spec.bodyFile, headers: spec.headers, concurrency: spec.concurrency, seconds: spec.warmupSeconds, cwd: spec.cwd });
  }
  for (const spec of specs) spec.onMeasureStart?.();
  const state: Progress[] = specs.map((spec) => ({ spec, wanted: Math.max(1, Math.round(spec.seconds / spec.sliceSeconds)), accepted: [], rejected: [] }));
  const needsMore = (p: Progress): boolean => p.accepted.length < p.wanted && p.rejected.length <= p.spec.maxRetries;
  while (state.some(needsMore)) {
    let noisy = false;
    for (const p of state) {
      if (!needsMore(p)) continue;
      const s = await runSlice(p.spec, p.spec.sliceSeconds, load, noise);
      if (p.spec.noiseGate === false || noise.isQuiet(s.otherCores)) p.accepted.push(s);
      else {
        p.rejected.push(s);
        noisy = true;
      }
    }
    if (noisy) await noise.waitQuiet();
  }
  return state.map((p) => {
    // Out of retries: fill up with the least noisy rejected slices, and say so.
    const short = p.accepted.length < p.wanted;
    if (short) {
      p.rejected.sort((a, b) => a.otherCores - b.otherCores);
      p.accepted.push(...p.rejected.splice(0, p.wanted - p.accepted.length));
    }
    return pool(p.spec, p.accepted, p.rejected.length, short);
  });
}

function pool(spec: CellSpec, slices: Slice[], discarded: number, noisy: boolean): Row {
  const hist = new LatencyHistogram(100);
  let seconds = 0;
  let requests = 0;
  let ok = 0;
  let errors = 0;
  let generatorS = 0;
  let wall = 0;
  let otherS = 0;
  for (const s of slices) {
    for (const [us, n] of s.load.latencyUs) hist.recordNs(us * 1000, n);
    seconds += s.load.seconds;
    requests += s.load.requests;
    ok += s.load.requests - s.load.non200;
    errors += s.load.non200 + s.load.socketErrors;
    generatorS += s.load.generatorCpuS;
    wall += s.wallS;
    otherS += s.otherCores * s.wallS;
  }
  const ms = (ns: number): number => ns / 1e6;
  const row: Row = {
    model: spec.model,
    mode: spec.mode,
    level: spec.concurrency,
    rowsPerSecond: ok / seconds,
    latencyMs: { mean: ms(hist.meanNs()), p50: ms(hist.percentileNs(50)), p90: ms(hist.percentileNs(90)), p99: ms(hist.percentileNs(99)), max: ms(hist.maxNs()) },
    errors,
    requests,
    generatorCpu: generatorS / wall,
    otherCpu: otherS / wall,
    slices: { used: slices.length, discarded, noisy },
  };

  const uses = slices.filter((s) => s.threadsAfter.length > 0).map((s) => ({ use: cpuUse(s.threadsBefore, s.threadsAfter, spec.pid, s.wallS), wallS: s.wallS }));
  if (uses.length > 0) row.serverCpu = meanCpuUse(uses);

  if (spec.mode !== 'floor') {
    const b = slices.map((s) => s.countersBefore!);
    const a = slices.map((s) => s.countersAfter!);
    const add = (xs: ServerCounters[]): ServerCounters =>
      xs.reduce((acc, x) => ({
        batches: acc.batches + x.batches, batchRows: acc.batchRows + x.batchRows, batchRequests: acc.batchRequests + x.batchRequests,
        computeS: acc.computeS + x.computeS, requests: acc.requests + x.requests, requestS: acc.requestS + x.requestS, queueS: acc.queueS + x.queueS,
      }));
    row.server = windowOf(add(b), add(a), seconds);
  }
  return row;
}
