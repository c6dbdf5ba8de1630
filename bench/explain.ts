/**
 * @module bench/explain
 * What an explanation costs (issue 12), over real HTTP against the server built as `berth
 * serve` builds it (bench/lib/server-main.ts, in a child process), on the income example:
 *   (a) latency of one explanation ÷ one inference of the same raw record, p50 and p99, one
 *       request at a time: exact Shapley (12 fields, 4,096 coalitions × 16 background rows) of
 *       an approved applicant (attributions and reasons), and of a rejected one (plus the
 *       counterfactual search); with --kernel-fields N a second server whose berth.yaml sets
 *       explain.maxExactFeatures N answers with KernelSHAP, measured the same way;
 *   (b) explanations per second at 8 concurrent clients;
 *   (c) serving throughput (one raw record per request, 8 clients, adult test rows) with the
 *       income version's explain.log at adverse ÷ off, rounds interleaved; the explanations
 *       attached and skipped are read from /metrics.
 * Aims (issue 12): exact explanation p50 ≤ 25 ms; adverse logging costs ≤ 10% throughput.
 * Usage: npm run bench:explain [-- --requests 60 --seconds 8 --rounds 2 --kernel-fields 6]
 * (writes bench/results/explain.json). Run it alone: both cores are used.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { recordFromCsv } from '../src/anomaly/reference.js';
import type { RawRecord } from '../src/pipeline/transformer.js';
import { parseSimpleCsv, readTabularSpec } from '../src/preprocessing/tabular.js';
import { numberArg } from './lib/args.js';
import { startChild, type StartedChild } from './lib/child.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTS = numberArg('--requests', 60);
const SECONDS = numberArg('--seconds', 8);
const ROUNDS = numberArg('--rounds', 2);
const KERNEL_FIELDS = numberArg('--kernel-fields', 0);
const CLIENTS = 8;

const spec = readTabularSpec(join(ROOT, 'examples/models/income/preprocessing.json'));
const rows: RawRecord[] = parseSimpleCsv(gunzipSync(readFileSync(join(ROOT, 'examples/data/adult/adult.test.gz'))).toString('utf8'), spec)
  .map((row) => recordFromCsv(row, spec))
  .map(({ income: _label, ...rest }) => rest as RawRecord);

function repoWith(edit: (berthYaml: string) => string): string {
  const repo = mkdtempSync(join(tmpdir(), 'berth-bench-explain-'));
  cpSync(join(ROOT, 'examples/models/income'), join(repo, 'income'), { recursive: true });
  const file = join(repo, 'income/berth.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return repo;
}
const logAt = (policy: string) => (y: string): string => y.replace(/^ {2}log: adverse$/m, `  log: ${policy}`);

async function server(repo: string): Promise<{ url: string; child: StartedChild }> {
  const child = await startChild(join(ROOT, 'bench/lib/server-main.ts'), [repo], { cwd: ROOT, timeoutMs: 120_000 });
  return { url: child.ready.split(' ')[0]!, child };
}

async function post(url: string, body: unknown): Promise<any> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`${url}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

function quantile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

/** Milliseconds per call, one call at a time (after 5 warm-up calls). */
async function serial(call: () => Promise<unknown>, n: number): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 5; i++) await call();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) };
}

/** Calls per second from `clients` closed-loop clients over `seconds`. */
async function closedLoop(call: (i: number) => Promise<unknown>, clients: number, seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) {
      await call(next++);
      done++;
    }
  }));
  return done / ((performance.now() - t0) / 1000);
}

