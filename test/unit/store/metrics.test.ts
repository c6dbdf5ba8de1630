/**
 * The decision log's Prometheus metrics read the logger's stats at scrape time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { DecisionLogger } from '../../../src/store/decision-logger.js';
import { DecisionLogMetrics } from '../../../src/store/metrics.js';
import { decision } from './contract.js';
import { FakeStore } from './fake-store.js';

test('decision log metrics: names, zero before bind, then counts, drops by reason, store_up and write durations', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-metrics-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const registry = new Registry();
  const metrics = new DecisionLogMetrics(registry);
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
  assert.deepEqual(names, [
    'berth_decision_log_pending', 'berth_decision_spool_bytes', 'berth_decisions_crash_lost_total', 'berth_decisions_dropped_total', 'berth_decisions_logged_total',
    'berth_decisions_replayed_total', 'berth_decisions_spooled_total', 'berth_store_queries_total', 'berth_store_up', 'berth_store_write_duration_seconds',
  ]);
  let text = await registry.metrics();
  assert.match(text, /^berth_store_up 0$/m);
  assert.match(text, /^berth_decisions_dropped_total\{reason="spool_full"\} 0$/m);

  const store = new FakeStore();
  const logger = new DecisionLogger(store, { dataDir, flushIntervalMs: 20, retryMinMs: 20 });
  t.after(() => logger.close());
  metrics.bind(logger);
  await logger.start();
  for (let i = 0; i < 30; i++) logger.log(decision(i));
  logger.log({} as never);
  await logger.flush();
  text = await registry.metrics();
  assert.match(text, /^berth_decisions_logged_total 30$/m);
  assert.match(text, /^berth_decisions_dropped_total\{reason="invalid"\} 1$/m);
  assert.match(text, /^berth_store_up 1$/m);
  assert.match(text, /^berth_store_write_duration_seconds_count 1$/m);

  store.mode = 'down';
  for (let i = 30; i < 40; i++) logger.log(decision(i));
  await logger.flush();
  text = await registry.metrics();
  assert.match(text, /^berth_store_up 0$/m);
  assert.match(text, /^berth_decisions_spooled_total 10$/m);
  assert.match(text, /^berth_decision_spool_bytes [1-9]\d*$/m);
  // A second scrape does not count twice.
  text = await registry.metrics();
  assert.match(text, /^berth_decisions_logged_total 30$/m);
  assert.match(text, /^berth_decisions_spooled_total 10$/m);
});
