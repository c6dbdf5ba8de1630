/**
 * The decision logger against a fake store that can fail: batching off the call, the spool
 * on failure, replay in order on recovery without duplicates, and exact counts — every
 * record offered is logged, replayed, dropped for a counted reason, or still pending.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DecisionLogger, type DecisionLoggerOptions, type DecisionLogStats } from '../../../src/store/decision-logger.js';
import { recordJson } from '../../../src/store/rows.js';
import type { DecisionRecord } from '../../../src/store/store.js';
import { decision } from './contract.js';
import { FakeStore } from './fake-store.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-logger-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function open(t: TestContext, store: FakeStore, options: Partial<DecisionLoggerOptions> = {}): DecisionLogger {
  const logger = new DecisionLogger(store, { dataDir: tempDir(t), flushIntervalMs: 20, batchSize: 100, retryMinMs: 20, retryMaxMs: 80, writeTimeoutMs: 1000, ...options });
  t.after(() => logger.close());
  return logger;
}

function dropped(s: DecisionLogStats): number {
  return Object.values(s.dropped).reduce((a, b) => a + b, 0);
}

/** Nothing left in memory or in the spool. */
function settled(s: DecisionLogStats): boolean {
  return s.pending === 0 && s.spoolRecords === 0 && s.logged + s.replayed + dropped(s) === s.offered;
}

/** Every record offered is in exactly one place. */
function assertAccounted(s: DecisionLogStats): void {
  assert.equal(s.logged + s.replayed + dropped(s) + s.pending + s.spoolRecords, s.offered, JSON.stringify(s));
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const records = (from: number, n: number): DecisionRecord[] => Array.from({ length: n }, (_, i) => decision(from + i));

test('log() returns at once and never touches the store in the call; batches are written afterwards', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store);
  await logger.start();
  for (const r of records(0, 1234)) logger.log(r);
  assert.equal(store.calls.length, 0, 'no write inside log()');
  await logger.flush();
  assert.equal(store.stored.size, 1234);
  assert.ok(store.calls.every((n) => n <= 100), `batches of at most batchSize: ${store.calls.join(',')}`);
  const s = logger.stats;
  assert.equal(s.logged, 1234);
  assert.equal(s.pending, 0);
  assert.equal(s.storeUp, true);
  assertAccounted(s);
});

test('a partial batch is written within the flush interval without flush()', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store);
  await logger.start();
  for (const r of records(0, 3)) logger.log(r);
  await waitFor('the timer flush', () => store.stored.size === 3, 1000);
  assert.equal(logger.stats.logged, 3);
});

test('store down: batches go to the spool; back up: replayed in order, no duplicates, counts exact', async (t) => {
  const store = new FakeStore();
  const events: string[] = [];
  const logger = open(t, store);
  logger.on('store-down', () => events.push('down'));
  logger.on('store-up', () => events.push('up'));
  await logger.start();
  for (const r of records(0, 300)) logger.log(r);
  await logger.flush();
  assert.equal(store.stored.size, 300);

  store.mode = 'down';
  for (let chunk = 0; chunk < 10; chunk++) {
    for (const r of records(300 + chunk * 170, 170)) logger.log(r);
    await new Promise((r) => setTimeout(r, 10));
  }
  await logger.flush();
  await waitFor('the spool to hold the outage', () => logger.stats.spoolRecords === 1700);
  let s = logger.stats;
  assert.equal(s.storeUp, false);
  assert.equal(s.spooled, 1700);
  assert.equal(dropped(s), 0);
  assertAccounted(s);

  store.mode = 'up';
  for (const r of records(2000, 50)) logger.log(r);
  await waitFor('the replay', () => settled(logger.stats));
  s = logger.stats;
  assert.equal(store.stored.size, 2050);
  assert.equal(s.logged + s.replayed, 2050);
  // The outage's 1700, and any of the last 50 spooled before the probe saw the store back.
  assert.ok(s.spooled >= 1700);
  assert.equal(s.replayed, s.spooled);
  assert.equal(dropped(s), 0);
  assert.equal(s.spoolBytes, 0);
  assertAccounted(s);
  assert.deepEqual(events, ['up', 'down', 'up']);
  // The spooled records reached the store in the order they were logged.
  const order = [...store.stored.values()].map((r) => Number(r.id.slice(4))).filter((i) => i >= 300 && i < 2000);
  assert.deepEqual(order, Array.from({ length: 1700 }, (_, i) => 300 + i));
});

