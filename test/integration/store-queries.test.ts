/**
 * Decision-log queries through the real server cannot stall it (issue 9, item 4): 40
 * abandoned heavy `/api/predictions?limit=10000` queries are cancelled (they leave the
 * queue, the running one stops between rows), while an inference and its decision write
 * complete — judged by conditions (the write finished while those reads were still
 * queued; the executed reads are fewer than the issued ones), not by time. Plus: a
 * repeated parameter is a 400 naming it, limit and the result-size cap are 400s naming
 * limit, and no error body holds the path of the data directory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { DecisionRecord } from '../../src/store/store.js';
import { EXAMPLES, getJson, postJson, startServer, type TestServer } from '../helpers/server.js';

const INCOME = { name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') };
const features = (seed: number): number[] => Array.from({ length: 91 }, (_, k) => ((k * 7 + seed) % 13 === 0 ? 1 : 0));

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function serve(t: TestContext, config: Record<string, unknown> = {}): Promise<TestServer> {
  const server = await startServer({ models: [INCOME], config: { runtime: { workers: 1 }, ...config } });
  t.after(() => server.close());
  return server;
}

/** Heavy decisions written straight to the store: `n` of them with 1,000 FP32 inputs each. */
async function seed(server: TestServer, n: number): Promise<void> {
  const store = server.app.decisionLog!.store;
  const data = new Float32Array(1000).map((_, k) => k / 7);
  const now = Date.now();
  for (let i = 0; i < n; i += 500) {
    const batch: DecisionRecord[] = Array.from({ length: Math.min(500, n - i) }, (_, k) => ({
      id: `seed-${i + k}`, time: now - 1_000_000 + i + k, model: 'income', version: '1',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 1000], data }], inputsHash: `h${i + k}`,
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75] }],
      latencyMs: 1, batchSize: 1, outcome: 'success', flags: [],
    }));
    await store.writeDecisions(batch);
  }
}

test('query cancellation: 40 abandoned heavy /api/predictions queries are dropped or stopped; an infer and its decision write complete meanwhile; the store stays up', async (t) => {
  const server = await serve(t, { store: { queries: { maxResultBytes: 1 << 30, timeoutMs: 600_000, maxQueued: 64 } } });
  const store = server.app.decisionLog!.store;
  await seed(server, 3000);
  const issued = 40;
  const clients = Array.from({ length: issued }, () => new AbortController());
  const queries = clients.map((c) => fetch(`${server.url}/api/predictions?model=income&limit=10000`, { signal: c.signal }).catch((err: unknown) => err));
  await waitFor('one query running, the rest queued', () => store.readStats().running === 1 && store.readStats().queued === issued - 1);

  // The clients go away; then an inference is answered and its decision written, at once.
  for (const c of clients) c.abort();
  const res = await postJson(`${server.url}/v2/models/income/infer`, { id: 'after-abandon', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 91], data: features(1) }] });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  await server.app.decisionLog!.flush();
  assert.deepEqual([...(await store.storedIds('income', ['after-abandon']))], ['after-abandon']);
  // Reading all 40 would take the reader tens of seconds; by now at most the one running had finished.
  assert.ok(store.readStats().completed < issued, `executed ${store.readStats().completed} of ${issued} issued when the write was done`);
  assert.equal(server.app.decisionLog!.stats.storeUp, true, 'a read backlog does not mark the store down');
  await Promise.all(queries);
  await waitFor('the queue to empty', () => store.readStats().running === 0 && store.readStats().queued === 0);
  const s = store.readStats();
  assert.equal(s.completed + s.cancelled, issued + 1, 'the 40 and the storedIds look-up above');
  assert.ok(s.cancelled >= issued - 1, `cancelled ${s.cancelled}: the queued ones never ran`);

  const after = await postJson(`${server.url}/v2/models/income/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 91], data: features(2) }] });
  assert.equal(after.status, 200);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, new RegExp(`^berth_store_queries_total\\{outcome="cancelled"\\} ${s.cancelled}$`, 'm'));
  assert.match(metrics, /^berth_store_up 1$/m);
});

test('repeated parameter: ?id=a&id=b is a 400 naming the parameter, without any path', async (t) => {
  const server = await serve(t);
  const dataDir = server.app.config.store.dataDir;
  for (const [query, name] of [['id=a&id=b', 'id'], ['model=income&model=income', 'model'], ['limit=5&limit=6', 'limit'], ['since=1&since=2&id=x', 'since']] as const) {
    const res = await getJson(`${server.url}/api/predictions?${query}`);
    assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.json)}`);
    assert.equal(res.json.code, 'BERTH_ERR_BAD_REQUEST');
    assert.equal(res.json.error, `${name}: given 2 times; expected once (one value per filter)`);
    assert.ok(!JSON.stringify(res.json).includes(dataDir));
  }
  assert.equal((await getJson(`${server.url}/api/predictions?id=a`)).status, 200);
});

test('limit bound: limit above 10,000 and a result past store.queries.maxResultBytes are 400s naming limit; the size the refusal names then works', async (t) => {
  const server = await serve(t, { store: { queries: { maxResultBytes: 256 * 1024 } } });
  await seed(server, 500);
  const over = await getJson(`${server.url}/api/predictions?limit=10001`);
  assert.equal(over.status, 400);
  assert.match(over.json.error, /^limit: expected an integer from 1 to 10000, got '10001'$/);
  const big = await getJson(`${server.url}/api/predictions?model=income&limit=500`);
  assert.equal(big.status, 400, JSON.stringify(big.json).slice(0, 300));
  assert.equal(big.json.code, 'BERTH_ERR_QUERY_TOO_COSTLY');
  const m = /^limit: the 500 decisions asked for hold more than 0\.3 MiB of tensors \(store\.queries\.maxResultBytes\); the newest (\d+) fit: ask for limit=\1 or fewer/.exec(big.json.error);
  assert.ok(m !== null, big.json.error);
  const fit = await getJson(`${server.url}/api/predictions?model=income&limit=${m[1]}`);
  assert.equal(fit.status, 200);
  assert.equal(fit.json.predictions.length, Number(m[1]));
});

test('store errors in HTTP answers say what, not where: no path of the data directory in the body', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-nopath-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a-file'), 'not a directory');
  const dataDir = join(dir, 'a-file', 'data');
  const server = await serve(t, { store: { dataDir } });
  const query = await getJson(`${server.url}/api/predictions?id=x`);
  assert.equal(query.status, 503, JSON.stringify(query.json));
  assert.equal(query.json.code, 'BERTH_ERR_STORE_UNAVAILABLE');
  const feedback = await postJson(`${server.url}/v2/models/income/feedback`, { id: 'x', label: 1 });
  assert.equal(feedback.status, 503, JSON.stringify(feedback.json));
  for (const body of [query.json, feedback.json]) {
    assert.match(body.error, /^the SQLite decision store: /);
    assert.ok(!JSON.stringify(body).includes(dir), `no path in ${JSON.stringify(body)}`);
  }
});
