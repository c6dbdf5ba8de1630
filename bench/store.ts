/**
 * @module bench/store
 * Decision-log write throughput for each store, through the DecisionLogger the server uses,
 * with realistic records (the income model: 91 FP32 inputs, probabilities [1,2] and an
 * INT64 label), at batch sizes 100 / 500 / 2000; the main-thread cost per record (what
 * logging takes from serving); and the latency of the dashboard's and the monitor's
 * queries on the logged table. PostgreSQL is a throwaway local server with production
 * durability (fsync on, synchronous_commit on); SQLite is WAL with synchronous=NORMAL.
 * Run: npx tsx bench/store.ts [--records N]   (writes bench/results/store-<timestamp>.json)
 *
 * With --durability: the cost of `store.durability: sync` on serving instead. `berth serve`
 * (income model, SQLite decision log) in a child process, wrk at concurrency 32 on
 * /v2/models/income/infer (no request id: the server assigns one), async and sync servers
 * in alternating rounds; requests/s, p50/p99, and decisions per store write (group commit)
 * from the server's metrics. npx tsx bench/store.ts --durability [--seconds 10] [--rounds 3]
 * (writes bench/results/store-durability-<timestamp>.json)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { LoadResult } from './lib/load-result.js';
import { runNodeLoad } from './lib/loadgen-node.js';
import { findWrk, runWrk } from './lib/wrk.js';
import { DecisionLogger } from '../src/store/decision-logger.js';
import { hashInputs } from '../src/store/hash.js';
import { PostgresStore } from '../src/store/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { DecisionRecord, PredictionStore } from '../src/store/store.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { numberArg } from './lib/args.js';

const RECORDS = numberArg('--records', 100_000);
const BATCH_SIZES = [100, 500, 2000];
const QUERY_RUNS = 30;
const DAY = 86_400_000;

/** 1,000 distinct income-model decisions; the stream reuses their tensors with new ids and times. */
const TEMPLATES = Array.from({ length: 1000 }, (_, i) => makeTemplate(i));
/** The same with tensor data as typed arrays, as the server holds them. */
const TYPED_TEMPLATES = TEMPLATES.map((t) => ({
  ...t,
  inputs: t.inputs!.map((x) => ({ ...(x as object), data: new Float32Array((x as { data: number[] }).data) })),
  outputs: [
    { ...(t.outputs[0] as object), data: new Float32Array((t.outputs[0] as { data: number[] }).data) },
    { ...(t.outputs[1] as object), data: BigInt64Array.from((t.outputs[1] as { data: number[] }).data, BigInt) },
  ],
}));

/**
 * The i-th of n decisions spread over the last 24 h (80 % income v1/v2, 20 % another
 * model). Made on the fly, so the heap stays the size a server's would, and cheaply (a
 * shallow copy of a template), so the producer's time hardly counts.
 */
function makeRecord(i: number, n: number, now: number, typed: boolean): DecisionRecord {
  return {
    ...(typed ? TYPED_TEMPLATES : TEMPLATES)[i % TEMPLATES.length]!,
    id: `bench-${i}`,
    time: now - DAY + Math.floor((i / n) * DAY),
    model: i % 5 === 4 ? 'churn' : 'income',
    version: i % 10 < 7 ? '1' : '2',
  };
}

function makeTemplate(i: number): DecisionRecord {
  let seed = (i * 2654435761) >>> 0;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const features = new Array<number>(91).fill(0);
  for (let k = 0; k < 6; k++) features[Math.floor(rnd() * 91)] = Math.fround((rnd() - 0.5) * 4);
  for (let k = 0; k < 8; k++) features[Math.floor(rnd() * 91)] = 1;
  const p = Math.fround(rnd());
  const inputs = [{ name: 'features', datatype: 'FP32', shape: [1, 91], data: features }];
  return {
    id: '',
    time: 0,
    model: '',
    version: '',
    inputs,
    inputsHash: hashInputs(inputs),
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [Math.fround(1 - p), p] },
      { name: 'label', datatype: 'INT64', shape: [1], data: [p > 0.5 ? 1 : 0] },
    ],
    latencyMs: 0.5 + rnd() * 3,
    batchSize: 1 + Math.floor(rnd() * 32),
    outcome: 'success',
    flags: [],
    prediction: { label: p > 0.5 ? '>50K' : '<=50K', score: Math.max(p, 1 - p) },
  };
}

