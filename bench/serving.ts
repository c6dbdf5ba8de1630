/**
 * @module bench/serving
 * `npm run bench`: the serving benchmark. For each example model it measures (a) raw
 * onnxruntime-node in this process at batch 1, 8, 32, and the same session behind Berth's
 * worker pool; (b) the Berth server over HTTP at concurrency 1, 8, 32 with dynamic
 * batching off and on; (c) a bare fastify endpoint that returns the same response bytes,
 * the HTTP floor. Servers and the load generator (wrk, or a Node fallback) each run in
 * their own process for a bounded time; the three servers of a model run side by side and
 * their cells are measured in interleaved one-second slices, re-run when other processes
 * were busy. It prints one table (rows/s, p50/p99, errors, and the server's own view: mean
 * batch, ORT busy, CPU per thread), the ratios with the aims from the issue, optionally a
 * CPU profile of the server, and writes everything as JSON to bench/results/.
 * docs/benchmarks.md explains the rows and what limits them.
 *
 * Quick run: BENCH_SECONDS=1 npm run bench. Options: npm run bench -- --help
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readTabularSpec, TabularEncoder } from '../src/preprocessing/tabular.js';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { startChild, type StartedChild } from './lib/child.js';
import { runCell, runInterleaved, type LoadRunner } from './lib/cell.js';
import { formatSummary, summariseProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { runNodeLoad } from './lib/loadgen-node.js';
import { machineInfo, type MachineInfo } from './lib/machine.js';
import { loadModel, MODEL_NAMES, type BenchModel } from './lib/models.js';
import { NoiseMeter } from './lib/noise.js';
import { measureRaw, measureViaWorker, ortVersion, type RawResult } from './lib/raw-ort.js';
import { formatRatios, formatRows, isInProcess, MODE_LABEL, ratios, type Mode, type Ratio, type Row } from './lib/report.js';
import { findWrk, runWrk, wrkVersion } from './lib/wrk.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER_MAIN = join(ROOT, 'bench/lib/server-main.ts');
const FLOOR_MAIN = join(ROOT, 'bench/lib/floor-main.ts');

interface Options {
  seconds: number;
  warmup: number;
  models: string[];
  concurrency: number[];
  batches: number[];
  rawRepeatMs: number;
  loadgen: 'wrk' | 'node' | undefined;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  intraOpThreads: number | undefined;
  profile: boolean;
  profileModel: string;
  profileConcurrency: number | undefined;
  profileOnly: boolean;
  noiseThreshold: number;
  waitBudgetS: number;
  serverSrc: string | undefined;
  compareSrc: string | undefined;
  protocol: 'json' | 'binary';
  /** Also run a batching-on server with the decision log switched off. */
  decisionLogOff: boolean;
  /** Also measure the decision path on income (raw records vs tensors, anomaly layer on vs off). */
  decisionPath: boolean;
  out: string;
}