test('the spool files are removed once replayed', async (t) => {
  const store = new FakeStore();
  store.mode = 'down';
  const dataDir = tempDir(t);
  const logger = open(t, store, { dataDir });
  await logger.start();
  for (const r of records(0, 250)) logger.log(r);
  await logger.flush();
  const files = readdirSync(join(dataDir, 'spool'));
  assert.equal(files.length, 1);
  assert.equal(readFileSync(join(dataDir, 'spool', files[0]!), 'utf8').split('\n').filter(Boolean).length, 250);
  store.mode = 'up';
  await waitFor('the replay', () => logger.stats.spoolRecords === 0);
  assert.deepEqual(readdirSync(join(dataDir, 'spool')), []);
});

test('a write slower than writeTimeoutMs is spooled; when it lands after all, the replay does not duplicate it', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store, { writeTimeoutMs: 50 });
  await logger.start();
  store.mode = 'slow';
  store.slowMs = 150;
  for (const r of records(0, 100)) logger.log(r);
  await logger.flush();
  assert.equal(logger.stats.spooled, 100, 'the timed-out batch is in the spool');
  await new Promise((r) => setTimeout(r, 200)); // the slow write lands
  assert.equal(store.stored.size, 100);
  store.mode = 'up';
  await waitFor('the replay', () => logger.stats.spoolRecords === 0);
  const s = logger.stats;
  assert.equal(store.stored.size, 100);
  assert.equal(s.replayed, 100, 'counted once, as replayed (already stored)');
  assert.equal(s.logged, 0);
  assert.equal(dropped(s), 0);
  assertAccounted(s);
});

test('memory full while the spool is still busy with a full buffer: the rest is dropped as buffer_full', async (t) => {
  const store = new FakeStore();
  store.mode = 'down';
  const logger = open(t, store, { bufferSize: 100, batchSize: 10 });
  await logger.start();
  const drops: [string, number][] = [];
  logger.on('drop', (reason, count) => drops.push([reason, count]));
  // All in one turn of the event loop: the first spill cannot have finished.
  for (const r of records(0, 350)) logger.log(r);
  let s = logger.stats;
  assert.equal(s.dropped.buffer_full, 150);
  assert.equal(drops.length, 150);
  await logger.flush();
  s = logger.stats;
  assert.equal(s.spooled, 200);
  assert.equal(s.spoolRecords, 200);
  assertAccounted(s);
});

test('a full spool drops what does not fit as spool_full', async (t) => {
  const store = new FakeStore();
  store.mode = 'down';
  const lineBytes = Buffer.byteLength(`${recordJson(decision(10))}\n`);
  const logger = open(t, store, { spoolMaxBytes: lineBytes * 12 + 5 });
  await logger.start();
  for (const r of records(10, 80)) logger.log(r);
  await logger.flush();
  const s = logger.stats;
  assert.equal(s.spooled, 12);
  assert.equal(s.dropped.spool_full, 68);
  assert.ok(s.spoolBytes <= lineBytes * 12 + 5);
  assertAccounted(s);
});

test('a spool that cannot be written drops as spool_error, and the store being up later changes nothing', async (t) => {
  const store = new FakeStore();
  store.mode = 'down';
  const dir = tempDir(t);
  writeFileSync(join(dir, 'spool'), 'a file where the spool directory should be');
  const logger = open(t, store, { dataDir: dir });
  const warnings: unknown[] = [];
  logger.on('warning', (e) => warnings.push(e));
  await logger.start();
  for (const r of records(0, 50)) logger.log(r);
  await logger.flush();
  const s = logger.stats;
  assert.equal(s.dropped.spool_error, 50);
  assert.equal(s.spooled, 0);
  assert.ok(warnings.length >= 1);
  assertAccounted(s);
});

test('invalid records are dropped as invalid; log() never throws', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store);
  await logger.start();
  const hostile = Object.defineProperty({}, 'id', { get() { throw new Error('boom'); } });
  const bad: unknown[] = [null, 42, {}, { ...decision(1), time: Number.NaN }, { ...decision(2), id: '' }, { ...decision(3), outputs: 'x' }, hostile];
  for (const b of bad) assert.doesNotThrow(() => logger.log(b as DecisionRecord));
  logger.log(decision(4));
  await logger.flush();
  const s = logger.stats;
  assert.equal(s.dropped.invalid, bad.length);
  assert.equal(s.logged, 1);
  assertAccounted(s);
});

test('records the store refuses are found by halving the batch; the rest of it is written', async (t) => {
  const store = new FakeStore();
  store.poison.add('req-17');
  store.poison.add('req-60');
  const logger = open(t, store);
  const errors: unknown[] = [];
  logger.on('drop', (reason, _n, err) => reason === 'rejected' && errors.push(err));
  await logger.start();
  for (const r of records(0, 100)) logger.log(r);
  await logger.flush();
  const s = logger.stats;
  assert.equal(s.dropped.rejected, 2);
  assert.equal(s.logged, 98);
  assert.equal(store.stored.has('income/req-17'), false);
  assert.ok(errors.length >= 1);
  assert.ok(store.calls.length < 30, `bisection, not one write per record: ${store.calls.length} writes`);
  assertAccounted(s);
});

