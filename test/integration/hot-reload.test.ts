/**
 * The repository changing under a server that is busy: a new version is swapped in with no
 * failed request, a corrupt version or a bad berth.yaml leaves the serving version serving
 * (with the reason reported), a torch export dropped in with no config is served after a
 * rescan, and a crashed worker's models come back by themselves.
 */
import assert from 'node:assert/strict';
import { closeSync, cpSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, fixture, getJson, postJson, startServer } from '../helpers/server.js';
import { POISON_VALUE } from '../helpers/poison.js';
import { infer, maxAbsDiff, metricSum, outputValues, prng, readJson, scrape, waitFor } from '../helpers/v2.js';

const INCOME = join(EXAMPLES, 'income/1/model.onnx');
const incomeRequest = readJson('examples/requests/income.json');
const incomeExpected = readJson('examples/requests/income.expected.json');
const expectedProbs: number[] = incomeExpected.outputs.find((o: { name: string }) => o.name === 'probabilities').data;

interface Outcome {
  status: number;
  version?: string;
  code?: string;
  retryAfter?: string | null;
  message?: string;
}

/** Several client loops sending the income example and checking every answer, until stopped. */
class LoadLoops {
  readonly outcomes: Outcome[] = [];
  /** Wrong answers (a 200 with outputs that are not the expected ones). */
  readonly wrong: string[] = [];
  #stop = false;
  #loops: Promise<void>[];

  constructor(url: string, loops: number) {
    this.#loops = Array.from({ length: loops }, () => this.#loop(url));
  }

  async #loop(url: string): Promise<void> {
    while (!this.#stop) {
      try {
        const r = await infer(`${url}/v2/models/income/infer`, incomeRequest);
        if (r.status === 200) {
          const d = maxAbsDiff(outputValues(r, 'probabilities'), expectedProbs);
          if (!(d < 1e-5)) this.wrong.push(`version ${r.json.model_version}: probabilities off by ${d}`);
          this.outcomes.push({ status: 200, version: r.json.model_version });
        } else {
          this.outcomes.push({ status: r.status, code: r.json?.code, retryAfter: r.headers.get('retry-after'), message: r.json?.error });
        }
      } catch (err) {
        this.outcomes.push({ status: 0, message: String(err) });
      }
    }
  }

  failures(): Outcome[] {
    return this.outcomes.filter((o) => o.status !== 200);
  }

  count(version: string): number {
    return this.outcomes.filter((o) => o.version === version).length;
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
}

/** Writes a version directory atomically (complete file, then one rename), as a deploy tool should. */
function addVersion(repo: string, model: string, version: number, write: (file: string) => void): void {
  const staging = join(repo, model, `.staging-${version}`);
  mkdirSync(staging, { recursive: true });
  write(join(staging, 'model.onnx'));
  renameSync(staging, join(repo, model, String(version)));
}

type IndexEntry = { name: string; version?: string; state: string; reason: string };

async function index(url: string): Promise<IndexEntry[]> {
  const r = await postJson(`${url}/v2/repository/index`, {});
  assert.equal(r.status, 200);
  return r.json as IndexEntry[];
}

