/**
 * The decision logger's durability: with `durability: 'sync'` a reserved decision's promise
 * settles only once it is in the store or the fsync'd spool (or with the reason it was
 * dropped), and decisions arriving during a write share the next one (group commit); with
 * the default async durability, a run killed with decisions in memory is counted by the
 * next start, exactly. Also the probe's backoff: a probe that passes while decision writes
 * fail (a nearly full disk) must not reset it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isBerthError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logging/logger.js';
import { DecisionLogger, type CrashCheck, type DecisionLoggerOptions, type DecisionLogStats } from '../../../src/store/decision-logger.js';
import { logDecisionLogEvents } from '../../../src/store/log-events.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { decision } from './contract.js';
import { FakeStore } from './fake-store.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-durability-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(t: TestContext, store: FakeStore, options: Partial<DecisionLoggerOptions> = {}): DecisionLogger {
  const logger = new DecisionLogger(store, { dataDir: tempDir(t), flushIntervalMs: 20, batchSize: 100, retryMinMs: 20, retryMaxMs: 80, writeTimeoutMs: 1000, durability: 'sync', ...options });
  t.after(() => logger.close());
  return logger;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function accounted(s: DecisionLogStats): number {
  return s.logged + s.replayed + Object.values(s.dropped).reduce((a, b) => a + b, 0) + s.pending + s.spoolRecords;
}

/** Logs a decision the way the monitor does (reserve before the response, log after) and returns its durability promise. */
function logDurably(logger: DecisionLogger, i: number, overrides: Parameters<typeof decision>[1] = {}): Promise<void> {
  const r = decision(i, overrides);
  const ticket = logger.reserve(r.model, r.id);
  logger.log(r, ticket);
  assert.ok(ticket.durable !== undefined, 'sync durability hands out a promise');
  return ticket.durable;
}

test('sync durability: a decision is durable only once its write returned; decisions arriving meanwhile share the next write (group commit)', async (t) => {
  const store = new FakeStore();
  store.mode = 'slow';
  store.slowMs = 30;
  const logger = open(t, store);
  await logger.start();
  let settled = false;
  const first = logDurably(logger, 0).then(() => {
    settled = true;
  });
  await waitFor('the first write to start', () => store.calls.length === 1);
  assert.equal(settled, false, 'not durable while its write is in flight');
  // 250 requests while that write is in flight: they go into the next writes, not one write each.
  const burst = Array.from({ length: 250 }, (_, i) => logDurably(logger, i + 1));
  await first;
  assert.ok(store.stored.has('income/req-0'), 'durable means stored');
  await Promise.all(burst);
  assert.equal(store.stored.size, 251);
  assert.ok(store.calls.length <= 1 + Math.ceil(250 / 100) + 1, `group commit: ${store.calls.length} writes for 251 decisions (${store.calls.join(', ')})`);
  assert.equal(logger.stats.unsettled, 0);
  assert.equal(accounted(logger.stats), logger.stats.offered);
});

test('sync durability: with the store down a decision is durable once it is in the fsync\'d spool, and replayed when the store is back', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store);
  await logger.start();
  store.mode = 'down';
  await assert.rejects(store.ping());
  // The first write fails and marks the store down; its decisions go to the spool.
  await Promise.all(Array.from({ length: 30 }, (_, i) => logDurably(logger, i)));
  assert.equal(logger.stats.spoolRecords, 30);
  assert.equal(store.stored.size, 0);
  // Now known down: new decisions go straight to the spool, without waiting for the flush timer.
  await Promise.all(Array.from({ length: 5 }, (_, i) => logDurably(logger, 30 + i)));
  assert.equal(logger.stats.spoolRecords, 35);
  store.mode = 'up';
  await waitFor('the replay', () => store.stored.size === 35 && logger.stats.spoolRecords === 0);
  assert.equal(logger.stats.replayed, 35);
});

test('sync durability: a decision that cannot be kept rejects with why (spool full: 503 NOT_DURABLE; reused id: 409 ID_IN_USE), counted as dropped', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store, { spoolMaxBytes: 2000 });
  await logger.start();
  await logDurably(logger, 1);
  const results = await Promise.allSettled([logDurably(logger, 2), logDurably(logger, 99, { id: 'req-1' }), logDurably(logger, 3)]);
  assert.equal(results[0]!.status, 'fulfilled');
  assert.equal(results[2]!.status, 'fulfilled');
  const reused = results[1] as PromiseRejectedResult;
  assert.ok(isBerthError(reused.reason, 'BERTH_ERR_DECISION_ID_IN_USE'), String(reused.reason));
  assert.equal(reused.reason.status, 409);
  assert.match(reused.reason.message, /^id: /);
  assert.equal(logger.stats.dropped.duplicate_id, 1);

  store.mode = 'down';
  const down = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => logDurably(logger, 100 + i)));
  const kept = down.filter((r) => r.status === 'fulfilled').length;
  const refused = down.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.ok(kept > 0 && refused.length > 0, `a 2000-byte spool takes a few: ${kept} kept, ${refused.length} refused`);
  for (const r of refused) {
    assert.ok(isBerthError(r.reason, 'BERTH_ERR_DECISION_NOT_DURABLE'), String(r.reason));
    assert.equal(r.reason.status, 503);
    assert.match(r.reason.message, /spool is full/);
  }
  assert.equal(logger.stats.spoolRecords, kept);
  assert.equal(logger.stats.dropped.spool_full, refused.length);
});