test('a different decision under an id already stored is counted as duplicate_id', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store);
  await logger.start();
  logger.log(decision(1));
  await logger.flush();
  logger.log(decision(2, { id: 'req-1' }));
  logger.log(decision(1)); // the very same decision again: already stored, not a loss
  await logger.flush();
  const s = logger.stats;
  assert.equal(s.dropped.duplicate_id, 1);
  assert.equal(s.logged, 2);
  assert.equal(store.stored.size, 1);
});

test('close() spools what the store cannot take; the next run replays it; records after close are counted', async (t) => {
  const store = new FakeStore();
  store.mode = 'down';
  const dataDir = tempDir(t);
  const first = new DecisionLogger(store, { dataDir, flushIntervalMs: 10_000, batchSize: 100, retryMinMs: 20 });
  await first.start();
  for (const r of records(0, 450)) first.log(r);
  await first.close();
  first.log(decision(999));
  let s = first.stats;
  assert.equal(s.spooled, 450);
  assert.equal(s.dropped.closed, 1);
  assert.equal(s.pending, 0);
  assertAccounted(s);

  store.mode = 'up';
  const second = open(t, store, { dataDir });
  await second.start();
  assert.equal(second.stats.spoolRecords, 450);
  await waitFor('the replay', () => second.stats.spoolRecords === 0);
  s = second.stats;
  assert.equal(s.replayed, 450);
  assert.equal(store.stored.size, 450);
  assert.deepEqual([...store.stored.values()].map((r) => r.id), records(0, 450).map((r) => r.id));
});

test('close() with the store up writes everything in memory', async (t) => {
  const store = new FakeStore();
  const logger = new DecisionLogger(store, { dataDir: tempDir(t), flushIntervalMs: 10_000 });
  await logger.start();
  for (const r of records(0, 1234)) logger.log(r);
  await logger.close();
  assert.equal(store.stored.size, 1234);
  assert.equal(logger.stats.logged, 1234);
});

test('a torn line left by a crash is counted as spool_error and the rest is replayed', async (t) => {
  const store = new FakeStore();
  const dataDir = tempDir(t);
  mkdirSync(join(dataDir, 'spool'));
  const lines = records(0, 3).map((r) => recordJson(r)).join('\n');
  writeFileSync(join(dataDir, 'spool', 'decisions-001700000000000-000000.jsonl'), `${lines}\n{"id":"req-3","ti`);
  const logger = open(t, store, { dataDir });
  await logger.start();
  await waitFor('the replay', () => logger.stats.spoolRecords === 0);
  const s = logger.stats;
  assert.equal(s.replayed, 3);
  assert.equal(s.dropped.spool_error, 1);
  assert.equal(store.stored.size, 3);
});

test('a store that is down at start: start() resolves, records are spooled, and replayed once it answers', async (t) => {
  const store = new FakeStore();
  store.mode = 'down';
  const logger = open(t, store);
  await logger.start();
  assert.equal(logger.stats.storeUp, false);
  for (const r of records(0, 120)) logger.log(r);
  await waitFor('the spool', () => logger.stats.spoolRecords === 120);
  const probesWhileDown = store.initCalls;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(store.initCalls - probesWhileDown <= 5, `backoff: ${store.initCalls - probesWhileDown} probes in 200 ms`);
  store.mode = 'up';
  await waitFor('the replay', () => logger.stats.spoolRecords === 0);
  assert.equal(store.stored.size, 120);
  assert.equal(logger.stats.storeUp, true);
});

test('attachFeedback finds a decision that was still in the buffer', async (t) => {
  const store = new FakeStore();
  const logger = open(t, store, { flushIntervalMs: 10_000 });
  await logger.start();
  logger.log(decision(1));
  assert.deepEqual(await store.attachFeedback('income', [{ id: 'req-1', label: 1 }]), { attached: [], unknown: ['req-1'] });
  assert.deepEqual(await logger.attachFeedback('income', [{ id: 'req-1', label: 1 }, { id: 'nope', label: 0 }]), { attached: ['req-1'], unknown: ['nope'] });
});

test('options are validated with messages that name them', () => {
  const store = new FakeStore();
  assert.throws(() => new DecisionLogger(store, { dataDir: '' }), /dataDir/);
  assert.throws(() => new DecisionLogger(store, { dataDir: 'x', batchSize: 0 }), /batchSize must be a positive integer/);
  assert.throws(() => new DecisionLogger(store, { dataDir: 'x', batchSize: 10, bufferSize: 5 }), /batchSize \(10\) must not exceed bufferSize \(5\)/);
  assert.throws(() => new DecisionLogger(store, { dataDir: 'x', writeTimeoutMs: 1.5 }), { code: 'BERTH_ERR_STORE_CONFIG' });
});
