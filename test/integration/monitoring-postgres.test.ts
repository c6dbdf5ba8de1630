/**
 * The server with its decision log on a real PostgreSQL server that is killed and restarted
 * while requests keep coming: every request is answered, nothing is lost (count in = count
 * stored, each id once), the spool takes over while the database is down and is replayed
 * when it is back, and the metrics say so. Feedback while the store is down answers 503
 * with Retry-After instead of pretending.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { readIncomeRows, type IncomeRows } from '../e2e/load.js';
import { startPostgres } from '../helpers/postgres.js';
import { EXAMPLES, ROOT, postJson, startServer, type TestServer } from '../helpers/server.js';

/** Single-row requests with ids `${prefix}-${start}` … `${prefix}-${end - 1}`, 8 at a time; every one must be answered 200. */
async function load(server: TestServer, rows: IncomeRows, prefix: string, end: number, start = 0): Promise<void> {
  let next = start;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const i = next++;
      const r = i % rows.count;
      const res = await postJson(`${server.url}/v2/models/income/infer`, {
        id: `${prefix}-${i}`,
        inputs: [{ name: 'features', datatype: 'FP32', shape: [1, rows.width], data: Array.from(rows.features.subarray(r * rows.width, (r + 1) * rows.width)) }],
      });
      assert.equal(res.status, 200, `${prefix}-${i}: ${JSON.stringify(res.json)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

function counter(text: string, line: RegExp): number {
  const m = line.exec(text);
  assert.ok(m !== null, `metric ${line.source} present`);
  return Number(m[1]);
}

test('PostgreSQL decision log killed and restarted under load: every request answered, every decision stored once', { timeout: 180_000 }, async (t) => {
  const rows = readIncomeRows(ROOT);
  const db = await startPostgres(t);
  const repo = mkdtempSync(join(tmpdir(), 'berth-pg-repo-'));
  cpSync(join(EXAMPLES, 'income'), join(repo, 'income'), { recursive: true });
  const server = await startServer({
    repo,
    config: {
      store: { url: `${db.url}?schema=served`, logger: { flushIntervalMs: 50, batchSize: 100, writeTimeoutMs: 2000 } },
      monitoring: { evaluationIntervalMs: 3_600_000 },
    },
  });
  t.after(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });
  const log = server.app.decisionLog!;

  // Killed while requests are in flight and batches are being written.
  await load(server, rows, 'up', 300);
  await Promise.all([load(server, rows, 'up', 600, 300), (async () => {
    await new Promise((r) => setTimeout(r, 150));
    await db.kill();
  })()]);
  await load(server, rows, 'down', 300);

  // Feedback needs the store: while it is down the answer is 503 with Retry-After, not a false 200 or 404.
  const fb = await postJson(`${server.url}/v2/models/income/feedback`, { id: 'up-1', label: 1 });
  assert.equal(fb.status, 503, JSON.stringify(fb.json));
  assert.equal(fb.json.code, 'BERTH_ERR_STORE_UNAVAILABLE');
  assert.ok(Number(fb.headers.get('retry-after')) > 0);

  // Back up while the traffic goes on.
  await Promise.all([db.start(), load(server, rows, 'back', 600)]);
  await log.flush();
  const deadline = Date.now() + 60_000;
  while (log.stats.spoolRecords > 0 || !log.stats.storeUp) {
    assert.ok(Date.now() < deadline, `spool not replayed within 60 s: ${JSON.stringify(log.stats)}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const { rows: [counts] } = await client.query<{ total: string; ids: string; down: string; up: string }>(
    `SELECT count(*) AS total, count(DISTINCT id) AS ids, count(*) FILTER (WHERE id LIKE 'down-%') AS down, count(*) FILTER (WHERE id LIKE 'up-%') AS up FROM served.decisions WHERE model = 'income'`,
  );
  await client.end();
  assert.deepEqual({ ...counts }, { total: '1500', ids: '1500', down: '300', up: '600' }, 'count in = count stored, each once');

  const stats = log.stats;
  assert.equal(stats.offered, 1500);
  assert.deepEqual(Object.values(stats.dropped).filter((n) => n > 0), [], `nothing dropped: ${JSON.stringify(stats.dropped)}`);
  assert.ok(stats.spooled >= 300, `the decisions made while the store was down went to the spool (${stats.spooled})`);
  assert.equal(stats.replayed, stats.spooled);
  assert.equal(stats.logged + stats.replayed, 1500);

  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.equal(counter(metrics, /^berth_decisions_spooled_total (\d+)$/m), stats.spooled);
  assert.equal(counter(metrics, /^berth_decisions_replayed_total (\d+)$/m), stats.replayed);
  assert.equal(counter(metrics, /^berth_store_up (\d+)$/m), 1);
  for (const m of metrics.matchAll(/^berth_decisions_dropped_total\{reason="([a-z_]+)"\} (\d+)$/gm)) assert.equal(m[2], '0', `dropped ${m[1]}`);

  // And feedback works again.
  assert.deepEqual((await postJson(`${server.url}/v2/models/income/feedback`, { id: 'down-7', label: 1 })).json, { attached: 1 });
});
