/**
 * @module bench/lib/report
 * The benchmark's results: one row per (model, mode, batch or concurrency), the ratios
 * between rows of the same run, the aims from the issue checked against them, and the
 * two printed tables.
 */
import type { CpuUse } from './proc-stat.js';
import type { ServerWindow } from './metrics-scrape.js';

export type Mode = 'raw' | 'worker' | 'floor' | 'server-off' | 'server-on' | 'server-nolog' | 'server-on-b' | 'decision-tensor' | 'decision-raw' | 'decision-raw-noanomaly';

/** Modes measured in process, call after call, at a batch size (the rest are HTTP at a concurrency). */
export function isInProcess(mode: Mode): boolean {
  return mode === 'raw' || mode === 'worker';
}

export const MODE_LABEL: Record<Mode, string> = {
  raw: 'raw ORT',
  worker: 'ORT via worker',
  floor: 'HTTP floor',
  'server-off': 'batching off',
  'server-on': 'batching on',
  'server-nolog': 'on, no decision log',
  'server-on-b': 'batching on [B]',
  'decision-tensor': 'pipeline: encoded tensor (V2)',
  'decision-raw': 'pipeline: raw record (V1)',
  'decision-raw-noanomaly': 'raw record, anomaly off',
};

export interface Row {
  model: string;
  mode: Mode;
  /** Batch size (in process) or concurrency (HTTP). */
  level: number;
  rowsPerSecond: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  /** Non-200 responses + socket errors; 0 in process. */
  errors: number;
  requests: number;
  /** From the server's /metrics over the measured window. */
  server?: ServerWindow;
  /** CPU of the serving process (HTTP rows). */
  serverCpu?: CpuUse;
  /** CPU of the load generator, cores. */
  generatorCpu?: number;
  /** CPU other processes on the machine used meanwhile, cores (noise). */
  otherCpu: number;
  /** Measurement slices (HTTP) or repeats (raw) pooled, and noisy ones thrown away. */
  slices: { used: number; discarded: number; noisy: boolean };
}

export interface Ratio {
  model: string;
  name: string;
  value: number;
  unit: '×' | 'ms';
  aim?: { op: '≥' | '≤'; target: number; met: boolean };
}

function find(rows: Row[], model: string, mode: Mode, level: number): Row | undefined {
  return rows.find((r) => r.model === model && r.mode === mode && r.level === level);
}

export interface RatioInputs {
  models: { name: string; computeBound: boolean }[];
  concurrency: number[];
  batches: number[];
}

