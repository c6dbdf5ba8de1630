/**
 * Store URLs and the store config: what `store.url` / `--data-dir` turn into.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { createStore, parseStoreUrl } from '../../../src/store/create-store.js';
import { StoreConfigSchema, loggerOptionsFor, retentionPolicyFor, storeOptionsFor, storeTargetFor } from '../../../src/store/config.js';
import { PostgresStore } from '../../../src/store/postgres-store.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';

test('store URLs: sqlite absolute and relative, postgres with schema and pool size', () => {
  assert.deepEqual(parseStoreUrl('sqlite:///var/lib/berth/decisions.db'), { kind: 'sqlite', path: '/var/lib/berth/decisions.db' });
  assert.deepEqual(parseStoreUrl('sqlite:data/d.db', '/srv'), { kind: 'sqlite', path: '/srv/data/d.db' });
  assert.deepEqual(parseStoreUrl('postgres://berth:secret@db:5432/berth'), { kind: 'postgres', url: 'postgres://berth:secret@db:5432/berth' });
  assert.deepEqual(parseStoreUrl('postgresql://db/berth?schema=prod&maxConnections=8&sslmode=require'), {
    kind: 'postgres', url: 'postgresql://db/berth?sslmode=require', schema: 'prod', maxConnections: 8,
  });
});

test('bad store URLs are refused with BERTH_ERR_STORE_CONFIG, without echoing a password', () => {
  assert.throws(() => parseStoreUrl('mysql://u:hunter2@db/x'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'BERTH_ERR_STORE_CONFIG');
    assert.ok(!err.message.includes('hunter2'), err.message);
    assert.match(err.message, /expected postgres:\/\/…, postgresql:\/\/… or sqlite:…/);
    return true;
  });
  assert.throws(() => parseStoreUrl('sqlite://host/x.db'), /sqlite:\/\/\/absolute\/path\.db/);
  assert.throws(() => parseStoreUrl('sqlite:'), /names no database file/);
  assert.throws(() => parseStoreUrl('postgres://db/x?maxConnections=zero'), /maxConnections must be a positive integer/);
});

test('createStore makes the implementation the target names (nothing connects until init)', async () => {
  const sqlite = createStore('sqlite:///tmp/berth-never-opened.db');
  assert.ok(sqlite instanceof SqliteStore);
  assert.equal(sqlite.kind, 'sqlite');
  const pgStore = createStore({ kind: 'postgres', url: 'postgres://127.0.0.1:1/x', schema: 'a' });
  assert.ok(pgStore instanceof PostgresStore);
  assert.equal(pgStore.kind, 'postgres');
  await Promise.all([sqlite.close(), pgStore.close()]);
});

test('the store config: defaults, and what they turn into', () => {
  const config = Value.Default(StoreConfigSchema, {}) as Parameters<typeof storeTargetFor>[0] & Parameters<typeof loggerOptionsFor>[0] & Parameters<typeof retentionPolicyFor>[0] & Parameters<typeof storeOptionsFor>[0];
  assert.ok(Value.Check(StoreConfigSchema, config));
  assert.deepEqual(config, {
    enabled: true,
    dataDir: './berth-data',
    durability: 'async',
    queries: { maxResultBytes: 2 * 1024 * 1024, timeoutMs: 10_000, maxQueued: 64 },
    retention: { maxAgeDays: 30, maxDecisions: 0, intervalMinutes: 10 },
    logger: { flushIntervalMs: 200, batchSize: 500, bufferSize: 50_000, spoolMaxBytes: 1024 ** 3, writeTimeoutMs: 5000 },
  });
  assert.deepEqual(storeTargetFor(config), { kind: 'sqlite', path: 'berth-data/decisions.db' });
  assert.equal(storeTargetFor({ ...config, url: 'postgres://db/x' }), 'postgres://db/x');
  assert.deepEqual(storeOptionsFor(config), { durableCommits: false, reads: { maxResultBytes: 2 * 1024 * 1024, timeoutMs: 10_000, maxQueued: 64 } });
  assert.equal(storeOptionsFor({ ...config, durability: 'sync' }).durableCommits, true);
  assert.equal(Value.Check(StoreConfigSchema, { ...config, durability: 'fsync' }), false);
  assert.deepEqual(loggerOptionsFor(config), { dataDir: './berth-data', durability: 'async', flushIntervalMs: 200, batchSize: 500, bufferSize: 50_000, spoolMaxBytes: 1024 ** 3, writeTimeoutMs: 5000 });
  assert.deepEqual(retentionPolicyFor(config), { maxAgeMs: 30 * 86_400_000, maxDecisions: 0 });
  assert.equal(Value.Check(StoreConfigSchema, { ...config, logger: { ...config.logger, batchSize: 0 } }), false);
  assert.equal(Value.Check(StoreConfigSchema, { ...config, extra: 1 }), false);
});
