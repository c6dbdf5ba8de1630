/**
 * The store contract on PostgreSQL, against a real server this file starts (Debian's
 * postgresql package; the test fails, not skips, without it), one schema per test. Plus
 * what is PostgreSQL's own: replicas initializing one database at once, and the pool
 * coming back after the server restarts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { createStore } from '../../src/store/create-store.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { decision, storeContract } from '../unit/store/contract.js';

let server: PgServer;
let schemas = 0;

before(async () => {
  server = await startPostgres();
});

after(() => server?.destroy());

storeContract('PostgreSQL', async (t, reads) => {
  const store = new PostgresStore({ url: server.url, schema: `contract_${++schemas}`, ...(reads === undefined ? {} : { reads }) });
  t.after(() => store.close());
  await store.init();
  return store;
});

test('PostgreSQL store: several replicas initializing the same schema at once all succeed and share it', async (t) => {
  const replicas = Array.from({ length: 6 }, () => createStore(`${server.url}?schema=shared&maxConnections=2`));
  t.after(() => Promise.all(replicas.map((r) => r.close())));
  await Promise.all(replicas.map((r) => r.init()));
  await Promise.all(replicas.map((r, i) => r.writeDecisions([decision(i), decision(100)])));
  for (const r of replicas) assert.equal(await r.countDecisions({}), 7);
});

test('PostgreSQL store: calls fail as unavailable while the server is down and work again after it restarts', async (t) => {
  const store = new PostgresStore({ url: server.url, schema: 'restart', connectTimeoutMs: 1000 });
  t.after(() => store.close());
  await store.writeDecisions([decision(1)]); // initializes on first use
  await server.kill();
  try {
    await assert.rejects(store.writeDecisions([decision(2)]), { code: 'BERTH_ERR_STORE_UNAVAILABLE' });
    await assert.rejects(store.ping(), { code: 'BERTH_ERR_STORE_UNAVAILABLE' });
    await assert.rejects(store.queryDecisions({}), { code: 'BERTH_ERR_STORE_UNAVAILABLE' });
  } finally {
    await server.start();
  }
  await store.init();
  assert.deepEqual(await store.writeDecisions([decision(2)]), { inserted: 1, alreadyStored: 0, conflicts: 0, conflictIndexes: [] });
  assert.equal(await store.countDecisions({}), 2);
});

test('PostgreSQL store: a NUL character, which PostgreSQL cannot store, is REJECTED (not unavailable)', async (t) => {
  const store = new PostgresStore({ url: server.url, schema: 'nul' });
  t.after(() => store.close());
  await assert.rejects(store.writeDecisions([decision(1, { id: 'a\u0000b' })]), { code: 'BERTH_ERR_STORE_REJECTED' });
  await assert.rejects(store.writeDecisions([decision(1, { outputs: [{ name: 'y', datatype: 'BYTES', shape: [1], data: ['x\u0000'] }] })]), { code: 'BERTH_ERR_STORE_REJECTED' });
  assert.equal(await store.countDecisions({}), 0);
});

test('PostgreSQL store: bad options are refused with messages that name them', () => {
  assert.throws(() => new PostgresStore({ url: 'mysql://x' }), /url must start with postgres:\/\//);
  assert.throws(() => new PostgresStore({ url: server.url, schema: 'Robert"); DROP TABLE' }), /schema must be a lower-case SQL identifier/);
  assert.throws(() => new PostgresStore({ url: server.url, maxConnections: 0 }), /maxConnections must be a positive integer/);
});

test('PostgreSQL store: a cancelled read is stopped on the server (pg_cancel_backend); a queued one is never sent', async (t) => {
  const store = new PostgresStore({ url: server.url, schema: 'cancel', maxConnections: 2, reads: { maxQueued: 64 } });
  t.after(() => store.close());
  await store.writeDecisions([decision(1)]);
  // Another session holds a lock on the table, so the read waits inside PostgreSQL: it is running there for certain.
  const locker = new pg.Client({ connectionString: server.url });
  await locker.connect();
  t.after(() => locker.end());
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE cancel.decisions IN ACCESS EXCLUSIVE MODE');
  const controllers = Array.from({ length: 10 }, () => new AbortController());
  const reads = controllers.map((c) => store.queryDecisions({ limit: 10 }, { signal: c.signal }));
  // A third session watches (pg_stat_activity is a snapshot per transaction: not the locker's).
  const watcher = new pg.Client({ connectionString: server.url });
  await watcher.connect();
  t.after(() => watcher.end());
  const active = async (): Promise<number> => Number((await watcher.query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'berth-reads' AND state = 'active'")).rows[0].n);
  for (let i = 0; (await active()) < 2; i++) {
    if (i > 2000) throw new Error('the reads never became active');
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual({ running: store.readStats().running, queued: store.readStats().queued }, { running: 2, queued: 8 });
  for (const c of controllers) c.abort();
  const outcomes = await Promise.allSettled(reads);
  const errors = outcomes.map((o) => (o as PromiseRejectedResult).reason as Error & { code?: string; cause?: { message?: string } });
  assert.ok(errors.every((e) => e.code === 'BERTH_ERR_QUERY_CANCELLED'), errors.map(String).join('\n'));
  // The two running ones were cancelled by the server while waiting (SQLSTATE 57014), the eight queued never sent.
  assert.equal(errors.filter((e) => /SQLSTATE 57014/.test(e.cause?.message ?? '')).length, 2);
  await locker.query('COMMIT');
  assert.deepEqual(store.readStats(), { queued: 0, running: 0, completed: 0, cancelled: 10, refused: 0, tooCostly: 0, failed: 0 });
  assert.equal((await store.queryDecisions({})).length, 1);
});