async function metric(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const repos: string[] = [];
const children: StartedChild[] = [];
try {
  // ---- (a), (b): explanation latency and throughput, logging off ----
  const offRepo = repoWith(logAt('off'));
  repos.push(offRepo);
  const off = await server(offRepo);
  children.push(off.child);
  const predict = `${off.url}/v1/models/income:predict`;
  const explain = `${off.url}/v1/models/income:explain`;
  const outcomes = (await post(predict, { instances: rows.slice(0, 32) })).predictions as { outcome: string }[];
  const approved = rows[outcomes.findIndex((p) => p.outcome === 'approved')]!;
  const rejected = rows[outcomes.findIndex((p) => p.outcome === 'rejected')]!;
  const latency: Record<string, { p50: number; p99: number }> = {};
  latency.inference = await serial(() => post(predict, { instances: [approved] }), REQUESTS);
  latency['exact, approved'] = await serial(() => post(explain, { instances: [approved] }), REQUESTS);
  latency['exact + counterfactual, rejected'] = await serial(() => post(explain, { instances: [rejected] }), REQUESTS);
  if (KERNEL_FIELDS > 0) {
    const kRepo = repoWith((y) => logAt('off')(y).replace(/^explain:$/m, `explain:\n  maxExactFeatures: ${KERNEL_FIELDS}`));
    repos.push(kRepo);
    const k = await server(kRepo);
    children.push(k.child);
    const kExplain = `${k.url}/v1/models/income:explain`;
    const method = (await post(kExplain, { instances: [approved] })).explanations[0].method as string;
    latency[`${method}, approved (maxExactFeatures ${KERNEL_FIELDS})`] = await serial(() => post(kExplain, { instances: [approved] }), REQUESTS);
    await k.child.stop();
  }
  const explainPerS = await closedLoop((i) => post(explain, { instances: [rows[i % 32]!] }), CLIENTS, SECONDS);
  await off.child.stop();

  // ---- (c): serving throughput with explain.log adverse ÷ off ----
  const adverseRepo = repoWith((y) => y);
  repos.push(adverseRepo);
  const throughput: Record<'off' | 'adverse', number[]> = { off: [], adverse: [] };
  const logged = { attached: 0, skipped: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    for (const policy of ['off', 'adverse'] as const) {
      const s = await server(policy === 'off' ? offRepo : adverseRepo);
      const url = `${s.url}/v1/models/income:predict`;
      await closedLoop((i) => post(url, { instances: [rows[i % rows.length]!] }), CLIENTS, 1);
      throughput[policy].push(await closedLoop((i) => post(url, { instances: [rows[(i * 7919) % rows.length]!] }), CLIENTS, SECONDS));
      if (policy === 'adverse') {
        logged.attached += await metric(s.url, 'berth_explanations_total', 'result="attached"');
        logged.skipped += await metric(s.url, 'berth_explanations_total', 'result="skipped"');
      }
      await s.child.stop();
    }
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

  const base = latency.inference!;
  console.log('\nExplanation latency, one request at a time (V1, one income record), ms');
  console.log('| what | p50 | p99 | p50 ÷ inference | p99 ÷ inference |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [what, l] of Object.entries(latency)) {
    console.log(`| ${what} | ${l.p50.toFixed(2)} | ${l.p99.toFixed(2)} | ${(l.p50 / base.p50).toFixed(1)}× | ${(l.p99 / base.p99).toFixed(1)}× |`);
  }
  console.log(`\nExplanations per second at c=${CLIENTS}: ${explainPerS.toFixed(1)}`);
  console.log('\nServing throughput (one raw record per request, c=8), requests/s');
  console.log('| explain.log | rounds | req/s | ÷ off |');
  console.log('|---|---|---:|---:|');
  console.log(`| off | ${throughput.off.map((x) => x.toFixed(0)).join(', ')} | ${mean(throughput.off).toFixed(0)} | 1.00× |`);
  console.log(`| adverse | ${throughput.adverse.map((x) => x.toFixed(0)).join(', ')} | ${mean(throughput.adverse).toFixed(0)} | ${(mean(throughput.adverse) / mean(throughput.off)).toFixed(2)}× |`);
  console.log(`  explanations stored with decisions: ${logged.attached}; skipped (explainer behind, counted): ${logged.skipped}`);
  const exactP50 = latency['exact, approved']!.p50;
  console.log(`\nAims: exact p50 ≤ 25 ms: ${exactP50.toFixed(1)} ms ${exactP50 <= 25 ? 'met' : 'NOT met'}; adverse logging cost ≤ 10%: ${((1 - mean(throughput.adverse) / mean(throughput.off)) * 100).toFixed(1)}% ${mean(throughput.adverse) >= 0.9 * mean(throughput.off) ? 'met' : 'NOT met'}`);

  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/explain.json'), `${JSON.stringify({ time: new Date().toISOString(), requests: REQUESTS, seconds: SECONDS, latency, explainPerS, throughput, logged }, null, 2)}\n`);
} finally {
  for (const c of children) await c.stop().catch(() => undefined);
  for (const r of repos) rmSync(r, { recursive: true, force: true });
}
