/**
 * The store contract on SQLite (a fresh database file per test), plus what is SQLite's own:
 * WAL mode, the worker thread coming back after it dies, and the file surviving a reopen.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { isBerthError } from '../../../src/errors.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { decision, storeContract } from './contract.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sqlite-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

storeContract('SQLite', async (t, reads) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'decisions.db'), ...(reads === undefined ? {} : { reads }) });
  t.after(() => store.close());
  await store.init();
  return store;
});

test('SQLite store: the file is in WAL mode and keeps its decisions across a reopen', async (t) => {
  const path = join(tempDir(t), 'nested', 'dir', 'decisions.db');
  const first = new SqliteStore({ path });
  await first.init();
  await first.writeDecisions([decision(1), decision(2)]);
  await first.close();
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('auto_vacuum', { simple: true }), 2); // incremental
  db.close();
  const second = new SqliteStore({ path });
  t.after(() => second.close());
  assert.equal(await second.countDecisions({}), 2);
});

test('SQLite store: a database from a newer Berth is refused with BERTH_ERR_STORE_SCHEMA', async (t) => {
  const path = join(tempDir(t), 'decisions.db');
  const first = new SqliteStore({ path });
  await first.init();
  await first.close();
  const db = new Database(path);
  db.prepare("UPDATE berth_meta SET value = '99' WHERE key = 'schema_version'").run();
  db.close();
  const second = new SqliteStore({ path });
  t.after(() => second.close());
  await assert.rejects(second.init(), { code: 'BERTH_ERR_STORE_SCHEMA' });
});

test('SQLite store: a schema-1 database (no detail, no explanation column) is migrated in place, its decisions kept', async (t) => {
  const path = join(tempDir(t), 'decisions.db');
  const first = new SqliteStore({ path });
  await first.init();
  await first.writeDecisions([decision(1)]);
  await first.close();
  // What Berth before schema 2 left behind: the table without the column, version 1.
  const db = new Database(path);
  db.exec('ALTER TABLE decisions DROP COLUMN detail');
  db.exec('ALTER TABLE decisions DROP COLUMN explanation');
  db.prepare("UPDATE berth_meta SET value = '1' WHERE key = 'schema_version'").run();
  db.close();
  const second = new SqliteStore({ path });
  t.after(() => second.close());
  await second.init();
  const [old] = await second.queryDecisions({ id: 'req-1' });
  assert.equal(old?.id, 'req-1');
  assert.equal('detail' in (old ?? {}), false);
  await second.writeDecisions([decision(2, { detail: { reason: { code: 'BERTH_ERR_INVALID_RECORD', message: "'age' is missing" } } })]);
  assert.deepEqual((await second.queryDecisions({ id: 'req-2' }))[0]?.detail, { reason: { code: 'BERTH_ERR_INVALID_RECORD', message: "'age' is missing" } });
  assert.deepEqual(await second.attachExplanations('income', [{ id: 'req-1', explanation: { method: 'exact' } }]), { attached: ['req-1'], unknown: [] });
  assert.deepEqual((await second.queryDecisions({ id: 'req-1' }))[0]?.explanation, { method: 'exact' });
  await second.close();
  const check = new Database(path, { readonly: true });
  t.after(() => check.close());
  assert.equal(check.prepare("SELECT value FROM berth_meta WHERE key = 'schema_version'").pluck().get(), '3');
});

test('SQLite store: a directory it cannot create makes init fail as unavailable', async (t) => {
  const dir = tempDir(t);
  const blocker = join(dir, 'file');
  rmSync(blocker, { force: true });
  (await import('node:fs')).writeFileSync(blocker, 'not a directory');
  const store = new SqliteStore({ path: join(blocker, 'decisions.db') });
  t.after(() => store.close());
  await assert.rejects(store.init(), { code: 'BERTH_ERR_STORE_UNAVAILABLE' });
});

/** 3,000 decisions of 1,000 FP32 inputs each (18 MB): reading all of them takes the reader most of a second. */
async function seedHeavy(store: SqliteStore, n = 3000): Promise<void> {
  const big = { name: 'features', datatype: 'FP32', shape: [1, 1000], data: new Float32Array(1000).map((_, k) => k / 7) };
  for (let i = 0; i < n; i += 500) await store.writeDecisions(Array.from({ length: 500 }, (_, k) => decision(i + k, { inputs: [big] })));
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('SQLite store: queries wait behind each other, never in front of a write; abandoned ones leave the queue, the running one stops between rows', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'decisions.db'), reads: { maxResultBytes: 1 << 30, timeoutMs: 120_000, maxQueued: 64 } });
  t.after(() => store.close());
  await seedHeavy(store);
  const controllers = Array.from({ length: 20 }, () => new AbortController());
  const reads = controllers.map((c) => store.queryDecisions({ limit: 10_000 }, { signal: c.signal }));
  await waitFor('one read running and 19 queued', () => store.readStats().running === 1 && store.readStats().queued === 19);
  // A write while 20 heavy reads are waiting: it has its own connection and thread.
  assert.deepEqual(await store.writeDecisions([decision(50_000)]), { inserted: 1, alreadyStored: 0, conflicts: 0, conflictIndexes: [] });
  assert.ok(store.readStats().queued > 0, 'the write completed while reads were still queued: it did not wait behind them');
  for (const c of controllers) c.abort();
  const outcomes = await Promise.allSettled(reads);
  const errors = outcomes.map((o) => (o.status === 'rejected' ? o.reason as Error & { code?: string } : undefined));
  assert.ok(errors.every((e) => e?.code === 'BERTH_ERR_QUERY_CANCELLED'), 'every read rejected as cancelled');
  // The running one was stopped by the reader part-way through, not read to the end and thrown away.
  const stopped = errors.map((e) => /stopped after reading (\d+) of up to 10000 rows/.exec(e!.message)).filter((m) => m !== null);
  assert.equal(stopped.length, 1, errors.map((e) => e?.message).join('\n'));
  assert.ok(Number(stopped[0]![1]) < 3001, `stopped after ${stopped[0]![1]} rows`);
  assert.deepEqual(store.readStats(), { queued: 0, running: 0, completed: 0, cancelled: 20, refused: 0, tooCostly: 0, failed: 0 });
  // The reader is free again at once.
  assert.equal((await store.queryDecisions({ limit: 3 })).length, 3);
});

test('SQLite store: error messages say what failed, not where (no path of the database or data directory)', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'not-a-dir'), 'x');
  const dataDir = join(dir, 'not-a-dir', 'data');
  const store = new SqliteStore({ path: join(dataDir, 'decisions.db') });
  t.after(() => store.close());
  await assert.rejects(store.queryDecisions({}), (err: unknown) => {
    assert.ok(isBerthError(err, 'BERTH_ERR_STORE_UNAVAILABLE'), String(err));
    assert.ok(!err.message.includes(dir), `no path in: ${err.message}`);
    assert.match(err.message, /^the SQLite decision store: .*<data directory>/);
    return true;
  });
});