// ---- options ----

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a number > 0, got '${v}'`);
    return n;
  };
}

function intList(name: string) {
  return (v: string): number[] => {
    const xs = v.split(',').map((s) => Number(s.trim()));
    if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new InvalidArgumentError(`${name} must be a comma-separated list of integers ≥ 1, got '${v}'`);
    return xs;
  };
}

function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`environment ${name} must be a number > 0, got '${raw}'`);
  return n;
}

function parseOptions(argv: string[]): Options {
  const program = new Command('bench')
    .description('Serving benchmark: raw ONNX Runtime vs the Berth server (batching off/on) vs a bare HTTP endpoint')
    .option('--seconds <s>', 'measured seconds per HTTP cell (env BENCH_SECONDS, default 5)', positive('--seconds'))
    .option('--warmup <s>', 'warm-up seconds before each HTTP cell (env BENCH_WARMUP_SECONDS, default min(2, seconds))', positive('--warmup'))
    .option('--models <list>', `models to run (default ${MODEL_NAMES.join(',')})`, (v: string) => v.split(',').map((s) => s.trim()))
    .option('--concurrency <list>', 'HTTP concurrency levels (default 1,8,32)', intList('--concurrency'))
    .option('--batches <list>', 'raw ONNX Runtime batch sizes (default 1,8,32)', intList('--batches'))
    .option('--raw-repeat-ms <ms>', 'length of each of the 5 timed raw repeats (default min(400, 80 × seconds))', positive('--raw-repeat-ms'))
    .option('--loadgen <name>', 'wrk or node (default: wrk when installed)', (v: string) => {
      if (v !== 'wrk' && v !== 'node') throw new InvalidArgumentError(`--loadgen must be wrk or node, got '${v}'`);
      return v;
    })
    .option('--max-batch-size <n>', 'maxBatchSize in the generated berth.yaml (default 32)', positive('--max-batch-size'))
    .option('--max-queue-delay-ms <ms>', 'batching.maxQueueDelayMs when batching is on (default 0)', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`--max-queue-delay-ms must be a number ≥ 0, got '${v}'`);
      return n;
    })
    .option('--intra-op-threads <n>', 'experiment: session.intraOpNumThreads for the server and raw ORT (default: ORT decides)', positive('--intra-op-threads'))
    .option('--profile', 'afterwards, profile the server (batching on, highest concurrency) with --cpu-prof and summarise')
    .option('--profile-model <name>', 'model for --profile (default digits)')
    .option('--profile-only', 'only the --profile run, no table')
    .option('--profile-concurrency <n>', 'concurrency for --profile (default: the highest)', positive('--profile-concurrency'))
    .option('--noise-threshold <cores>', 'retry a measurement slice when other processes used more CPU than this (default 0.25 cores)', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`--noise-threshold must be a number ≥ 0, got '${v}'`);
      return n;
    })
    .option('--wait-budget <s>', 'total seconds to wait for a busy machine to quieten (default 60)', positive('--wait-budget'))
    .option('--protocol <p>', 'json (default), or binary: raw FP32 bodies and binary outputs (binary tensor data extension)', (v: string) => {
      if (v !== 'json' && v !== 'binary') throw new InvalidArgumentError(`--protocol must be json or binary, got '${v}'`);
      return v;
    })
    .option('--server-src <dir>', 'experiment: build the server from this copy of src/ (A/B a change without touching the tree)')
    .option('--compare-src <dir>', 'experiment: also run a batching-on server built from this copy of src/ ("[B]"), interleaved with the others')
    .option('--no-decision-log-comparison', 'skip the batching-on server without decision log (the logging on ÷ off ratio)')
    .option('--no-decision-path', 'skip the decision-path rows (income: raw records vs encoded tensors, anomaly layer on vs off)')
    .option('--out <dir>', 'where to write the JSON (default bench/results)');
  program.parse(argv);
  const f = program.opts<{
    seconds?: number; warmup?: number; models?: string[]; concurrency?: number[]; batches?: number[]; rawRepeatMs?: number;
    loadgen?: 'wrk' | 'node'; maxBatchSize?: number; maxQueueDelayMs?: number; intraOpThreads?: number; profile?: boolean; profileModel?: string; profileConcurrency?: number; profileOnly?: boolean;
    noiseThreshold?: number; waitBudget?: number; serverSrc?: string; compareSrc?: string; protocol?: 'json' | 'binary'; out?: string;
    decisionLogComparison?: boolean;
    decisionPath?: boolean;
  }>();
  const seconds = Math.max(1, Math.round(f.seconds ?? envNumber('BENCH_SECONDS') ?? 5));
  const models = f.models ?? MODEL_NAMES;
  for (const m of models) if (!MODEL_NAMES.includes(m)) throw new InvalidArgumentError(`--models: unknown model '${m}'; known: ${MODEL_NAMES.join(', ')}`);
  return {
    seconds,
    warmup: Math.round(f.warmup ?? envNumber('BENCH_WARMUP_SECONDS') ?? Math.min(2, seconds)),
    models,
    concurrency: f.concurrency ?? [1, 8, 32],
    batches: f.batches ?? [1, 8, 32],
    rawRepeatMs: f.rawRepeatMs ?? Math.min(400, 80 * seconds),
    loadgen: f.loadgen,
    maxBatchSize: Math.round(f.maxBatchSize ?? 32),
    maxQueueDelayMs: f.maxQueueDelayMs ?? 0,
    intraOpThreads: f.intraOpThreads === undefined ? undefined : Math.round(f.intraOpThreads),
    profile: f.profile === true || f.profileOnly === true,
    profileOnly: f.profileOnly === true,
    profileModel: f.profileModel ?? 'digits',
    profileConcurrency: f.profileConcurrency === undefined ? undefined : Math.round(f.profileConcurrency),
    noiseThreshold: f.noiseThreshold ?? 0.25,
    waitBudgetS: f.waitBudget ?? 60,
    serverSrc: f.serverSrc === undefined ? undefined : resolve(f.serverSrc),
    protocol: f.protocol ?? 'json',
    decisionLogOff: f.decisionLogComparison !== false,
    decisionPath: f.decisionPath !== false,
    compareSrc: f.compareSrc === undefined ? undefined : resolve(f.compareSrc),
    out: resolve(f.out ?? join(ROOT, 'bench/results')),
  };
}

// ---- servers ----

function berthYaml(o: Options, batching: boolean): string {
  const lines = [
    '# generated by bench/serving.ts',
    `maxBatchSize: ${o.maxBatchSize}`,
    'batching:',
    ...(batching ? ['  enabled: true', `  maxQueueDelayMs: ${o.maxQueueDelayMs}`] : ['  enabled: false']),
  ];
  if (o.intraOpThreads !== undefined) lines.push('session:', `  intraOpNumThreads: ${o.intraOpThreads}`);
  return `${lines.join('\n')}\n`;
}

/** A one-model repository: <dir>/<model>/1/model.onnx + berth.yaml. */
function makeRepository(scratch: string, model: BenchModel, yaml: string, tag: string): string {
  const repo = join(scratch, `repo-${model.name}-${tag}`);
  mkdirSync(join(repo, model.name, '1'), { recursive: true });
  cpSync(model.file, join(repo, model.name, '1', 'model.onnx'));
  writeFileSync(join(repo, model.name, 'berth.yaml'), yaml);
  return repo;
}

function serverArgs(o: Options, repo: string, src = o.serverSrc): string[] {
  return src === undefined ? [repo] : [repo, src];
}

/** What every HTTP request sends: JSON, or the raw binary form of the binary tensor data extension. */
interface RequestSpec {
  file: string;
  body: Buffer;
  headers: Record<string, string>;
}

function requestSpec(model: BenchModel, protocol: Options['protocol'], scratch: string): RequestSpec {
  const body = protocol === 'json' ? Buffer.from(model.body) : model.binaryBody;
  const headers: Record<string, string> = protocol === 'json'
    ? { 'Content-Type': 'application/json' }
    : { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': '0' };
  const file = join(scratch, `${model.name}-request.${protocol === 'json' ? 'json' : 'bin'}`);
  writeFileSync(file, body);
  return { file, body, headers };
}

interface SampleResponse {
  body: Buffer;
  contentType: string;
  headerLength: string | undefined;
}

/** One request through the server: it must answer 200 with the model's outputs. */
async function sanity(inferUrl: string, req: RequestSpec): Promise<SampleResponse> {
  const res = await fetch(inferUrl, { method: 'POST', headers: req.headers, body: req.body });
  const body = Buffer.from(await res.arrayBuffer());
  const headerLength = res.headers.get('inference-header-content-length') ?? undefined;
  const jsonPart = body.toString('utf8', 0, headerLength === undefined ? body.length : Number(headerLength));
  if (res.status !== 200) throw new Error(`${inferUrl} answered ${res.status}: ${jsonPart.slice(0, 300)}`);
  const json = JSON.parse(jsonPart) as { outputs?: unknown[] };
  if (!Array.isArray(json.outputs) || json.outputs.length === 0) throw new Error(`${inferUrl}: response has no outputs: ${jsonPart.slice(0, 300)}`);
  return { body, contentType: res.headers.get('content-type') ?? 'application/json', headerLength };
}

// ---- cells ----

function progress(row: Row): void {
  const extra = row.server === undefined ? '' : `  batch ${row.server.meanBatchRows.toFixed(2)}`;
  const noise = `  other CPU ${(row.otherCpu * 100).toFixed(0)} %${row.slices.discarded > 0 ? ` (${row.slices.discarded} noisy slice(s) re-run)` : ''}${row.slices.noisy ? ' NOISY' : ''}`;
  process.stderr.write(`  ${row.model} ${MODE_LABEL[row.mode]} ${isInProcess(row.mode) ? 'b' : 'c'}=${row.level}: ${Math.round(row.rowsPerSecond)} rows/s, p50 ${row.latencyMs.p50.toFixed(3)} ms${extra}${row.errors > 0 ? `  ERRORS ${row.errors}` : ''}${noise}\n`);
}

async function withChild<T>(child: StartedChild, fn: (c: StartedChild) => Promise<T>): Promise<T> {
  try {
    return await fn(child);
  } finally {
    await child.stop();
  }
}

interface Env {
  o: Options;
  scratch: string;
  load: LoadRunner;
  noise: NoiseMeter;
  /** One slice per run of the generator: 1 s with wrk, the whole measurement with the slow-starting Node generator. */
  sliceSeconds: number;
}

function cellSpec(env: Env, model: BenchModel, mode: Exclude<Mode, 'raw' | 'worker'>, child: StartedChild, req: RequestSpec, concurrency: number) {
  const { o } = env;
  return {
    model: model.name, mode, baseUrl: child.ready.split(' ')[0]!, pid: child.pid, bodyFile: req.file, headers: req.headers, concurrency,
    seconds: o.seconds, sliceSeconds: env.sliceSeconds, warmupSeconds: o.warmup, maxRetries: Math.ceil(o.seconds / env.sliceSeconds), cwd: ROOT,
  };
}

/** The three servers of a model run side by side (idle ones cost nothing) so their cells can interleave. */
async function benchModelHttp(model: BenchModel, env: Env): Promise<Row[]> {
  const { o, scratch } = env;
  const req = requestSpec(model, o.protocol, scratch);
  const started: StartedChild[] = [];
  try {
    const servers: { mode: Exclude<Mode, 'raw' | 'worker'>; child: StartedChild }[] = [];
    let sample: SampleResponse | undefined;
    const modes: Exclude<Mode, 'raw' | 'worker' | 'floor'>[] = ['server-off', 'server-on'];
    if (o.decisionLogOff) modes.push('server-nolog');
    if (o.compareSrc !== undefined) modes.push('server-on-b');
    for (const mode of modes) {
      const repo = makeRepository(scratch, model, berthYaml(o, mode !== 'server-off'), mode);
      const args = serverArgs(o, repo, mode === 'server-on-b' ? o.compareSrc : o.serverSrc);
      const child = await startChild(SERVER_MAIN, mode === 'server-nolog' ? [...args, '--no-decision-log'] : args, { cwd: ROOT });
      started.push(child);
      sample = await sanity(`${child.ready.split(' ')[0]!}/v2/models/${model.name}/infer`, req);
      servers.push({ mode, child });
    }
    // The floor answers with the very bytes the model returned.
    const responseFile = join(scratch, `${model.name}-response`);
    writeFileSync(responseFile, sample!.body);
    const floorArgs = [responseFile, sample!.contentType, ...(sample!.headerLength === undefined ? [] : [sample!.headerLength])];
    const floor = await startChild(FLOOR_MAIN, floorArgs, { cwd: ROOT });
    started.push(floor);
    const check = await sanity(`${floor.ready.split(' ')[0]!}/v2/models/${model.name}/infer`, req);
    if (!check.body.equals(sample!.body)) throw new Error(`the HTTP floor's response differs from the model's (${check.body.length} vs ${sample!.body.length} bytes)`);
    servers.unshift({ mode: 'floor', child: floor });

    // JIT warm-up: a fresh server needs some ten thousand requests before its code is
    // optimised; at c=1 the per-cell warm-up alone would not get there.
    for (const s of servers) {
      const url = `${s.child.ready.split(' ')[0]!}/v2/models/${model.name}/infer`;
      await env.load({ url, bodyFile: req.file, headers: req.headers, concurrency: Math.max(...o.concurrency), seconds: Math.max(2, o.warmup), cwd: ROOT });
    }

    const rows: Row[] = [];
    for (const c of o.concurrency) {
      const cells = await runInterleaved(servers.map((s) => cellSpec(env, model, s.mode, s.child, req, c)), env.load, env.noise);
      for (const row of cells) {
        progress(row);
        rows.push(row);
      }
    }
    return rows;
  } finally {
    await Promise.all(started.map((c) => c.stop()));
  }
}

/**
 * The decision path on income (issue 11): one server over the whole example folder (spec,
 * anomaly profile, reference) with anomaly policy flag, one with the layer off. The same
 * applicant as an encoded tensor (V2) and as a raw record (V1 :predict), interleaved.
 */
async function benchDecisionPath(model: BenchModel, env: Env): Promise<Row[]> {
  const { o, scratch } = env;
  const spec = readTabularSpec(join(ROOT, 'examples/models/income/preprocessing.json'));
  const record = (JSON.parse(readFileSync(join(ROOT, 'examples/requests/income-records.json'), 'utf8')) as { instances: Record<string, unknown>[] }).instances[0]!;
  const features = Array.from(new TabularEncoder(spec).encode([Object.fromEntries(spec.rawColumns.map((c) => [c, String(record[c] ?? '')]))]));
  const files = { tensor: join(scratch, 'decision-tensor.json'), raw: join(scratch, 'decision-raw.json') };
  writeFileSync(files.tensor, JSON.stringify({ inputs: [{ name: model.input, datatype: 'FP32', shape: [1, features.length], data: features }] }));
  writeFileSync(files.raw, JSON.stringify({ instances: [record] }));
  const headers = { 'Content-Type': 'application/json' };
  const started: StartedChild[] = [];
  try {
    const serve = async (policy: 'flag' | 'off'): Promise<StartedChild> => {
      const repo = join(scratch, `repo-decision-${policy}`);
      cpSync(join(ROOT, 'examples/models/income'), join(repo, 'income'), { recursive: true });
      writeFileSync(join(repo, 'income', 'berth.yaml'), `${berthYaml(o, true)}decision:\n  threshold: 0.5\n  positiveOutcome: approved\n  negativeOutcome: rejected\nanomaly:\n  policy: ${policy}\n`);
      const child = await startChild(SERVER_MAIN, serverArgs(o, repo), { cwd: ROOT });
      started.push(child);
      return child;
    };
    const on = await serve('flag');
    const off = await serve('off');
    const base = (c: StartedChild): string => c.ready.split(' ')[0]!;
    const cells: { mode: Mode & `decision-${string}`; child: StartedChild; path: string; file: string }[] = [
      { mode: 'decision-tensor', child: on, path: '/v2/models/income/infer', file: files.tensor },
      { mode: 'decision-raw', child: on, path: '/v1/models/income:predict', file: files.raw },
      { mode: 'decision-raw-noanomaly', child: off, path: '/v1/models/income:predict', file: files.raw },
    ];
    for (const c of cells) {
      const res = await fetch(`${base(c.child)}${c.path}`, { method: 'POST', headers, body: readFileSync(c.file) });
      if (res.status !== 200) throw new Error(`${c.path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      await env.load({ url: `${base(c.child)}${c.path}`, bodyFile: c.file, headers, concurrency: Math.max(...o.concurrency), seconds: Math.max(2, o.warmup), cwd: ROOT });
    }
    const rows: Row[] = [];
    for (const level of [...new Set([Math.min(...o.concurrency), Math.max(...o.concurrency)])]) {
      const specs = cells.map((c) => ({ ...cellSpec(env, model, c.mode, c.child, { file: c.file, body: readFileSync(c.file), headers }, level), path: c.path }));
      for (const row of await runInterleaved(specs, env.load, env.noise)) {
        progress(row);
        rows.push(row);
      }
    }
    return rows;
  } finally {
    await Promise.all(started.map((c) => c.stop()));
  }
}