test('sync durability: a reserved decision never logged is rejected at close; an abandoned one at once; both counted', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store);
  await logger.start();
  const never = logger.reserve('income', 'never-built');
  const broken = logger.reserve('income', 'broken');
  logger.abandon(broken, new Error('could not hash the inputs'));
  await assert.rejects(broken.durable!, (err: unknown) => isBerthError(err, 'BERTH_ERR_STORE_REJECTED') && /could not hash/.test(err.message));
  await logger.close();
  await assert.rejects(never.durable!, (err: unknown) => isBerthError(err, 'BERTH_ERR_DECISION_NOT_DURABLE') && /shutting down/.test(err.message));
  const s = logger.stats;
  assert.deepEqual({ invalid: s.dropped.invalid, closed: s.dropped.closed, offered: s.offered, unsettled: s.unsettled }, { invalid: 1, closed: 1, offered: 2, unsettled: 0 });
});

/** Runs test/unit/store/crash-child.ts, which logs and then SIGKILLs itself. */
function crashChild(spec: object): DecisionLogStats {
  const r = spawnSync(process.execPath, ['--import', 'tsx', new URL('./crash-child.ts', import.meta.url).pathname], {
    encoding: 'utf8',
    env: { ...process.env, BERTH_CRASH_CHILD: JSON.stringify(spec) },
  });
  assert.equal(r.signal, 'SIGKILL', `the child should have killed itself: ${r.stderr}`);
  return JSON.parse(r.stdout) as DecisionLogStats;
}

async function restart(t: TestContext, dataDir: string): Promise<{ logger: DecisionLogger; store: SqliteStore; check: CrashCheck }> {
  const store = new SqliteStore({ path: join(dataDir, 'decisions.db') });
  const logger = new DecisionLogger(store, { dataDir, flushIntervalMs: 20 });
  t.after(async () => {
    await logger.close();
    await store.close();
  });
  const checked = new Promise<CrashCheck>((resolve) => logger.once('crash-check', resolve));
  await logger.start();
  return { logger, store, check: await checked };
}

test('async durability: a run SIGKILLed with decisions in memory is counted by the next start, exactly, with the lost ids listed', async (t) => {
  const dataDir = tempDir(t);
  const before = crashChild({ dataDir, store: 'sqlite', written: 100, buffered: 50, reservedOnly: 5 });
  assert.deepEqual({ logged: before.logged, pending: before.pending, unsettled: before.unsettled }, { logged: 100, pending: 50, unsettled: 55 });
  const { logger, store, check } = await restart(t, dataDir);
  assert.equal(await store.countDecisions({}), 100);
  // The 50 in memory and the 5 reserved but not yet logged were acknowledged and are gone.
  assert.equal(check.lost, 55);
  assert.equal(logger.stats.crashLost, 55);
  assert.ok(check.unsettled >= 55, `looked up ${check.unsettled}`);
  const lost = readFileSync(check.file!, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
  assert.deepEqual(lost.sort(), Array.from({ length: 55 }, (_, i) => `req-${100 + i}`).sort());
  assert.equal(logger.stats.crashChecksPending, 0);
});

test('async durability: decisions a killed run had spooled are replayed, not counted as lost', async (t) => {
  const dataDir = tempDir(t);
  const before = crashChild({ dataDir, store: 'down', written: 30, buffered: 20, reservedOnly: 0 });
  assert.deepEqual({ spoolRecords: before.spoolRecords, pending: before.pending }, { spoolRecords: 30, pending: 20 });
  const { logger, store, check } = await restart(t, dataDir);
  // The check ran after the spool's replay: the 30 spooled are in the store, the 20 in memory are lost.
  assert.equal(await store.countDecisions({}), 30);
  assert.equal(logger.stats.replayed, 30);
  assert.equal(check.lost, 20);
});

test('store probe: a probe that passes while decision writes fail (a nearly full disk) does not reset the backoff, and the up/down lines stay few', async (t) => {
  const store = new FakeStore();
  store.writesFail = true;
  const logger = open(t, store, { durability: 'async', retryMinMs: 20, retryMaxMs: 160 });
  const lines: { msg: string; changesNotLogged?: number }[] = [];
  logDecisionLogEvents(logger, createLogger('info', { write: (s: string) => lines.push(JSON.parse(s)) }), { stateLineIntervalMs: 60_000 });
  let downs = 0;
  logger.on('store-down', () => (downs += 1));
  await logger.start();
  for (let i = 0; i < 10; i++) logger.log(decision(i));
  // The start probe, then probes after 20, 40, 80, 160, 160 ms: each passes, the next write fails.
  await waitFor('six probes', () => store.probeTimes.length >= 6);
  const gaps = store.probeTimes.slice(1).map((p, i) => p - store.probeTimes[i]!);
  const schedule = [20, 40, 80, 160, 160];
  // A timer never fires early, so each gap is at least its delay, however loaded the machine.
  gaps.slice(0, 5).forEach((g, i) => assert.ok(g >= schedule[i]! - 1, `probe ${i + 1} came ${g.toFixed(1)} ms after the previous; the backoff says ≥ ${schedule[i]} (gaps ${gaps.map((x) => x.toFixed(0)).join(', ')})`));
  assert.equal(logger.stats.retryDelayMs, 160);
  assert.ok(downs >= 5, `a down per failed write: ${downs}`);
  const stateLines = lines.filter((l) => /decision store (un)?available/.test(l.msg));
  assert.equal(stateLines.length, 1, `one line for the first change, the rest held back: ${JSON.stringify(stateLines)}`);
  // The disk has room again: the next probe's write works, the spool is replayed, the backoff resets.
  store.writesFail = false;
  await waitFor('the store back with everything written', () => logger.stats.storeUp && store.stored.size === 10 && logger.stats.spoolRecords === 0);
  assert.equal(logger.stats.retryDelayMs, 20);
});