test('hot reload under load', async (t) => {
  const s = await startServer({
    models: [{ name: 'income', file: INCOME }],
    config: { repository: { pollIntervalMs: 200 } },
  });
  t.after(() => s.close());
  const u = s.url;

  await t.test('a new version is swapped in with no failed request', async () => {
    const load = new LoadLoops(u, 4);
    try {
      await waitFor('some answers from version 1', () => load.count('1') >= 20);
      addVersion(s.repo, 'income', 2, (f) => cpSync(INCOME, f));
      await waitFor('answers from version 2', () => load.count('2') >= 20, 15_000);
      // Version 1 leaves the policy (latest 1) and is retired once version 2 is ready.
      await waitFor('version 1 retired', async () => (await index(u)).filter((e) => e.name === 'income').map((e) => e.version).join() === '2');
      const before = load.outcomes.length;
      await waitFor('more answers after the retirement', () => load.outcomes.length >= before + 20);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed during the swap');
    assert.deepEqual(load.wrong, []);
    // Once version 2 answered, version 1 never answered again.
    const firstV2 = load.outcomes.findIndex((o) => o.version === '2');
    const lateV1 = load.outcomes.slice(firstV2 + 8).filter((o) => o.version === '1').length; // 4 loops may have overlapped the switch
    assert.equal(lateV1, 0, 'no answers from version 1 well after version 2 took over');
    const meta = await getJson(`${u}/v2/models/income`);
    assert.deepEqual(meta.json.versions, ['2']);
  });

  await t.test('a corrupt version 3 is reported UNAVAILABLE while version 2 keeps serving', async () => {
    const failuresBefore = metricSum(await scrape(u), 'berth_model_load_failures_total', { model: 'income', version: '3' });
    const load = new LoadLoops(u, 3);
    try {
      addVersion(s.repo, 'income', 3, (f) => writeFileSync(f, Buffer.from('this is not an ONNX model \x00\x01\x02\xff'.repeat(50), 'latin1')));
      const v3 = await waitFor('version 3 UNAVAILABLE', async () => (await index(u)).find((e) => e.name === 'income' && e.version === '3' && e.state === 'UNAVAILABLE'), 15_000);
      assert.ok(v3.reason.length > 0, 'a reason is given');
      assert.match(v3.reason, /fail|protobuf|invalid|load/i, `reason mentions the load failure: ${v3.reason}`);
      const before = load.outcomes.length;
      await waitFor('more answers after the failure', () => load.outcomes.length >= before + 50);
      // More syncs (each index call is one): version 2 is never retired, and the unchanged broken file is not reloaded.
      for (let i = 0; i < 3; i++) await index(u);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed');
    assert.deepEqual(load.wrong, []);
    assert.equal(load.count('3'), 0);
    assert.ok(load.count('2') > 0);
    const entries = (await index(u)).filter((e) => e.name === 'income');
    assert.deepEqual(entries.map((e) => `${e.version}:${e.state}`), ['2:READY', '3:UNAVAILABLE']);
    const after = metricSum(await scrape(u), 'berth_model_load_failures_total', { model: 'income', version: '3' });
    assert.equal(after, failuresBefore + 1, 'one load failure counted (an unchanged broken file is not reloaded every poll)');
    const direct = await infer(`${u}/v2/models/income/versions/3/infer`, incomeRequest);
    assert.equal(direct.status, 503);
    assert.equal(direct.json.code, 'BERTH_ERR_MODEL_NOT_READY');
    assert.ok(direct.headers.get('retry-after'));
    assert.equal((await infer(`${u}/v2/models/income/versions/2/infer`, incomeRequest)).status, 200);
    // Removing the broken version clears its entry.
    rmSync(join(s.repo, 'income/3'), { recursive: true, force: true });
    await waitFor('version 3 forgotten', async () => (await index(u)).filter((e) => e.name === 'income').map((e) => e.version).join() === '2');
  });

  await t.test('a bad berth.yaml keeps the serving version and reports the reason', async () => {
    const load = new LoadLoops(u, 3);
    const servingEntry = (entries: IndexEntry[]): IndexEntry | undefined => entries.find((e) => e.name === 'income' && e.version === '2');
    try {
      writeFileSync(join(s.repo, 'income/berth.yaml'), 'maxBatchSize: [this is not\n  valid: yaml\n');
      // Regression: the config error used to reach only the log while a version was READY; the
      // index showed the serving version with an empty reason.
      const entry = await waitFor('the config error reported on the serving version', async () => {
        const e = servingEntry(await index(u));
        return e !== undefined && /berth\.yaml/.test(e.reason) ? e : undefined;
      }, 10_000);
      assert.equal(entry.state, 'READY', 'the serving version stays READY');
      const before = load.outcomes.length;
      await waitFor('answers while the config is bad', () => load.outcomes.length >= before + 30);
      // A schema error (valid YAML) is reported the same way.
      writeFileSync(join(s.repo, 'income/berth.yaml'), 'maxBatchSize: -3\n');
      await waitFor('the schema error reported', async () => /maxBatchSize/.test(servingEntry(await index(u))?.reason ?? ''), 10_000);
      const after = load.outcomes.length;
      await waitFor('answers while the config is bad', () => load.outcomes.length >= after + 30);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed while the config was bad');
    assert.deepEqual(load.wrong, []);
    assert.equal((await getJson(`${u}/v2/models/income/config`)).json.max_batch_size, 32, 'still the previously loaded settings');
  });

  await t.test('regression: a worker crash while berth.yaml is bad leaves the model UNAVAILABLE with the reason, not LOADING forever', async () => {
    const holding = s.app.pool.sessionCounts().findIndex((n) => n > 0);
    assert.ok(holding >= 0);
    await s.app.pool.crashWorkerForTest(holding);
    const v2 = await waitFor('version 2 UNAVAILABLE with the config error', async () => {
      const e = (await index(u)).find((x) => x.name === 'income' && x.version === '2');
      return e?.state === 'UNAVAILABLE' ? e : undefined;
    }, 10_000);
    assert.match(v2.reason, /maxBatchSize/);
    const r = await infer(`${u}/v2/models/income/infer`, incomeRequest);
    assert.equal(r.status, 503);
    assert.equal(r.json.code, 'BERTH_ERR_MODEL_NOT_READY');
    // A good config brings it back, with the new settings, and the reason clears.
    const load = new LoadLoops(u, 2);
    try {
      writeFileSync(join(s.repo, 'income/berth.yaml'), 'maxBatchSize: 16\n');
      await waitFor('the new config served', async () => (await getJson(`${u}/v2/models/income/config`)).json.max_batch_size === 16, 10_000);
      await waitFor('every income version READY with no reason', async () => {
        const e = (await index(u)).filter((x) => x.name === 'income');
        return e.length === 1 && e[0]!.state === 'READY' && e[0]!.reason === '';
      });
      const n = load.count('2');
      await waitFor('answers with the new config', () => load.count('2') >= n + 20);
    } finally {
      await load.stop();
    }
    for (const f of load.failures()) assert.equal(f.status, 503, JSON.stringify(f)); // only until the reload finished
    assert.deepEqual(load.wrong, []);
  });

  await t.test('a config change reloads the serving version with no failed request', async () => {
    const load = new LoadLoops(u, 3);
    try {
      const n = load.count('2');
      await waitFor('answers before the change', () => load.count('2') >= n + 10);
      writeFileSync(join(s.repo, 'income/berth.yaml'), 'maxBatchSize: 8\nbatching:\n  maxQueueDelayMs: 1\n');
      await waitFor('the new config served', async () => (await getJson(`${u}/v2/models/income/config`)).json.max_batch_size === 8, 10_000);
      const m = load.count('2');
      await waitFor('answers after the change', () => load.count('2') >= m + 20);
    } finally {
      await load.stop();
    }
    assert.deepEqual(load.failures(), [], 'no request failed during the config reload');
    assert.deepEqual(load.wrong, []);
  });

  await t.test('a torch export dropped in with no config is served after a rescan', async () => {
    const expected = readJson('test/fixtures/models/mlp_torch.expected.json');
    addVersion(s.repo, 'mlp_torch', 1, (f) => cpSync(fixture('mlp_torch.onnx'), f));
    const idx = await index(u); // the index call rescans the repository
    assert.ok(idx.some((e) => e.name === 'mlp_torch' && e.state === 'READY'), JSON.stringify(idx));
    const meta = await getJson(`${u}/v2/models/mlp_torch`);
    assert.deepEqual(meta.json.inputs, [{ name: 'onnx::Gemm_0', datatype: 'FP32', shape: [-1, 4] }]);
    assert.deepEqual(meta.json.outputs, [{ name: '7', datatype: 'FP32', shape: [-1, 3] }]);
    const r = await infer(`${u}/v2/models/mlp_torch/infer`, expected.request);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const out = expected.response.outputs[0];
    assert.deepEqual(r.json.outputs[0].shape, out.shape);
    assert.ok(maxAbsDiff(outputValues(r, '7'), out.data) <= 1e-5);
  });

  await t.test('a crashed worker (crashWorkerForTest): its models come back READY and serve correctly', async () => {
    const counts = s.app.pool.sessionCounts();
    const holding = counts.map((n, i) => (n > 0 ? i : -1)).filter((i) => i >= 0);
    assert.ok(holding.length > 0, `some worker holds a session: ${JSON.stringify(counts)}`);
    const restartsBefore = metricSum(await scrape(u), 'berth_worker_restarts_total');
    for (const w of holding) {
      // Crashed while idle: worker.terminate() during a session run can abort the whole process
      // (onnxruntime-node's native code); a crash with requests in flight is the next test.
      await s.app.pool.crashWorkerForTest(w);
      const load = new LoadLoops(u, 3);
      try {
        await waitFor('every model READY again', async () => {
          const e = await index(u);
          return e.length > 0 && e.every((x) => x.state === 'READY') && e.some((x) => x.name === 'income') && e.some((x) => x.name === 'mlp_torch');
        }, 15_000);
        const before = load.count('2');
        await waitFor('income answering again', () => load.count('2') >= before + 10, 15_000);
      } finally {
        await load.stop();
      }
      assert.deepEqual(load.wrong, []);
      for (const f of load.failures()) {
        assert.equal(f.status, 503, `while a crashed worker's models reload, requests may only get 503, got ${JSON.stringify(f)}`);
        assert.equal(f.code, 'BERTH_ERR_MODEL_NOT_READY');
        assert.ok(f.retryAfter, 'a 503 carries Retry-After');
      }
    }
    const expected = readJson('test/fixtures/models/mlp_torch.expected.json');
    const r = await infer(`${u}/v2/models/mlp_torch/infer`, expected.request);
    assert.equal(r.status, 200);
    assert.ok(maxAbsDiff(outputValues(r, '7'), expected.response.outputs[0].data) <= 1e-5);
    const restartsAfter = metricSum(await scrape(u), 'berth_worker_restarts_total');
    assert.equal(restartsAfter, restartsBefore + holding.length);
    assert.equal((await getJson(`${u}/v2/health/ready`)).status, 200);
  });

  await t.test('a model directory removed from the repository is unloaded and forgotten', async () => {
    rmSync(join(s.repo, 'mlp_torch'), { recursive: true, force: true });
    const idx = await index(u);
    assert.ok(!idx.some((e) => e.name === 'mlp_torch'), JSON.stringify(idx));
    const r = await infer(`${u}/v2/models/mlp_torch/infer`, readJson('test/fixtures/models/mlp_torch.expected.json').request);
    assert.equal(r.status, 404);
    assert.equal(r.json.code, 'BERTH_ERR_MODEL_NOT_FOUND');
    assert.equal((await infer(`${u}/v2/models/income/infer`, incomeRequest)).status, 200);
  });
});

test('a worker dying with requests in flight: they get 503 + Retry-After (regression: 500), the model comes back', async (t) => {
  const s = await startServer({
    models: [{ name: 'income', file: INCOME, versions: [2] }],
    workerUrl: new URL('../helpers/crashing-session-worker.ts', import.meta.url),
  });
  t.after(() => s.close());
  const u = s.url;
  const load = new LoadLoops(u, 3);
  const poisonRow = [...incomeRequest.inputs[0].data.slice(0, 91)];
  poisonRow[0] = POISON_VALUE;
  let poisoned;
  try {
    await waitFor('answers before the crash', () => load.count('2') >= 20);
    // The worker dies between messages while this run (and any posted after it) is outstanding.
    poisoned = await infer(`${u}/v2/models/income/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 91], data: poisonRow }] });
    await waitFor('income READY again', async () => (await index(u)).find((e) => e.name === 'income')?.state === 'READY', 15_000);
    const n = load.count('2');
    await waitFor('answers after the crash', () => load.count('2') >= n + 20, 15_000);
  } finally {
    await load.stop();
  }
  assert.equal(poisoned.status, 503, JSON.stringify(poisoned.json));
  assert.equal(poisoned.json.code, 'BERTH_ERR_MODEL_NOT_READY');
  assert.ok(poisoned.headers.get('retry-after'));
  assert.deepEqual(load.wrong, []);
  for (const f of load.failures()) {
    assert.equal(f.status, 503, `a worker crash may only cause 503s, got ${JSON.stringify(f)}`);
    assert.equal(f.code, 'BERTH_ERR_MODEL_NOT_READY');
    assert.ok(f.retryAfter);
  }
  assert.equal(metricSum(await scrape(u), 'berth_worker_restarts_total'), 1);
  assert.equal(metricSum(await scrape(u), 'berth_inference_requests_total', { model: 'income', outcome: 'error' }), 0);
});

test('regression: a berth.yaml rewritten in place is always picked up (a read racing the write left the old config for good)', async (t) => {
  // The scan stamped the config file after reading it, so a read of the half-written (empty)
  // file could be paired with the finished file's stamp: the server then kept the built-in
  // defaults until the next change. Non-atomic rewrites with a gap, as a slow editor does.
  const s = await startServer({
    models: [{ name: 'income', file: INCOME, config: 'maxBatchSize: 4\n' }],
    config: { repository: { pollIntervalMs: 5 } },
  });
  t.after(() => s.close());
  const file = join(s.repo, 'income/berth.yaml');
  const rand = prng(7);
  const stuck: string[] = [];
  for (let i = 0; i < 40; i++) {
    const want = i % 2 === 0 ? 8 : 16;
    const fd = openSync(file, 'w'); // truncates
    await new Promise((r) => setTimeout(r, rand() * 6));
    writeSync(fd, `maxBatchSize: ${want}\n${'#'.repeat(i % 7)}\n`);
    closeSync(fd);
    try {
      await waitFor(`max_batch_size ${want}`, async () => (await getJson(`${s.url}/v2/models/income/config`)).json?.max_batch_size === want, 3000, 5);
    } catch {
      stuck.push(`rewrite ${i}: wanted ${want}, serving ${(await getJson(`${s.url}/v2/models/income/config`)).json?.max_batch_size}`);
    }
  }
  assert.deepEqual(stuck, [], 'every rewrite was eventually served');
});

test('regression: a model with another signature dropped in as a new version took over, and every following request failed with 400', { timeout: 120_000 }, async (t) => {
  const DIGITS = join(EXAMPLES, 'digits/1/model.onnx');
  const s = await startServer({ models: [{ name: 'income', file: INCOME, versions: [2] }], config: { repository: { pollIntervalMs: 200 } } });
  t.after(() => s.close());
  const u = s.url;
  const load = new LoadLoops(u, 3);
  let v3: IndexEntry;
  try {
    await waitFor('answers from version 2', () => load.count('2') >= 20);
    addVersion(s.repo, 'income', 3, (f) => cpSync(DIGITS, f));
    v3 = await waitFor('version 3 loaded and held back', async () => (await index(u)).find((e) => e.name === 'income' && e.version === '3' && e.state === 'READY'), 15_000);
    const before = load.outcomes.length;
    await waitFor('more answers after version 3 loaded', () => load.outcomes.length >= before + 50);
    for (let i = 0; i < 3; i++) await index(u); // more syncs: version 2 is not retired
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures(), [], 'no request failed: the default stayed version 2');
  assert.deepEqual(load.wrong, []);
  assert.equal(load.count('3'), 0);
  assert.match(v3.reason, /not the default: it has inputs image FP32 \[-1, 1, 8, 8\] instead of features FP32 \[-1, 91\]/);
  assert.match(v3.reason, /allowSignatureChange: true/);
  assert.deepEqual((await index(u)).filter((e) => e.name === 'income').map((e) => `${e.version}:${e.state}`), ['2:READY', '3:READY']);
  // Version 3 is reachable directly, with its own signature.
  const direct = await infer(`${u}/v2/models/income/versions/3/infer`, { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Array(64).fill(0) }] });
  assert.equal(direct.status, 200, JSON.stringify(direct.json));
  assert.equal((await getJson(`${u}/v2/models/income`)).json.inputs[0].name, 'features');

  // The config allows the change: version 3 becomes the default and version 2 is retired.
  writeFileSync(join(s.repo, 'income/berth.yaml'), 'allowSignatureChange: true\n');
  await waitFor('version 3 is the default', async () => (await getJson(`${u}/v2/models/income`)).json.inputs?.[0]?.name === 'image', 15_000);
  await waitFor('version 2 retired', async () => (await index(u)).filter((e) => e.name === 'income').map((e) => e.version).join() === '3', 15_000);
});

test('regression: a version file replaced in place by one with another signature is refused; the loaded file keeps serving', { timeout: 60_000 }, async (t) => {
  const s = await startServer({ models: [{ name: 'income', file: INCOME }] });
  t.after(() => s.close());
  cpSync(join(EXAMPLES, 'digits/1/model.onnx'), join(s.repo, 'income/1/model.onnx'));
  const e = (await index(s.url)).find((x) => x.name === 'income' && x.version === '1')!;
  assert.equal(e.state, 'READY');
  assert.match(e.reason, /^reload refused, serving the previously loaded file: the new file has inputs image/);
  assert.equal((await infer(`${s.url}/v2/models/income/infer`, incomeRequest)).status, 200);
});