function inProcessRows(model: BenchModel, mode: 'raw' | 'worker', results: RawResult[]): Row[] {
  return results.map((r) => ({
    model: model.name,
    mode,
    level: r.batch,
    rowsPerSecond: r.rowsPerSecond,
    latencyMs: r.latencyMs,
    errors: 0,
    requests: r.calls,
    otherCpu: r.otherCpu,
    slices: { used: r.repeatRowsPerSecond.length, discarded: r.discardedRepeats, noisy: r.noisy },
  }));
}

// ---- profile ----

interface ProfileResult {
  model: string;
  concurrency: number;
  /** The profiled cell (the profiler slows the server: compare with the unprofiled row). */
  row: Row;
  threads: { file: string; summary: ProfileSummary }[];
}

async function profileServer(model: BenchModel, env: Env): Promise<ProfileResult> {
  const { o, scratch } = env;
  const dir = join(scratch, 'cpu-profiles');
  mkdirSync(dir, { recursive: true });
  const repo = makeRepository(scratch, model, berthYaml(o, true), 'profile');
  const child = await startChild(SERVER_MAIN, serverArgs(o, repo), { cwd: ROOT, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] });
  const c = o.profileConcurrency ?? Math.max(...o.concurrency);
  const req = requestSpec(model, o.protocol, scratch);
  const usNow = (): number => Number(process.hrtime.bigint() / 1000n);
  const window = { startUs: 0, endUs: 0 };
  const row = await withChild(child, async () => {
    const url = `${child.ready.split(' ')[0]!}/v2/models/${model.name}/infer`;
    await sanity(url, req);
    await env.load({ url, bodyFile: req.file, headers: req.headers, concurrency: Math.max(...o.concurrency), seconds: Math.max(2, o.warmup), cwd: ROOT });
    // Every slice is kept, so the profile window and the row's request count agree.
    const spec = { ...cellSpec(env, model, 'server-on', child, req, c), noiseGate: false, onMeasureStart: () => (window.startUs = usNow()) };
    const r = await runCell(spec, env.load, env.noise);
    window.endUs = usNow();
    return r;
  });
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort((a, b) => threadIdOf(a) - threadIdOf(b));
  // Only the measured window: start-up (module loading under tsx) and warm-up are left out.
  const threads = files.map((f) => ({ file: f, summary: summariseProfile(join(dir, f), ROOT, window) }));
  return { model: model.name, concurrency: c, row, threads: threads.filter((t) => t.summary.role !== 'other (module loader hooks)' || t.summary.busyPct > 5) };
}