/** Every ratio the issue asks for, for each model, and the aims where they apply. */
export function ratios(rows: Row[], o: RatioInputs): Ratio[] {
  const out: Ratio[] = [];
  const cMax = Math.max(...o.concurrency);
  const bMax = Math.max(...o.batches);
  const bMin = Math.min(...o.batches);
  const withAim = (r: Ratio, op: '≥' | '≤', target: number, applies: boolean): Ratio => {
    if (!applies || !Number.isFinite(r.value)) return r;
    return { ...r, aim: { op, target, met: op === '≥' ? r.value >= target : r.value <= target } };
  };
  for (const m of o.models) {
    const on = (c: number) => find(rows, m.name, 'server-on', c);
    const off = (c: number) => find(rows, m.name, 'server-off', c);
    const floor = (c: number) => find(rows, m.name, 'floor', c);
    const raw = (b: number) => find(rows, m.name, 'raw', b);
    const worker = (b: number) => find(rows, m.name, 'worker', b);
    const div = (a: Row | undefined, b: Row | undefined): number => (a === undefined || b === undefined ? NaN : a.rowsPerSecond / b.rowsPerSecond);

    // The aim compares like with like: as many requests in flight as rows in the raw batch.
    out.push(withAim({ model: m.name, name: `batching on c=${cMax} ÷ raw ORT b=${bMax} (rows/s)`, value: div(on(cMax), raw(bMax)), unit: '×' }, '≥', 0.9, m.computeBound && cMax === bMax));
    for (const c of o.concurrency) {
      out.push(withAim({ model: m.name, name: `batching on ÷ off, c=${c}`, value: div(on(c), off(c)), unit: '×' }, '≥', 3, m.computeBound && c === cMax));
    }
    for (const c of o.concurrency) out.push({ model: m.name, name: `batching on ÷ HTTP floor, c=${c}`, value: div(on(c), floor(c)), unit: '×' });
    // What logging every decision (SQLite, the default store) and live monitoring cost in throughput.
    for (const c of o.concurrency) {
      const nolog = find(rows, m.name, 'server-nolog', c);
      if (nolog !== undefined) out.push(withAim({ model: m.name, name: `decision log on ÷ off (batching on), c=${c}`, value: div(on(c), nolog), unit: '×' }, '≥', 0.95, c === cMax));
    }
    for (const c of o.concurrency) out.push({ model: m.name, name: `batching off ÷ HTTP floor, c=${c}`, value: div(off(c), floor(c)), unit: '×' });
    for (const c of o.concurrency) {
      const b = find(rows, m.name, 'server-on-b', c);
      if (b === undefined) continue;
      out.push({ model: m.name, name: `[B] ÷ batching on, c=${c} (rows/s)`, value: div(b, on(c)), unit: '×' });
      out.push({ model: m.name, name: `[B] − batching on, c=${c} (p50)`, value: b.latencyMs.p50 - (on(c)?.latencyMs.p50 ?? NaN), unit: 'ms' });
    }
    // The decision path (issue 11): a raw record through the server's pipeline vs the same row encoded by the client.
    const tensor = (c: number) => find(rows, m.name, 'decision-tensor', c);
    const rawRecord = (c: number) => find(rows, m.name, 'decision-raw', c);
    const noAnomaly = (c: number) => find(rows, m.name, 'decision-raw-noanomaly', c);
    if (tensor(cMax) !== undefined) {
      const lo = o.concurrency.includes(1) ? 1 : Math.min(...o.concurrency);
      const p50of = (r: Row | undefined): number => (r === undefined ? NaN : r.latencyMs.p50);
      out.push(withAim({ model: m.name, name: `raw record ÷ encoded tensor, c=${cMax} (rows/s)`, value: div(rawRecord(cMax), tensor(cMax)), unit: '×' }, '≥', 0.85, true));
      out.push({ model: m.name, name: `added p50: raw record − encoded tensor, c=${lo}`, value: p50of(rawRecord(lo)) - p50of(tensor(lo)), unit: 'ms' });
      out.push(withAim({ model: m.name, name: `p50 raw record ÷ encoded tensor, c=${lo}`, value: p50of(rawRecord(lo)) / p50of(tensor(lo)), unit: '×' }, '≤', 1.15, true));
      out.push({ model: m.name, name: `added p50: anomaly layer on − off (raw records), c=${lo}`, value: p50of(rawRecord(lo)) - p50of(noAnomaly(lo)), unit: 'ms' });
      out.push(withAim({ model: m.name, name: `p50 anomaly layer on ÷ off (raw records), c=${lo}`, value: p50of(rawRecord(lo)) / p50of(noAnomaly(lo)), unit: '×' }, '≤', 1.1, true));
      out.push({ model: m.name, name: `anomaly layer on ÷ off (raw records), c=${cMax} (rows/s)`, value: div(rawRecord(cMax), noAnomaly(cMax)), unit: '×' });
    }
    const c1 = o.concurrency.includes(1) ? 1 : Math.min(...o.concurrency);
    const b1 = o.batches.includes(1) ? 1 : bMin;
    const p50 = (r: Row | undefined): number => (r === undefined ? NaN : r.latencyMs.p50);
    const rawP50 = p50(raw(b1));
    out.push(withAim({ model: m.name, name: `added p50 latency: batching on c=${c1} − raw ORT b=${b1}`, value: p50(on(c1)) - rawP50, unit: 'ms' }, '≤', 0.3, c1 === 1 && b1 === 1));
    out.push({ model: m.name, name: `added p50 latency: batching off c=${c1} − raw ORT b=${b1}`, value: p50(off(c1)) - rawP50, unit: 'ms' });
    // Where the added latency goes: the thread hop, HTTP, and the rest of Berth's request path.
    out.push({ model: m.name, name: `  of which thread hop: ORT via worker b=${b1} − raw ORT b=${b1}`, value: p50(worker(b1)) - rawP50, unit: 'ms' });
    out.push({ model: m.name, name: `  of which HTTP: HTTP floor c=${c1}`, value: p50(floor(c1)), unit: 'ms' });
    out.push({ model: m.name, name: `  rest (decode, validate, queue, encode, metrics)`, value: p50(on(c1)) - p50(worker(b1)) - p50(floor(c1)), unit: 'ms' });
    const s1 = on(c1)?.server;
    out.push({ model: m.name, name: `  server side, body in → response encoded (mean, /metrics), c=${c1}`, value: s1?.serverMsPerRequest ?? NaN, unit: 'ms' });
    out.push({ model: m.name, name: `    of which ONNX Runtime run in the worker (mean, /metrics)`, value: s1 === undefined ? NaN : s1.computeMsPerBatch / Math.max(1, s1.meanBatchRequests), unit: 'ms' });
  }
  return out;
}

