/**
 * @module bench/auth
 * What API tokens cost a request: the income model's infer at one connection, on a server
 * without tokens and on one with five (the request sends a valid infer token, so the hash,
 * the five constant-time comparisons and the scope check all run), optionally with the rate
 * limit on too. Both servers run in this process over one worker pool; wrk (or the Node
 * generator when wrk is missing) runs in its own process. Rounds alternate off/on so a
 * machine that gets busier half-way hurts both alike; the table gives each mode's p50 and
 * p99 as the median over rounds.
 *
 * Usage: npx tsx bench/auth.ts [--seconds 5] [--rounds 3] [--rate-limit]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/logging/logger.js';
import { WorkerPool } from '../src/runtime/worker-pool.js';
import { sha256Hex } from '../src/security/tokens.js';
import { buildApp, type BerthApp } from '../src/server/app.js';
import { LatencyHistogram } from './lib/histogram.js';
import type { LoadOptions, LoadResult } from './lib/load-result.js';
import { runNodeLoad } from './lib/loadgen-node.js';
import { findWrk, runWrk } from './lib/wrk.js';
import { numberArg } from './lib/args.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const seconds = numberArg('--seconds', 5);
const rounds = numberArg('--rounds', 3);
const withRateLimit = process.argv.includes('--rate-limit');

const TOKENS = ['a', 'b', 'c', 'd', 'client'].map((name) => ({ name, token: `${name}-bench-token-0123456789abcdef`, scopes: name === 'client' ? ['infer'] : ['read'] }));
const clientToken = TOKENS[4]!.token;

const scratch = mkdtempSync(join(tmpdir(), 'berth-bench-auth-'));
const bodyFile = join(ROOT, 'examples/requests/income-one.json');
const pool = new WorkerPool({ size: 1 });

function start(auth: boolean): BerthApp {
  const config = loadConfig({
    env: {},
    flags: {
      server: { host: '127.0.0.1', port: 0, ...(withRateLimit && auth ? { rateLimit: { max: 100_000_000 } } : {}) },
      repository: { path: join(ROOT, 'examples/models'), pollIntervalMs: 0 },
      logging: { level: 'silent' },
      // The decision log is the same in both modes and not what is measured here.
      store: { enabled: false },
      ...(auth ? { auth: { tokens: TOKENS.map((t) => ({ name: t.name, sha256: sha256Hex(t.token), scopes: t.scopes })) } } : {}),
    },
  });
  return buildApp(config, { logger: silentLogger(), pool, defaultMetrics: false });
}

const wrk = findWrk();
const load = (o: LoadOptions): Promise<LoadResult> => (wrk === undefined ? runNodeLoad(o) : runWrk(wrk, o, scratch));

function quantiles(r: LoadResult): { p50: number; p99: number } {
  const h = new LatencyHistogram();
  for (const [us, n] of r.latencyUs) if (n > 0) h.recordNs(us * 1000, n);
  return { p50: h.percentileNs(50) / 1000, p99: h.percentileNs(99) / 1000 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const off = start(false);
const on = start(true);
try {
  const urls = { off: await off.listen(), on: await on.listen() };
  await Promise.all([off.modelsLoaded, on.modelsLoaded]);
  const headers = { off: { 'Content-Type': 'application/json' }, on: { 'Content-Type': 'application/json', Authorization: `Bearer ${clientToken}` } };
  const results: Record<'off' | 'on', { p50: number; p99: number; rps: number; non200: number }[]> = { off: [], on: [] };
  for (const mode of ['off', 'on'] as const) await load({ url: `${urls[mode]}/v2/models/income/infer`, bodyFile, headers: headers[mode], concurrency: 1, seconds: 2, cwd: ROOT });
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      const res = await load({ url: `${urls[mode]}/v2/models/income/infer`, bodyFile, headers: headers[mode], concurrency: 1, seconds, cwd: ROOT });
      results[mode].push({ ...quantiles(res), rps: res.requests / res.seconds, non200: res.non200 });
    }
  }
  const row = (mode: 'off' | 'on') => ({
    p50: median(results[mode].map((x) => x.p50)),
    p99: median(results[mode].map((x) => x.p99)),
    rps: median(results[mode].map((x) => x.rps)),
    non200: results[mode].reduce((n, x) => n + x.non200, 0),
  });
  const a = row('off');
  const b = row('on');
  const report = {
    what: `income infer, c=1, ${rounds} rounds × ${seconds} s per mode, ${wrk === undefined ? 'Node generator' : 'wrk'}${withRateLimit ? ', rate limit on with auth' : ''}`,
    authOff: a,
    authOn: b,
    p50DeltaUs: b.p50 - a.p50,
    rounds: results,
  };
  const file = join(ROOT, 'bench/results', `auth-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${report.what}\n`);
  process.stdout.write(`| auth | p50 µs | p99 µs | req/s | non-200 |\n| --- | --- | --- | --- | --- |\n`);
  for (const [name, x] of [['off', a], ['on (5 tokens)', b]] as const) process.stdout.write(`| ${name} | ${x.p50.toFixed(0)} | ${x.p99.toFixed(0)} | ${x.rps.toFixed(0)} | ${x.non200} |\n`);
  process.stdout.write(`p50 on − off: ${(b.p50 - a.p50).toFixed(1)} µs (${file})\n`);
} finally {
  await off.close();
  await on.close();
  await pool.close();
  rmSync(scratch, { recursive: true, force: true });
}
