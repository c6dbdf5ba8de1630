/**
 * @module bench/overload
 * Overload shedding (issue 9 item 5): the income model under 1,000 connections, with
 * admission by expected wait (the default batching.maxQueueWaitMs, refusing before the body
 * is read) and, as the baseline in the same run, with it off (maxQueueWaitMs 0: every request
 * queues, as before). The server runs in a child process with the decision log on, wrk holds
 * the connections, and this process sends a probe: one request at a time, first on the idle
 * server (light load), then while wrk floods it. The probe's answered (200) latencies are a
 * sample of what an admitted request sees; its 503s show how fast a refusal comes. The
 * server's event-loop delay (perf_hooks histogram, per second) is reported for the flood.
 *
 * Usage: npx tsx bench/overload.ts [--seconds 12] [--connections 1000] [--wait-ms 50,0]
 *        [--profile]   (--cpu-prof the server; summarise its HTTP thread during the flood)
 * --wait-ms lists the maxQueueWaitMs values to compare; "default" is the built-in default.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild } from './lib/child.js';
import { formatSummary, summariseProfile } from './lib/cpuprofile.js';
import { LatencyHistogram } from './lib/histogram.js';
import { findWrk, runWrk } from './lib/wrk.js';
import { numberArg } from './lib/args.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = numberArg('--seconds', 12);
const connections = numberArg('--connections', 1000);
const profile = process.argv.includes('--profile');
const waitIndex = process.argv.indexOf('--wait-ms');
const waits = (waitIndex < 0 ? 'default,0' : (process.argv[waitIndex + 1] ?? '')).split(',').map((w) => w.trim());
for (const w of waits) if (w !== 'default' && !(Number(w) >= 0)) throw new Error(`--wait-ms: expected a comma-separated list of numbers ≥ 0 or "default", got ${JSON.stringify(w)}`);
const wrk = findWrk();
if (wrk === undefined) throw new Error('bench/overload needs wrk (apt-get install wrk)');

const scratch = mkdtempSync(join(tmpdir(), 'berth-bench-overload-'));
// No id in the body: each request is its own decision, as with real clients.
const body = JSON.parse(readFileSync(join(ROOT, 'examples/requests/income-one.json'), 'utf8')) as Record<string, unknown>;
delete body.id;
const bodyFile = join(scratch, 'income-one.json');
writeFileSync(bodyFile, JSON.stringify(body));
const bodyText = JSON.stringify(body);

// Preloaded into the server: its event-loop delay each second, on stderr, stamped on the
// monotonic clock this process also reads (process.hrtime), so the flood's seconds can be picked.
const eldPreload = join(scratch, 'event-loop-delay.mjs');
writeFileSync(eldPreload, `import { monitorEventLoopDelay } from 'node:perf_hooks';
const h = monitorEventLoopDelay({ resolution: 5 });
h.enable();
setInterval(() => {
  process.stderr.write('ELD ' + JSON.stringify({ us: Number(process.hrtime.bigint() / 1000n), p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 }) + '\\n');
  h.reset();
}, 1000).unref();
`);

function repository(tag: string, yaml: string): string {
  const repo = join(scratch, tag);
  mkdirSync(join(repo, 'income'), { recursive: true });
  cpSync(join(ROOT, 'examples/models/income/1'), join(repo, 'income/1'), { recursive: true });
  cpSync(join(ROOT, 'examples/models/income/preprocessing.json'), join(repo, 'income/preprocessing.json'));
  if (yaml !== '') writeFileSync(join(repo, 'income/berth.yaml'), yaml);
  return repo;
}

interface Probe {
  ok: LatencyHistogram;
  refused: LatencyHistogram;
  other: number;
}

/** Sends one request at a time until `until` (ms, performance.now()). */
async function probe(url: string, until: number): Promise<Probe> {
  const p: Probe = { ok: new LatencyHistogram(), refused: new LatencyHistogram(), other: 0 };
  while (performance.now() < until) {
    const t0 = process.hrtime.bigint();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyText });
    await res.arrayBuffer();
    const ns = Number(process.hrtime.bigint() - t0);
    if (res.status === 200) p.ok.recordNs(ns);
    else if (res.status === 503) p.refused.recordNs(ns);
    else p.other += 1;
  }
  return p;
}

const ms = (h: LatencyHistogram, q: number): number => (h.count === 0 ? NaN : h.percentileNs(q) / 1e6);
const usNow = (): number => Number(process.hrtime.bigint() / 1000n);

interface ModeResult {
  mode: string;
  light: { p50: number; p99: number; n: number };
  overload: { p50: number; p99: number; n: number; refused: number; refusedP50: number; refusedP99: number; other: number };
  wrk: { rps: number; non200Share: number; socketErrors: number };
  /** The server's event-loop delay during the flood: worst second's p99 and max, ms. */
  eventLoopDelay: { p50: number; p99: number; max: number };
  profile?: string;
}

