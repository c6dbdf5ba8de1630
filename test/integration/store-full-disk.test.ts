/**
 * The store probe on really full and read-only disks (issue 9, item 9: the probe succeeded
 * on a full disk, so the backoff never grew — 287 up/down log lines in 40 s,
 * berth_store_up 1 while full). The data directory is a 2 MiB tmpfs this test mounts
 * (root only: CI runs as root; elsewhere the tests skip, saying why). Checked: the store
 * counts as down, probes come at doubling intervals, one up/down log line is written, the
 * losses are counted, and once there is room (or the disk is writable) again the store is
 * up and writes work.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { createLogger } from '../../src/logging/logger.js';
import { DecisionLogger, type DecisionLogStats } from '../../src/store/decision-logger.js';
import { logDecisionLogEvents } from '../../src/store/log-events.js';
import { DecisionLogMetrics } from '../../src/store/metrics.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { decision } from '../unit/store/contract.js';

function mountTmpfs(dir: string, options: string): string | undefined {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `mount -t tmpfs is not permitted here (${(r.stderr || r.error?.message || '').trim()}); run as root, as CI does`;
}

/** Whether this machine lets the test mount a tmpfs (probed once, on a scratch directory). */
const cannotMount = ((): string | false => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-mount-probe-'));
  const why = mountTmpfs(dir, 'size=64k');
  if (why === undefined) spawnSync('umount', [dir]);
  rmdirSync(dir);
  return why ?? false;
})();

/** A 2 MiB tmpfs; `unmount` is registered by the test after everything that uses it (t.after runs hooks in order). */
function tmpfs(): { dir: string; unmount: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-full-disk-'));
  const why = mountTmpfs(dir, 'size=2m');
  if (why !== undefined) throw new Error(why);
  return {
    dir,
    unmount: () => {
      spawnSync('umount', ['-l', dir]);
      rmdirSync(dir);
    },
  };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Fills the file system until it refuses; returns the filler's path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  return path;
}

const INPUT = { name: 'features', datatype: 'FP32', shape: [1, 1000], data: new Float32Array(1000).map((_, k) => k / 3) };
const big = (i: number) => decision(i, { inputs: [INPUT] });

interface Watched {
  logger: DecisionLogger;
  store: SqliteStore;
  probes: number[];
  lines: { msg: string; level: number }[];
  registry: Registry;
}

function watch(t: TestContext, dataDir: string): Watched {
  const store = new SqliteStore({ path: join(dataDir, 'decisions.db') });
  const probes: number[] = [];
  const logger = new DecisionLogger(store, { dataDir, flushIntervalMs: 20, batchSize: 50, retryMinMs: 50, retryMaxMs: 800, writeTimeoutMs: 5000 });
  logger.on('probe', () => probes.push(performance.now()));
  const lines: { msg: string; level: number }[] = [];
  logDecisionLogEvents(logger, createLogger('info', { write: (s: string) => lines.push(JSON.parse(s)) }));
  const registry = new Registry();
  new DecisionLogMetrics(registry).bind(logger);
  t.after(async () => {
    await logger.close();
    await store.close();
  });
  return { logger, store, probes, lines, registry };
}

/** Probes after the first down: each gap at least the doubling delay (a timer never fires early). */
function assertBackoff(probes: number[], from: number): void {
  const schedule = [50, 100, 200, 400, 800, 800];
  const gaps = probes.slice(from + 1).map((p, i) => p - probes[from + i]!);
  gaps.slice(0, schedule.length).forEach((g, i) => assert.ok(g >= schedule[i]! - 1, `probe gap ${i} was ${g.toFixed(1)} ms; backoff says ≥ ${schedule[i]} (gaps ${gaps.map((x) => x.toFixed(0)).join(', ')})`));
}

function accounted(s: DecisionLogStats): number {
  return s.logged + s.replayed + Object.values(s.dropped).reduce((a, b) => a + b, 0) + s.pending + s.spoolRecords;
}

test('full disk: the store counts as down, the probe backs off exponentially, one up/down line is logged, and it recovers when space is freed', { skip: cannotMount }, async (t) => {
  const { dir: dataDir, unmount } = tmpfs();
  const w = watch(t, dataDir);
  t.after(unmount);
  await w.logger.start();
  for (let i = 0; i < 50; i++) w.logger.log(big(i));
  await w.logger.flush();
  assert.equal(w.logger.stats.logged, 50);
  const filler = fill(dataDir);

  const probesBefore = w.probes.length;
  let i = 50;
  let downs = 0;
  w.logger.on('store-down', () => (downs += 1));
  // Traffic continues; the disk is full until seven more probes have been made.
  while (w.probes.length < probesBefore + 7) {
    for (let k = 0; k < 20; k++) w.logger.log(big(i++));
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(downs >= 1, 'the full disk marked the store down');
  assertBackoff(w.probes, probesBefore);
  assert.equal(w.logger.stats.retryDelayMs, 800);
  const metrics = await w.registry.metrics();
  assert.match(metrics, /^berth_store_up 0$/m);
  assert.ok(w.logger.stats.dropped.spool_error > 0, 'the spool, on the same full disk, refused too: counted');
  assert.equal(accounted(w.logger.stats), w.logger.stats.offered);
  const stateLines = w.lines.filter((l) => /decision store (un)?available/.test(l.msg));
  assert.equal(stateLines.length, 1, `one line while full: ${JSON.stringify(stateLines)}`);

  unlinkSync(filler);
  await waitFor('a probe to pass', () => w.logger.stats.storeUp);
  const logged = w.logger.stats.logged;
  for (let k = 0; k < 10; k++) w.logger.log(big(i++));
  await w.logger.flush();
  assert.equal(w.logger.stats.logged, logged + 10);
  // Only a decision write that worked ends the backoff.
  assert.equal(w.logger.stats.retryDelayMs, 50);
  assert.match(await w.registry.metrics(), /^berth_store_up 1$/m);
});

test('read-only disk: the store counts as down with growing backoff, and comes up once the disk is writable', { skip: cannotMount }, async (t) => {
  const { dir: dataDir, unmount } = tmpfs();
  const setup = new SqliteStore({ path: join(dataDir, 'decisions.db') });
  await setup.writeDecisions([decision(1)]);
  await setup.close();
  const remount = (mode: 'ro' | 'rw'): void => {
    const r = spawnSync('mount', ['-o', `remount,${mode}`, dataDir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  remount('ro');
  const w = watch(t, dataDir);
  t.after(() => {
    spawnSync('mount', ['-o', 'remount,rw', dataDir]);
    unmount();
  });
  await w.logger.start();
  assert.equal(w.logger.stats.storeUp, false);
  for (let i = 2; i < 12; i++) w.logger.log(decision(i));
  await waitFor('five probes', () => w.probes.length >= 5);
  assert.equal(w.logger.stats.storeUp, false);
  assertBackoff(w.probes, 0);
  assert.match(await w.registry.metrics(), /^berth_store_up 0$/m);
  remount('rw');
  await waitFor('the store up', () => w.logger.stats.storeUp);
  for (let i = 12; i < 20; i++) w.logger.log(decision(i));
  await w.logger.flush();
  assert.equal(await w.store.countDecisions({}), 1 + w.logger.stats.logged + w.logger.stats.replayed);
  assert.ok(w.logger.stats.logged >= 8);
});