interface WriteRow {
  store: string;
  /** Tensor data as plain arrays (JSON) or typed arrays. */
  data: 'arrays' | 'typed';
  batchSize: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Main-thread time per 1000 records spent by the logger and store (not by the producer). */
  mainThreadMsPer1k: number;
  /** Process CPU (all threads: the SQLite worker, GC, …) per 1000 records (the producer's share is negligible). */
  processCpuMsPer1k: number;
  writes: number;
  meanWriteMs: number;
  dropped: number;
}

async function measureWrites(kind: string, store: PredictionStore, batchSize: number, total: number, now: number, typed = false): Promise<WriteRow> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-store-'));
  const logger = new DecisionLogger(store, { dataDir, batchSize, bufferSize: 100_000, flushIntervalMs: 200, writeTimeoutMs: 30_000 });
  let writes = 0;
  let writeSeconds = 0;
  logger.on('write', (s, _n, ok) => {
    if (!ok) return;
    writes += 1;
    writeSeconds += s;
  });
  await logger.start();
  let producerMs = 0;
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < total; ) {
    // Offer as fast as the store takes them: keep at most half the buffer pending.
    if (logger.stats.pending > 50_000) {
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    const p0 = performance.now();
    const end = Math.min(total, i + 1000);
    for (; i < end; i++) logger.log(makeRecord(i, total, now, typed));
    producerMs += performance.now() - p0;
    await new Promise((r) => setImmediate(r));
  }
  await logger.flush();
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  const s = logger.stats;
  await logger.close();
  rmSync(dataDir, { recursive: true, force: true });
  if (s.logged !== total) throw new Error(`${kind} batch ${batchSize}: logged ${s.logged} of ${total} (${JSON.stringify(s)})`);
  return {
    store: kind,
    data: typed ? 'typed' : 'arrays',
    batchSize,
    records: total,
    seconds,
    recordsPerSecond: total / seconds,
    mainThreadMsPer1k: ((elu.active - producerMs) / total) * 1000,
    processCpuMsPer1k: ((cpu.user + cpu.system) / 1000 / total) * 1000,
    writes,
    meanWriteMs: (writeSeconds / Math.max(1, writes)) * 1000,
    dropped: Object.values(s.dropped).reduce((a, b) => a + b, 0),
  };
}

interface QueryRow {
  store: string;
  query: string;
  rows: number;
  p50Ms: number;
  p95Ms: number;
}

async function measureQueries(kind: string, store: PredictionStore, now: number, tableRows: number): Promise<QueryRow[]> {
  // Labels for 20 % of income v1 decisions, as delayed feedback would bring them.
  const labelled = await store.queryDecisions({ model: 'income', version: '1', limit: 10_000 });
  const items = labelled.filter((_, i) => i % 5 === 0).map((d) => ({ id: d.id, label: d.prediction?.label ?? 0, time: now }));
  for (let i = 0; i < items.length; i += 1000) await store.attachFeedback('income', items.slice(i, i + 1000));
  const queries: [string, () => Promise<number>][] = [
    ['latest 100 of a model version, last 24 h (dashboard browser)', async () => (await store.queryDecisions({ model: 'income', version: '1', since: now - DAY, limit: 100 })).length],
    ['latest 100, all models (GET /api/predictions)', async () => (await store.queryDecisions({ limit: 100 })).length],
    ['by id', async () => (await store.queryDecisions({ id: `bench-${Math.floor(tableRows / 2)}` })).length],
    ['count of a model version, last hour', async () => store.countDecisions({ model: 'income', version: '1', since: now - DAY / 24 })],
    ['labelled decisions, last 24 h, limit 10,000 (live quality)', async () => (await store.queryDecisions({ model: 'income', version: '1', since: now - DAY, labelled: true, limit: 10_000 })).length],
    ['the same, payload: false', async () => (await store.queryDecisions({ model: 'income', version: '1', since: now - DAY, labelled: true, limit: 10_000, payload: false })).length],
  ];
  const out: QueryRow[] = [];
  for (const [name, run] of queries) {
    await run();
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < QUERY_RUNS; i++) {
      const t0 = performance.now();
      rows = await run();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    out.push({ store: kind, query: name, rows, p50Ms: times[Math.floor(QUERY_RUNS * 0.5)]!, p95Ms: times[Math.floor(QUERY_RUNS * 0.95)]! });
  }
  return out;
}