async function measure(mode: string, yaml: string): Promise<ModeResult> {
  const repo = repository(mode.replace(/\W+/g, '-'), yaml);
  const profileDir = join(scratch, `cpu-${mode.replace(/\W+/g, '-')}`);
  const nodeArgs = ['--import', eldPreload, ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [])];
  const child = await startChild(join(ROOT, 'bench/lib/server-main.ts'), [repo], { cwd: ROOT, timeoutMs: 60_000, nodeArgs });
  const window = { startUs: 0, endUs: 0 };
  let result: Omit<ModeResult, 'eventLoopDelay' | 'profile'>;
  try {
    const url = `${child.ready.trim().split(/\s+/)[0]}/v2/models/income/infer`;
    await probe(url, performance.now() + 1000); // warm-up
    const light = await probe(url, performance.now() + 5000);
    const flood = runWrk(wrk!, { url, bodyFile, headers: { 'Content-Type': 'application/json' }, concurrency: connections, seconds, cwd: ROOT }, scratch);
    await new Promise((r) => setTimeout(r, 2000)); // let the connections open and the queue fill
    window.startUs = usNow();
    const loaded = await probe(url, performance.now() + (seconds - 3) * 1000);
    window.endUs = usNow();
    const w = await flood;
    result = {
      mode,
      light: { p50: ms(light.ok, 50), p99: ms(light.ok, 99), n: light.ok.count },
      overload: { p50: ms(loaded.ok, 50), p99: ms(loaded.ok, 99), n: loaded.ok.count, refused: loaded.refused.count, refusedP50: ms(loaded.refused, 50), refusedP99: ms(loaded.refused, 99), other: loaded.other },
      wrk: { rps: w.requests / w.seconds, non200Share: w.requests === 0 ? 0 : w.non200 / w.requests, socketErrors: w.socketErrors },
    };
  } finally {
    await child.stop();
  }
  const seconds_ = child.stderr().split('\n').filter((l) => l.startsWith('ELD ')).map((l) => JSON.parse(l.slice(4)) as { us: number; p50: number; p99: number; max: number })
    .filter((e) => e.us > window.startUs + 1e6 && e.us <= window.endUs);
  const worst = (k: 'p50' | 'p99' | 'max'): number => (seconds_.length === 0 ? NaN : Math.max(...seconds_.map((e) => e[k])));
  const out: ModeResult = { ...result, eventLoopDelay: { p50: worst('p50'), p99: worst('p99'), max: worst('max') } };
  if (profile) {
    // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; the HTTP thread is the one running src/server/app.ts.
    const summaries = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => summariseProfile(join(profileDir, f), ROOT, window));
    out.profile = summaries.filter((s) => s.role !== 'other (module loader hooks)').map((s) => formatSummary(s, `${mode}: ${s.role}`, undefined, 20)).join('\n\n');
  }
  return out;
}

try {
  const results: ModeResult[] = [];
  for (const w of waits) {
    results.push(w === 'default'
      ? await measure('shedding, default maxQueueWaitMs', '')
      : await measure(Number(w) === 0 ? 'baseline: queue everything (maxQueueWaitMs 0)' : `shedding, maxQueueWaitMs ${w}`, `batching:\n  maxQueueWaitMs: ${Number(w)}\n`));
  }
  const file = join(ROOT, 'bench/results', `overload-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ connections, seconds, results }, null, 2)}\n`);
  const f = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '–');
  for (const r of results) if (r.profile !== undefined) process.stdout.write(`${r.profile}\n\n`);
  process.stdout.write(`income infer, ${connections} connections (wrk, ${seconds} s) + a one-at-a-time probe; decision log on\n`);
  process.stdout.write('| mode | light p50 ms | light p99 ms | admitted p50 ms | admitted p99 ms | admitted p99 ÷ light p99 | probe refused | refusal p50 / p99 ms | event-loop delay p99 / max ms | wrk req/s | wrk non-200 |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
  for (const r of results) {
    const share = r.overload.refused / Math.max(1, r.overload.refused + r.overload.n);
    process.stdout.write(`| ${r.mode} | ${f(r.light.p50, 2)} | ${f(r.light.p99, 2)} | ${f(r.overload.p50, 2)} | ${f(r.overload.p99, 2)} | ${f(r.overload.p99 / r.light.p99, 2)} | ${(100 * share).toFixed(1)}% of ${r.overload.refused + r.overload.n} | ${f(r.overload.refusedP50, 2)} / ${f(r.overload.refusedP99, 2)} | ${f(r.eventLoopDelay.p99, 1)} / ${f(r.eventLoopDelay.max, 1)} | ${f(r.wrk.rps, 0)} | ${(100 * r.wrk.non200Share).toFixed(1)}% |\n`);
  }
  process.stdout.write(`(${file})\n`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
