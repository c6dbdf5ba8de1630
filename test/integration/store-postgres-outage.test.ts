/**
 * The check: kill the PostgreSQL server (SIGKILL to the postmaster and its backends,
 * as a crash) while decisions are being logged, keep logging, start it again, and wait for
 * the spool to replay. Every decision offered must be in the database exactly once, none
 * dropped, and log() must never have thrown or waited.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { DecisionLogger } from '../../src/store/decision-logger.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { startPostgres } from '../helpers/postgres.js';
import { decision } from '../unit/store/contract.js';

const TOTAL = 20_000;
const PER_TICK = 50;
const TICK_MS = 10;

test('PostgreSQL killed and restarted under load: count in = count stored, no duplicates, nothing dropped', async (t) => {
  const server = await startPostgres(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-outage-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const store = new PostgresStore({ url: server.url, schema: 'outage', connectTimeoutMs: 1000 });
  t.after(() => store.close());
  const logger = new DecisionLogger(store, { dataDir, flushIntervalMs: 50, batchSize: 500, writeTimeoutMs: 2000, retryMinMs: 50, retryMaxMs: 400 });
  t.after(() => logger.close());
  const events: string[] = [];
  logger.on('store-down', () => events.push('down'));
  logger.on('store-up', () => events.push('up'));
  await logger.start();

  let offered = 0;
  let slowestLogMs = 0;
  /** Logs n decisions, PER_TICK every TICK_MS (about 5,000 a second). */
  const produce = async (n: number): Promise<void> => {
    const end = offered + n;
    while (offered < end) {
      const t0 = performance.now();
      const tick = Math.min(PER_TICK, end - offered);
      for (let i = 0; i < tick; i++) {
        logger.log(decision(offered, { time: Date.now() })); // never throws: an exception here fails the test
        offered += 1;
      }
      slowestLogMs = Math.max(slowestLogMs, (performance.now() - t0) / tick);
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
  };
  // Phases by count, not by clock, so a slow machine cannot move the outage out of the load.
  const started = performance.now();
  await produce(6000); // server up
  const killing = server.kill();
  await produce(6000); // killed while logging, then down
  await killing;
  const restarting = server.start();
  await produce(2000); // logging while it starts (crash recovery)
  await restarting;
  await produce(TOTAL - offered); // back up: new decisions and the replay together
  const loggingSeconds = (performance.now() - started) / 1000;

  await logger.flush();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = logger.stats;
    if (s.pending === 0 && s.spoolRecords === 0 && s.logged + s.replayed === TOTAL) break;
    assert.ok(Date.now() < deadline, `replay did not finish: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 25));
  }

  const s = logger.stats;
  const lost = Object.values(s.dropped).reduce((a, b) => a + b, 0);
  t.diagnostic(`${TOTAL} decisions in ${loggingSeconds.toFixed(1)} s, killed after 6,000, restarted after 14,000; logged ${s.logged}, spooled ${s.spooled}, replayed ${s.replayed}; slowest log() ${(slowestLogMs * 1000).toFixed(1)} µs per record`);
  assert.equal(s.offered, TOTAL);
  assert.equal(lost, 0, `dropped: ${JSON.stringify(s.dropped)}`);
  assert.ok(s.spooled > 0, 'the outage sent decisions to the spool');
  assert.deepEqual(events.slice(0, 3), ['up', 'down', 'up']);
  assert.deepEqual(readdirSync(join(dataDir, 'spool')), [], 'the spool is empty once replayed');

  const client = new pg.Client({ connectionString: server.url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string; ids: string; min: number; max: number }>(
      'SELECT count(*) AS n, count(DISTINCT id) AS ids, min(substr(id, 5)::int) AS min, max(substr(id, 5)::int) AS max FROM outage.decisions',
    );
    assert.deepEqual(rows[0], { n: String(TOTAL), ids: String(TOTAL), min: 0, max: TOTAL - 1 });
  } finally {
    await client.end();
  }
  await logger.close();
  await store.close();
});