function threadIdOf(file: string): number {
  return Number(file.split('.')[4] ?? 0);
}

// ---- main ----

interface Results {
  benchmark: 'serving';
  startedAt: string;
  durationS: number;
  machine: MachineInfo & { loadAverageAtEnd: number[] };
  settings: Omit<Options, 'out'> & { serverConfig: { on: string; off: string } };
  models: { name: string; description: string; computeBound: boolean; requestBytes: number }[];
  raw: Record<string, { raw: RawResult[]; worker: RawResult[] }>;
  rows: Row[];
  ratios: Ratio[];
  aims: { model: string; name: string; value: number; target: string; met: boolean }[];
  noise: { thresholdCores: number; waitedS: number; noisyRows: number };
  profile?: ProfileResult;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv);
  const startedAt = new Date();
  const wrk = o.loadgen === 'node' ? undefined : findWrk();
  if (o.loadgen === 'wrk' && wrk === undefined) throw new Error('--loadgen wrk: wrk is not on PATH');
  const scratch = mkdtempSync(join(tmpdir(), 'berth-bench-'));
  const load: LoadRunner = wrk === undefined ? runNodeLoad : (lo) => runWrk(wrk, lo, scratch);
  const noise = new NoiseMeter(o.noiseThreshold, o.waitBudgetS * 1000);
  const env: Env = { o, scratch, load, noise, sliceSeconds: wrk === undefined ? o.seconds : 1 };
  const models = o.profileOnly ? [] : o.models.map((m) => loadModel(ROOT, m));
  const machine = machineInfo(ROOT, ortVersion(), wrk === undefined ? 'node (bench/lib/loadgen-node.ts)' : `${wrkVersion(wrk)}, 1 thread`);

  const header = [
    `Berth serving benchmark — ${startedAt.toISOString()}`,
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}; Node ${machine.node}, onnxruntime-node ${machine.onnxruntimeNode}; commit ${machine.commit}`,
    `load generator: ${machine.loadGenerator}; ${o.protocol === 'json' ? 'JSON requests' : 'binary requests (raw FP32 body, binary outputs)'} of one row; ${o.warmup} s warm-up + ${o.seconds} s measured per HTTP cell; raw ORT: 5 × ${o.rawRepeatMs} ms per batch size (median)`,
    `server${o.serverSrc === undefined ? '' : ` (from ${o.serverSrc})`}${o.compareSrc === undefined ? '' : `, [B] = batching on from ${o.compareSrc}`}: one process each, runtime.workers default, 1 session instance, maxBatchSize ${o.maxBatchSize}, batching on = {enabled: true, maxQueueDelayMs: ${o.maxQueueDelayMs}}, off = {enabled: false}; decision log and monitoring on (SQLite in a temp dir) except "on, no decision log"; session options: ${o.intraOpThreads === undefined ? 'ORT defaults' : `intraOpNumThreads ${o.intraOpThreads}`}`,
    `load average at start: ${machine.loadAverageAtStart.join(', ')}`,
  ];
  process.stderr.write(`${header.join('\n')}\n`);
  if ((machine.loadAverageAtStart[0] ?? 0) > 0.5) process.stderr.write('warning: the machine is busy (load average > 0.5); numbers will be noisy\n');

  const rows: Row[] = [];
  const raw: Record<string, { raw: RawResult[]; worker: RawResult[] }> = {};
  const session = o.intraOpThreads === undefined ? {} : { intraOpNumThreads: o.intraOpThreads };
  try {
    if (models.length > 0) process.stderr.write('onnxruntime-node in process, raw and via the worker pool:\n');
    for (const m of models) {
      const ro = { batches: o.batches, warmupMs: Math.min(300, o.rawRepeatMs), repeats: 5, repeatMs: o.rawRepeatMs, session };
      const results = { raw: await measureRaw(m, ro, noise), worker: await measureViaWorker(m, ro, noise) };
      raw[m.name] = results;
      for (const row of [...inProcessRows(m, 'raw', results.raw), ...inProcessRows(m, 'worker', results.worker)]) {
        progress(row);
        rows.push(row);
      }
    }
    if (models.length > 0) process.stderr.write('over HTTP:\n');
    for (const m of models) rows.push(...(await benchModelHttp(m, env)));
    const income = models.find((m) => m.name === 'income');
    if (income !== undefined && o.decisionPath) {
      process.stderr.write('the decision path (income: raw records vs encoded tensors, anomaly layer on vs off):\n');
      rows.push(...(await benchDecisionPath(income, env)));
    }

    const order: Mode[] = ['raw', 'worker', 'floor', 'server-off', 'server-on', 'server-nolog', 'server-on-b', 'decision-tensor', 'decision-raw', 'decision-raw-noanomaly'];
    rows.sort((a, b) => o.models.indexOf(a.model) - o.models.indexOf(b.model) || order.indexOf(a.mode) - order.indexOf(b.mode) || a.level - b.level);
    const ratioList = ratios(rows, { models, concurrency: o.concurrency, batches: o.batches });

    let profile: ProfileResult | undefined;
    if (o.profile) {
      process.stderr.write(`profiling the server (${o.profileModel}, batching on, c=${o.profileConcurrency ?? Math.max(...o.concurrency)}) with --cpu-prof…\n`);
      profile = await profileServer(loadModel(ROOT, o.profileModel), env);
    }

    const results: Results = {
      benchmark: 'serving',
      startedAt: startedAt.toISOString(),
      durationS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
      machine: { ...machine, loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
      settings: { ...withoutOut(o), serverConfig: { on: berthYaml(o, true), off: berthYaml(o, false) } },
      models: models.map((m) => ({ name: m.name, description: m.description, computeBound: m.computeBound, requestBytes: o.protocol === 'json' ? Buffer.byteLength(m.body) : m.binaryBody.length })),
      raw,
      rows,
      ratios: ratioList,
      noise: { thresholdCores: o.noiseThreshold, waitedS: Math.round(noise.waitedMs / 100) / 10, noisyRows: rows.filter((r) => r.slices.noisy).length },
      aims: ratioList.flatMap((r) => (r.aim === undefined ? [] : [{ model: r.model, name: r.name, value: r.value, target: `${r.aim.op} ${r.aim.target}${r.unit === 'ms' ? ' ms' : ''}`, met: r.aim.met }])),
    };
    if (profile !== undefined) results.profile = profile;

    const out: string[] = ['', ...header, `load average at end: ${results.machine.loadAverageAtEnd.join(', ')}; took ${results.durationS} s`, ''];
    if (rows.length > 0) {
      out.push(
        formatRows(rows),
        '',
        'batch = mean rows per executed batch; ORT busy = share of wall time the session was running (server /metrics);',
        'srv CPU / main / worker = cores used by the serving process / its HTTP thread / its busiest other thread (the session worker);',
        'main µs/req = CPU time of the HTTP thread per request (main ÷ rows/s): what one event loop can afford decides the ceiling;',
        `gen CPU = cores used by the load generator; other = cores used by other processes meanwhile (slices above ${o.noiseThreshold} were re-run; * = out of retries, noisy)`,
        `waited ${results.noise.waitedS} s for the machine to quieten; ${results.noise.noisyRows} noisy row(s)`,
        '',
        formatRatios(ratioList),
        '',
        `aims met: ${results.aims.filter((a) => a.met).length} of ${results.aims.length}`,
      );
    }
    if (profile !== undefined) {
      out.push('', `CPU profile of the server under load (${profile.model}, batching on, c=${profile.concurrency}, ${Math.round(profile.row.rowsPerSecond)} rows/s, p50 ${profile.row.latencyMs.p50.toFixed(3)} ms while profiled):`);
      const requests = profile.row.requests;
      out.push(`(µs/req = CPU per request in the profiled window, ${requests} requests; the profiler itself slows every thread)`);
      for (const t of profile.threads) if (t.summary.busyPct >= 5) out.push(formatSummary(t.summary, `${t.summary.role} (thread ${threadIdOf(t.file)})`, requests));
    }
    if (o.decisionPath && o.models.includes('income') && !o.profileOnly) {
      // The anomaly layer's quality (issue 11): false flags on the Adult test split, detection of edge cases (no server).
      const a = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/anomaly.ts')], { cwd: ROOT, encoding: 'utf8' });
      out.push('', 'anomaly layer (npm run bench:anomaly, in this run):', a.status === 0 ? a.stdout.trimEnd() : `bench:anomaly failed: ${a.stderr.slice(0, 500)}`);
    }
    mkdirSync(o.out, { recursive: true });
    const file = join(o.out, `serving-${startedAt.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    out.push('', `results: ${file}`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function withoutOut(o: Options): Omit<Options, 'out'> {
  const { out: _out, ...rest } = o;
  return rest;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