async function main(): Promise<void> {
  const now = Date.now();
  const loadAtStart = loadavg();
  const writes: WriteRow[] = [];
  const queries: QueryRow[] = [];

  const sqliteDir = mkdtempSync(join(tmpdir(), 'berth-bench-sqlite-'));
  const pgServer = await startPostgres(undefined, { durable: true });
  try {
    for (const batchSize of BATCH_SIZES) {
      const sqlite = new SqliteStore({ path: join(sqliteDir, `b${batchSize}.db`) });
      writes.push(await measureWrites('sqlite', sqlite, batchSize, RECORDS, now));
      if (batchSize === 500) queries.push(...(await measureQueries('sqlite', sqlite, now, RECORDS)));
      await sqlite.close();
      const pgStore = new PostgresStore({ url: pgServer.url, schema: `bench_${batchSize}` });
      writes.push(await measureWrites('postgres', pgStore, batchSize, RECORDS, now));
      if (batchSize === 500) queries.push(...(await measureQueries('postgres', pgStore, now, RECORDS)));
      await pgStore.close();
      for (const w of writes.slice(-2)) console.log(`  ${w.store} batch ${w.batchSize}: ${Math.round(w.recordsPerSecond)} records/s`);
    }
    // Typed-array tensors: cheaper to hand to the SQLite worker than plain arrays.
    const sqlite = new SqliteStore({ path: join(sqliteDir, 'typed.db') });
    writes.push(await measureWrites('sqlite', sqlite, 500, RECORDS, now, true));
    await sqlite.close();
    const pgStore = new PostgresStore({ url: pgServer.url, schema: 'bench_typed' });
    writes.push(await measureWrites('postgres', pgStore, 500, RECORDS, now, true));
    await pgStore.close();
  } finally {
    await pgServer.destroy();
    rmSync(sqliteDir, { recursive: true, force: true });
  }

  const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  console.log(`\nDecision log write throughput (${fmt(RECORDS)} records through DecisionLogger)\n`);
  console.log('| store | tensor data | batch | records/s | main thread ms / 1k records | process CPU ms / 1k records | mean write ms |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const w of writes) console.log(`| ${w.store} | ${w.data} | ${w.batchSize} | ${fmt(w.recordsPerSecond)} | ${fmt(w.mainThreadMsPer1k, 2)} | ${fmt(w.processCpuMsPer1k, 2)} | ${fmt(w.meanWriteMs, 1)} |`);
  console.log(`\nQuery latency on ${fmt(RECORDS)} logged decisions (${QUERY_RUNS} runs)\n`);
  console.log('| store | query | rows | p50 ms | p95 ms |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const q of queries) console.log(`| ${q.store} | ${q.query} | ${fmt(q.rows)} | ${fmt(q.p50Ms, 2)} | ${fmt(q.p95Ms, 2)} |`);

  mkdirSync('bench/results', { recursive: true });
  const file = join('bench/results', `store-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const loadAtEnd = loadavg();
  console.log(`\nload average (1 min) at start ${loadAtStart[0]?.toFixed(2)}, at end ${loadAtEnd[0]?.toFixed(2)} on ${cpus().length} cores: other work on the machine inflates the main-thread figures`);
  writeFileSync(file, `${JSON.stringify({ machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadAtStart, loadAtEnd }, records: RECORDS, writes, queries }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

interface DurabilityRow {
  durability: 'async' | 'sync';
  round: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non200: number;
  socketErrors: number;
  /** Decisions logged ÷ store writes during the run: how many requests shared one commit. */
  decisionsPerWrite: number;
}

function percentileMs(r: LoadResult, q: number): number {
  const total = r.latencyUs.reduce((n, [, c]) => n + c, 0);
  let seen = 0;
  for (const [us, c] of r.latencyUs) {
    seen += c;
    if (seen >= q * total) return us / 1000;
  }
  return Number.NaN;
}

async function scrape(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

/** `berth serve` on the income example with the given durability; resolves once its models are loaded. */
async function serveIncome(durability: 'async' | 'sync', dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const config = join(dir, `${durability}.yaml`);
  writeFileSync(config, `store:\n  durability: ${durability}\nmonitoring:\n  evaluationIntervalMs: 60000\n`);
  const dataDir = mkdtempSync(join(dir, `data-${durability}-`));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--repository', 'examples/models', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--config', config, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let url = '';
  for await (const line of createInterface({ input: child.stdout! })) {
    const l = JSON.parse(line) as { msg?: string; address?: string };
    if (typeof l.address === 'string') url = l.address;
    if (l.msg === 'models loaded') break;
  }
  child.stdout!.resume();
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function durabilityBench(): Promise<void> {
  const seconds = numberArg('--seconds', 10);
  const rounds = numberArg('--rounds', 3);
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-durability-'));
  const body = JSON.parse(readFileSync('examples/requests/income-one.json', 'utf8')) as { id?: string };
  delete body.id;
  const bodyFile = join(dir, 'body.json');
  writeFileSync(bodyFile, JSON.stringify(body));
  const wrk = findWrk();
  const loadAtStart = loadavg();
  const rows: DurabilityRow[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const durability of ['async', 'sync'] as const) {
        const server = await serveIncome(durability, dir);
        try {
          const o = { url: `${server.url}/v2/models/income/infer`, bodyFile, headers: { 'Content-Type': 'application/json' }, concurrency: 32, cwd: process.cwd() };
          const warm = { ...o, seconds: 2 };
          await (wrk === undefined ? runNodeLoad(warm) : runWrk(wrk, warm, dir));
          const writes0 = await scrape(server.url, 'berth_store_write_duration_seconds_count');
          const logged0 = await scrape(server.url, 'berth_decisions_logged_total');
          const r = await (wrk === undefined ? runNodeLoad({ ...o, seconds }) : runWrk(wrk, { ...o, seconds }, dir));
          const writes = (await scrape(server.url, 'berth_store_write_duration_seconds_count')) - writes0;
          const logged = (await scrape(server.url, 'berth_decisions_logged_total')) - logged0;
          rows.push({
            durability, round,
            requestsPerSecond: r.requests / r.seconds, p50Ms: percentileMs(r, 0.5), p99Ms: percentileMs(r, 0.99),
            non200: r.non200, socketErrors: r.socketErrors, decisionsPerWrite: logged / Math.max(1, writes),
          });
          const row = rows.at(-1)!;
          console.log(`  round ${round} ${durability}: ${Math.round(row.requestsPerSecond)} req/s, p50 ${row.p50Ms.toFixed(2)} ms, p99 ${row.p99Ms.toFixed(2)} ms, ${row.decisionsPerWrite.toFixed(1)} decisions per write`);
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const loadAtEnd = loadavg();
  const mean = (d: 'async' | 'sync', k: keyof DurabilityRow): number => {
    const xs = rows.filter((r) => r.durability === d).map((r) => Number(r[k]));
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  console.log(`\nstore.durability at concurrency 32 (income, SQLite, ${seconds} s per run, ${rounds} rounds, ${wrk === undefined ? 'Node load generator' : 'wrk'})\n`);
  console.log('| durability | requests/s | p50 ms | p99 ms | decisions per write | non-200 |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const d of ['async', 'sync'] as const) {
    console.log(`| ${d} | ${Math.round(mean(d, 'requestsPerSecond'))} | ${mean(d, 'p50Ms').toFixed(2)} | ${mean(d, 'p99Ms').toFixed(2)} | ${mean(d, 'decisionsPerWrite').toFixed(1)} | ${rows.filter((r) => r.durability === d).reduce((n, r) => n + r.non200, 0)} |`);
  }
  console.log(`\nsync ÷ async throughput: ${(mean('sync', 'requestsPerSecond') / mean('async', 'requestsPerSecond')).toFixed(3)}`);
  console.log(`load average (1 min) at start ${loadAtStart[0]?.toFixed(2)}, at end ${loadAtEnd[0]?.toFixed(2)} on ${cpus().length} cores: other work on the machine makes these figures noisy`);
  mkdirSync('bench/results', { recursive: true });
  const file = join('bench/results', `store-durability-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadAtStart, loadAtEnd }, seconds, rounds, rows }, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

if (process.argv.includes('--durability')) await durabilityBench();
else await main();