// ---- formatting ----

function num(x: number | undefined, digits: number): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}

function rate(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return Math.round(x).toLocaleString('en-US');
}

function table(header: string[], body: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (rightAligned[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export function formatRows(rows: Row[]): string {
  const header = ['model', 'mode', 'b / c', 'rows/s', 'p50 ms', 'p99 ms', 'errors', 'batch', 'ORT busy', 'srv CPU', 'main', 'main µs/req', 'worker', 'gen CPU', 'other'];
  const body = rows.map((r) => [
    r.model,
    MODE_LABEL[r.mode],
    isInProcess(r.mode) ? `b=${r.level}` : `c=${r.level}`,
    rate(r.rowsPerSecond),
    num(r.latencyMs.p50, 3),
    num(r.latencyMs.p99, 3),
    isInProcess(r.mode) ? '-' : String(r.errors),
    r.server === undefined ? '-' : num(r.server.meanBatchRows, 2),
    r.server === undefined ? '-' : `${num(r.server.ortBusy * 100, 0)} %`,
    r.serverCpu === undefined ? '-' : `${num(r.serverCpu.total * 100, 0)} %`,
    r.serverCpu === undefined ? '-' : `${num(r.serverCpu.main * 100, 0)} %`,
    r.serverCpu === undefined ? '-' : num((r.serverCpu.main * 1e6) / r.rowsPerSecond, 0),
    r.serverCpu === undefined ? '-' : `${num(r.serverCpu.busiestOther * 100, 0)} %`,
    r.generatorCpu === undefined ? '-' : `${num(r.generatorCpu * 100, 0)} %`,
    `${num(r.otherCpu * 100, 0)} %${r.slices.noisy ? ' *' : ''}`,
  ]);
  return table(header, body, [false, false, false, true, true, true, true, true, true, true, true, true, true, true, true]);
}

export function formatRatios(list: Ratio[]): string {
  const header = ['model', 'ratio', 'value', 'aim', 'met'];
  const body = list.map((r) => [
    r.model,
    r.name,
    r.unit === 'ms' ? `${num(r.value, 3)} ms` : `${num(r.value, 2)} ×`,
    r.aim === undefined ? '' : `${r.aim.op} ${r.aim.target}${r.unit === 'ms' ? ' ms' : ' ×'}`,
    r.aim === undefined ? '' : r.aim.met ? 'yes' : 'NO',
  ]);
  return table(header, body, [false, false, true, false, false]);
}
