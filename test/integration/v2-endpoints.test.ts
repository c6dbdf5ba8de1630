/**
 * Every Open Inference Protocol (KServe V2) endpoint Berth serves, over real HTTP on
 * loopback: server and model metadata, health, infer (JSON), Triton config and statistics,
 * the repository API (index, load, unload, off switch, token), /metrics, and each error
 * the protocol defines — after every error the server must still answer a good request.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, fixture, getJson, postJson, startServer, type TestServer } from '../helpers/server.js';
import { infer, inferBinary, maxAbsDiff, metricSum, outputValues, parsePrometheus, readJson, runOrt, ortTensor, toBytes, scrape } from '../helpers/v2.js';

const INCOME = join(EXAMPLES, 'income/1/model.onnx');
const DIGITS = join(EXAMPLES, 'digits/1/model.onnx');
const DIGITS_YAML = join(EXAMPLES, 'digits/berth.yaml');
const TOKEN = 'test-token-0123456789';

const incomeRequest = readJson('examples/requests/income.json');
const incomeExpected = readJson('examples/requests/income.expected.json');
const digitsRequest = readJson('examples/requests/digits.json');


/** A good income request answered correctly: the liveness check used after every error. */
async function assertServes(s: TestServer): Promise<void> {
  const r = await infer(`${s.url}/v2/models/income/infer`, incomeRequest);
  assert.equal(r.status, 200, `good request after an error: ${JSON.stringify(r.json)}`);
  const expected = incomeExpected.outputs.find((o: { name: string }) => o.name === 'probabilities');
  assert.ok(maxAbsDiff(outputValues(r, 'probabilities'), expected.data) < 1e-5);
}

function assertError(r: { status: number; json: any }, status: number, code: string, ...mentions: string[]): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${JSON.stringify(r.json)}`);
  assert.equal(typeof r.json, 'object', `error body is JSON: ${String(r.json)}`);
  assert.equal(typeof r.json.error, 'string');
  assert.equal(r.json.code, code, `code of ${JSON.stringify(r.json)}`);
  for (const m of mentions) assert.ok(r.json.error.includes(m), `error message ${JSON.stringify(r.json.error)} mentions ${JSON.stringify(m)}`);
}

test('V2 endpoints', async (t) => {
  const s = await startServer({
    models: [
      { name: 'income', file: INCOME },
      { name: 'digits', file: DIGITS, config: readFileSync(DIGITS_YAML, 'utf8') },
      { name: 'arith', file: fixture('arith_mixed.onnx') },
      { name: 'fixed', file: fixture('fixed_batch.onnx') },
      { name: 'income_nonfinite', file: INCOME, config: 'allowNonFinite: true\n' },
      { name: 'multi', file: fixture('mlp_torch.onnx'), versions: [1, 2, 3], config: 'versionPolicy:\n  specific:\n    versions: [1, 3]\n' },
    ],
    config: { server: { bodyLimitBytes: 64 * 1024 }, repository: { api: { token: TOKEN } } },
  });
  t.after(() => s.close());
  const u = s.url;

  await t.test('GET /v2 lists the server and its extensions', async () => {
    const r = await getJson(`${u}/v2`);
    assert.equal(r.status, 200);
    assert.equal(r.json.name, 'berth');
    assert.equal(typeof r.json.version, 'string');
    for (const ext of ['binary_tensor_data', 'model_repository', 'model_configuration', 'statistics', 'classification']) {
      assert.ok(r.json.extensions.includes(ext), `extension ${ext}`);
    }
  });

  await t.test('health live and ready', async () => {
    const live = await getJson(`${u}/v2/health/live`);
    assert.equal(live.status, 200);
    assert.equal(live.json.live, true);
    const ready = await getJson(`${u}/v2/health/ready`);
    assert.equal(ready.status, 200);
    assert.equal(ready.json.ready, true);
  });

  await t.test('model metadata, with and without a version', async () => {
    const r = await getJson(`${u}/v2/models/income`);
    assert.equal(r.status, 200);
    assert.equal(r.json.name, 'income');
    assert.deepEqual(r.json.versions, ['1']);
    assert.equal(r.json.platform, 'onnxruntime_onnx');
    assert.deepEqual(r.json.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 91] }]);
    assert.deepEqual(r.json.outputs, [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
      { name: 'label', datatype: 'INT64', shape: [-1] },
    ]);
    const v = await getJson(`${u}/v2/models/income/versions/1`);
    assert.equal(v.status, 200);
    assert.deepEqual(v.json.versions, ['1']);
    assert.deepEqual(v.json.inputs, r.json.inputs);
    const fixed = await getJson(`${u}/v2/models/fixed`);
    assert.deepEqual(fixed.json.inputs, [{ name: 'x', datatype: 'FP32', shape: [1, 4] }]);
  });

  await t.test('version policy: only the selected versions are served; no version means the highest', async () => {
    const meta = await getJson(`${u}/v2/models/multi`);
    assert.deepEqual(meta.json.versions, ['3', '1']);
    const expected = readJson('test/fixtures/models/mlp_torch.expected.json');
    const latest = await infer(`${u}/v2/models/multi/infer`, expected.request);
    assert.equal(latest.status, 200, JSON.stringify(latest.json));
    assert.equal(latest.json.model_version, '3');
    const one = await infer(`${u}/v2/models/multi/versions/1/infer`, expected.request);
    assert.equal(one.json.model_version, '1');
    assert.ok(maxAbsDiff(outputValues(one, '7'), expected.response.outputs[0].data) <= 1e-5);
    assertError(await infer(`${u}/v2/models/multi/versions/2/infer`, expected.request), 404, 'BERTH_ERR_VERSION_NOT_FOUND', "'2'");
    assert.deepEqual((await getJson(`${u}/v2/models/multi/versions/1`)).json.versions, ['1']);
    const stats = (await getJson(`${u}/v2/models/multi/stats`)).json.model_stats as { version: string; inference_count: number }[];
    assert.deepEqual(stats.map((x) => [x.version, x.inference_count]), [['3', 3], ['1', 3]]);
  });

  await t.test('model and version readiness', async () => {
    for (const path of ['/v2/models/income/ready', '/v2/models/income/versions/1/ready']) {
      const r = await getJson(`${u}${path}`);
      assert.equal(r.status, 200, path);
      assert.equal(r.json.ready, true, path);
    }
    assertError(await getJson(`${u}/v2/models/income/versions/2/ready`), 404, 'BERTH_ERR_VERSION_NOT_FOUND', "'income'");
    assertError(await getJson(`${u}/v2/models/nope/ready`), 404, 'BERTH_ERR_MODEL_NOT_FOUND', "'nope'");
  });

  await t.test('infer JSON: flat data, id echoed, outputs equal the expected ones', async () => {
    const r = await infer(`${u}/v2/models/income/infer`, incomeRequest);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(r.json.model_name, 'income');
    assert.equal(r.json.model_version, '1');
    assert.equal(r.json.id, 'income-example-1');
    for (const exp of incomeExpected.outputs as { name: string; shape: number[]; datatype: string; data: number[] }[]) {
      const o = r.json.outputs.find((x: { name: string }) => x.name === exp.name);
      assert.ok(o, `output ${exp.name}`);
      assert.deepEqual(o.shape, exp.shape);
      assert.equal(o.datatype, exp.datatype);
      assert.ok(maxAbsDiff(o.data, exp.data) < 1e-5, `${exp.name}: ${JSON.stringify(o.data)} vs ${JSON.stringify(exp.data)}`);
    }
    // The versioned route answers the same.
    const v = await infer(`${u}/v2/models/income/versions/1/infer`, incomeRequest);
    assert.equal(v.status, 200);
    assert.deepEqual(v.json.outputs, r.json.outputs);
  });

  await t.test('infer JSON: nested data equals flat data', async () => {
    const flat: number[] = digitsRequest.inputs[0].data;
    const nested = [[0, 1, 2, 3, 4, 5, 6, 7].map((row) => flat.slice(row * 8, row * 8 + 8))];
    const a = await infer(`${u}/v2/models/digits/infer`, digitsRequest);
    const b = await infer(`${u}/v2/models/digits/infer`, { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: [nested] }] });
    assert.equal(a.status, 200, JSON.stringify(a.json));
    assert.equal(b.status, 200, JSON.stringify(b.json));
    assert.deepEqual(b.json.outputs, a.json.outputs);
    const ref = await runOrt(DIGITS, { image: ortTensor('FP32', flat, [1, 1, 8, 8]) });
    assert.ok(maxAbsDiff(outputValues(a, 'probabilities'), Array.from(ref.probabilities!.data as Float32Array)) < 1e-6);
  });

  await t.test('infer without an id: a unique id is assigned and returned', async () => {
    const body = { inputs: incomeRequest.inputs };
    const [a, b] = await Promise.all([infer(`${u}/v2/models/income/infer`, body), infer(`${u}/v2/models/income/infer`, body)]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(typeof a.json.id, 'string');
    assert.ok(a.json.id.length > 0);
    assert.notEqual(a.json.id, b.json.id);
  });

  await t.test('requested outputs: a subset, and in the requested order', async () => {
    const only = await infer(`${u}/v2/models/income/infer`, { ...incomeRequest, outputs: [{ name: 'label' }] });
    assert.equal(only.status, 200, JSON.stringify(only.json));
    assert.deepEqual(only.json.outputs.map((o: { name: string }) => o.name), ['label']);
    assert.deepEqual(outputValues(only, 'label'), [0, 1]);
    const both = await infer(`${u}/v2/models/income/infer`, { ...incomeRequest, outputs: [{ name: 'label' }, { name: 'probabilities' }] });
    assert.deepEqual(both.json.outputs.map((o: { name: string }) => o.name), ['label', 'probabilities']);
    const arith = await infer(`${u}/v2/models/arith/infer`, {
      inputs: [
        { name: 's', datatype: 'BYTES', shape: [1, 1], data: ['x'] },
        { name: 'c', datatype: 'BOOL', shape: [1, 2], data: [true, false] },
        { name: 'b', datatype: 'FP64', shape: [1, 2], data: [0.5, 1] },
        { name: 'a', datatype: 'INT64', shape: [1, 2], data: [1, 2] },
      ],
      outputs: [{ name: 'a_as_double' }, { name: 's_copy' }, { name: 'c_not' }],
    });
    assert.equal(arith.status, 200, JSON.stringify(arith.json));
    assert.deepEqual(arith.json.outputs.map((o: { name: string }) => o.name), ['a_as_double', 's_copy', 'c_not']);
    assert.deepEqual(outputValues(arith, 'a_as_double'), [1.5, 3]);
    assert.deepEqual(outputValues(arith, 's_copy'), ['x']);
    assert.deepEqual(outputValues(arith, 'c_not'), [false, true]);
  });

  await t.test('regression: an empty outputs list returns every output', async () => {
    const r = await infer(`${u}/v2/models/income/infer`, { ...incomeRequest, outputs: [] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.outputs.map((o: { name: string }) => o.name), ['probabilities', 'label']);
  });

  await t.test('classification parameter: top-k "score:index" per row', async () => {
    const r = await infer(`${u}/v2/models/digits/infer`, { ...digitsRequest, outputs: [{ name: 'probabilities', parameters: { classification: 3 } }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const o = r.json.outputs[0];
    assert.equal(o.name, 'probabilities');
    assert.equal(o.datatype, 'BYTES');
    assert.deepEqual(o.shape, [1, 3]);
    const parsed = (o.data as string[]).map((x) => x.split(':').map(Number) as [number, number]);
    assert.equal(parsed[0]![1], 7, 'top class of the example is 7');
    assert.ok(parsed[0]![0] > parsed[1]![0] && parsed[1]![0] >= parsed[2]![0], 'scores descend');
    const bad = await infer(`${u}/v2/models/digits/infer`, { ...digitsRequest, outputs: [{ name: 'probabilities', parameters: { classification: 0 } }] });
    assertError(bad, 400, 'BERTH_ERR_BAD_REQUEST', 'classification');
  });

  await t.test('regression: classification of a per-row scalar output is per row, not across the batch', async () => {
    const r = await infer(`${u}/v2/models/income/infer`, { ...incomeRequest, outputs: [{ name: 'label', parameters: { classification: 1 } }, { name: 'probabilities', parameters: { classification: 2 } }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const [label, probs] = r.json.outputs;
    assert.deepEqual(label.shape, [2, 1]);
    assert.deepEqual(label.data, ['0:0', '1:0'], 'each row\'s label (0, then 1) as its own top-1');
    assert.deepEqual(probs.shape, [2, 2]);
    assert.deepEqual((probs.data as string[]).map((x) => Number(x.split(':')[1])), [0, 1, 1, 0]);
  });

  await t.test('Triton model config', async () => {
    const d = await getJson(`${u}/v2/models/digits/config`);
    assert.equal(d.status, 200);
    assert.equal(d.json.name, 'digits');
    assert.equal(d.json.max_batch_size, 32);
    assert.deepEqual(d.json.input.map((i: { name: string; data_type: string; dims: number[] }) => [i.name, i.data_type, i.dims]), [['image', 'TYPE_FP32', [1, 8, 8]]]);
    assert.deepEqual(d.json.output.map((i: { name: string; dims: number[] }) => [i.name, i.dims]), [['probabilities', [10]]]);
    assert.deepEqual(d.json.dynamic_batching.preferred_batch_size, [8, 16, 32]);
    assert.equal(d.json.dynamic_batching.max_queue_delay_microseconds, 2000);
    assert.equal(d.json.dynamic_batching.default_queue_policy.max_queue_size, 256);
    const dv = await getJson(`${u}/v2/models/digits/versions/1/config`);
    assert.deepEqual(dv.json, d.json);
    const i = await getJson(`${u}/v2/models/income/config`);
    assert.equal(i.json.max_batch_size, 32);
    assert.deepEqual(i.json.output.map((o: { name: string; dims: number[] }) => [o.name, o.dims]), [['probabilities', [2]], ['label', [1]]]);
    assert.deepEqual(i.json.output[1].reshape, { shape: [] });
    const f = await getJson(`${u}/v2/models/fixed/config`);
    assert.equal(f.json.max_batch_size, 0);
    assert.deepEqual(f.json.input[0].dims, [1, 4]);
    assert.equal(f.json.dynamic_batching, undefined);
    assertError(await getJson(`${u}/v2/models/nope/config`), 404, 'BERTH_ERR_MODEL_NOT_FOUND');
  });

  await t.test('statistics: all models, per model and per version; counts increase', async () => {
    const all = await getJson(`${u}/v2/models/stats`);
    assert.equal(all.status, 200);
    const names = (all.json.model_stats as { name: string }[]).map((m) => m.name).sort();
    assert.deepEqual(names, ['arith', 'digits', 'fixed', 'income', 'income_nonfinite', 'multi', 'multi']);
    const before = (await getJson(`${u}/v2/models/income/versions/1/stats`)).json.model_stats[0];
    assert.equal(before.name, 'income');
    assert.equal(before.version, '1');
    for (let i = 0; i < 3; i++) assert.equal((await infer(`${u}/v2/models/income/infer`, incomeRequest)).status, 200);
    const after = (await getJson(`${u}/v2/models/income/stats`)).json.model_stats[0];
    assert.equal(after.inference_count, before.inference_count + 6, 'inference_count counts rows (3 requests × 2 rows)');
    assert.equal(after.execution_count, before.execution_count + 3);
    assert.equal(after.inference_stats.success.count, before.inference_stats.success.count + 3);
    assert.ok(after.inference_stats.success.ns > before.inference_stats.success.ns);
    assert.ok(after.last_inference >= before.last_inference && after.last_inference > 0);
    assert.ok((after.batch_stats as { batch_size: number }[]).some((b) => b.batch_size === 2));
    assertError(await getJson(`${u}/v2/models/nope/stats`), 404, 'BERTH_ERR_MODEL_NOT_FOUND');
    assertError(await getJson(`${u}/v2/models/income/versions/9/stats`), 404, 'BERTH_ERR_VERSION_NOT_FOUND');
  });

  await t.test('/metrics is Prometheus text with berth_inference_requests_total', async () => {
    const res = await fetch(`${u}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /# TYPE berth_inference_requests_total counter/);
    const samples = parsePrometheus(text);
    assert.ok(metricSum(samples, 'berth_inference_requests_total', { model: 'income', version: '1', outcome: 'success' }) >= 5);
  });

  await t.test('repository index, and the ready filter', async () => {
    const all = await postJson(`${u}/v2/repository/index`, '');
    assert.equal(all.status, 200);
    assert.deepEqual(
      (all.json as { name: string; version: string; state: string }[]).map((e) => `${e.name}/${e.version}/${e.state}`),
      ['arith/1/READY', 'digits/1/READY', 'fixed/1/READY', 'income/1/READY', 'income_nonfinite/1/READY', 'multi/1/READY', 'multi/3/READY'],
    );
    // A broken model appears UNAVAILABLE with a reason, is filtered out by {ready: true}, and makes the server not ready.
    mkdirSync(join(s.repo, 'broken/1'), { recursive: true });
    writeFileSync(join(s.repo, 'broken/1/model.onnx'), 'not an onnx model');
    const withBroken = await postJson(`${u}/v2/repository/index`, {});
    const broken = (withBroken.json as { name: string; version?: string; state: string; reason: string }[]).find((e) => e.name === 'broken');
    assert.ok(broken, JSON.stringify(withBroken.json));
    assert.equal(broken.state, 'UNAVAILABLE');
    assert.ok(broken.reason.length > 0);
    const readyOnly = await postJson(`${u}/v2/repository/index`, { ready: true });
    assert.equal(readyOnly.status, 200);
    assert.deepEqual((readyOnly.json as { name: string }[]).map((e) => e.name), ['arith', 'digits', 'fixed', 'income', 'income_nonfinite', 'multi', 'multi']);
    assert.equal((await getJson(`${u}/v2/health/ready`)).status, 503);
    const infBroken = await infer(`${u}/v2/models/broken/infer`, incomeRequest);
    assertError(infBroken, 503, 'BERTH_ERR_MODEL_NOT_READY', "'broken'");
    assert.ok(infBroken.headers.get('retry-after'));
    assertError(await postJson(`${u}/v2/repository/index`, { ready: 'yes' }), 400, 'BERTH_ERR_BAD_REQUEST', 'ready');
    rmSync(join(s.repo, 'broken'), { recursive: true, force: true });
    const gone = await postJson(`${u}/v2/repository/index`, {});
    assert.ok(!(gone.json as { name: string }[]).some((e) => e.name === 'broken'));
    assert.equal((await getJson(`${u}/v2/health/ready`)).status, 200);
  });

  await t.test('repository load/unload need the token', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const noToken = await postJson(`${u}/v2/repository/models/income/unload`, {});
    assertError(noToken, 401, 'BERTH_ERR_UNAUTHORIZED');
    assert.equal(noToken.headers.get('www-authenticate'), 'Bearer');
    assertError(await postJson(`${u}/v2/repository/models/income/unload`, {}, { authorization: `Bearer ${TOKEN}x` }), 401, 'BERTH_ERR_UNAUTHORIZED');
    assertError(await postJson(`${u}/v2/repository/models/income/unload`, {}, { authorization: TOKEN }), 401, 'BERTH_ERR_UNAUTHORIZED');
    assertError(await postJson(`${u}/v2/repository/models/income/load`, {}), 401, 'BERTH_ERR_UNAUTHORIZED');
    assert.equal((await infer(`${u}/v2/models/income/infer`, incomeRequest)).status, 200, 'refused unload left the model serving');

    const un = await postJson(`${u}/v2/repository/models/income/unload`, {}, auth);
    assert.equal(un.status, 200, JSON.stringify(un.json));
    const r = await infer(`${u}/v2/models/income/infer`, incomeRequest);
    assertError(r, 503, 'BERTH_ERR_MODEL_NOT_READY', "'income'");
    assert.equal((await getJson(`${u}/v2/models/income/ready`)).status, 503);
    const idx = await postJson(`${u}/v2/repository/index`, {});
    assert.deepEqual((idx.json as { name: string; state: string }[]).filter((e) => e.name === 'income').map((e) => e.state), ['UNAVAILABLE']);
    // Unloaded by the user: the server as a whole stays ready.
    assert.equal((await getJson(`${u}/v2/health/ready`)).status, 200);

    const ld = await postJson(`${u}/v2/repository/models/income/load`, {}, auth);
    assert.equal(ld.status, 200, JSON.stringify(ld.json));
    await assertServes(s);
    assertError(await postJson(`${u}/v2/repository/models/nope/load`, {}, auth), 404, 'BERTH_ERR_MODEL_NOT_FOUND');
    assertError(await postJson(`${u}/v2/repository/models/income/load`, '[1]', auth), 400, 'BERTH_ERR_BAD_REQUEST');
  });

  await t.test('errors name what was wrong, and the server keeps serving', async () => {
    const features = incomeRequest.inputs[0];
    const cases: { what: string; model?: string; body: unknown; headers?: Record<string, string>; status: number; code: string; mentions: string[] }[] = [
      { what: 'unknown model', model: 'nope', body: incomeRequest, status: 404, code: 'BERTH_ERR_MODEL_NOT_FOUND', mentions: ["'nope'"] },
      { what: 'unknown version', model: 'income/versions/7', body: incomeRequest, status: 404, code: 'BERTH_ERR_VERSION_NOT_FOUND', mentions: ["'7'"] },
      { what: 'non-numeric version', model: 'income/versions/latest', body: incomeRequest, status: 404, code: 'BERTH_ERR_VERSION_NOT_FOUND', mentions: ['latest'] },
      { what: 'wrong datatype', body: { inputs: [{ ...features, datatype: 'FP64' }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'", 'FP32', 'FP64'] },
      { what: 'unknown datatype', body: { inputs: [{ ...features, datatype: 'FLOAT' }] }, status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ["'features'", 'FLOAT'] },
      { what: 'wrong shape', body: { inputs: [{ ...features, shape: [2, 90] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'", '[-1, 91]', '[2, 90]'] },
      { what: 'wrong rank', body: { inputs: [{ ...features, shape: [182] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'", '[182]'] },
      { what: 'too few elements', body: { inputs: [{ ...features, shape: [2, 91], data: features.data.slice(0, 181) }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'", '182', '181'] },
      { what: 'too many elements', body: { inputs: [{ ...features, shape: [1, 91] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'", '91', '182'] },
      { what: 'missing input', model: 'arith', body: { inputs: [{ name: 'a', datatype: 'INT64', shape: [1, 2], data: [1, 2] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'b'"] },
      { what: 'unknown input', body: { inputs: [features, { name: 'extra', datatype: 'FP32', shape: [1, 1], data: [1] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'extra'", "'features'"] },
      { what: 'input given twice', body: { inputs: [features, features] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'"] },
      { what: 'batch size over maxBatchSize', model: 'digits', body: { inputs: [{ name: 'image', datatype: 'FP32', shape: [33, 1, 8, 8], data: new Array(33 * 64).fill(0) }] }, status: 400, code: 'BERTH_ERR_BATCH_TOO_LARGE', mentions: ["'image'", '33', '32'] },
      { what: 'non-number element', body: { inputs: [{ ...features, data: ['x', ...features.data.slice(1)] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'", 'element 0', '"x"'] },
      { what: 'null element', body: { inputs: [{ ...features, data: [...features.data.slice(0, 5), null, ...features.data.slice(6)] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'", 'element 5'] },
      { what: 'boolean for INT64', model: 'arith', body: { inputs: [{ name: 'a', datatype: 'INT64', shape: [1, 2], data: [true, 1] }, { name: 'b', datatype: 'FP64', shape: [1, 2], data: [1, 1] }, { name: 'c', datatype: 'BOOL', shape: [1, 2], data: [true, true] }, { name: 's', datatype: 'BYTES', shape: [1, 1], data: ['a'] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'a'", 'INT64'] },
      // Regressions: these were 500s (a typed array allocated for the claimed shape; JSON.stringify of deep values in messages).
      { what: 'shape far larger than its data', body: { inputs: [{ ...features, shape: [1e12, 91], data: [1] }] }, status: 400, code: 'BERTH_ERR_INVALID_INPUT', mentions: ["'features'", '91000000000000'] },
      { what: 'deeply nested object as an element', body: `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,91],"data":[${'{"a":'.repeat(9_000)}1${'}'.repeat(9_000)}]}]}`, status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['inputs[0].data[0].a.a', 'nested more than 40 levels'] },
      { what: 'deeply nested array as a shape element', body: `{"inputs":[{"name":"features","datatype":"FP32","shape":[${'['.repeat(20_000)}${']'.repeat(20_000)}],"data":[1]}]}`, status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['inputs[0].shape[0][0]', 'nested more than 40 levels'] },
      { what: 'unknown output', body: { ...incomeRequest, outputs: [{ name: 'logits' }] }, status: 400, code: 'BERTH_ERR_INVALID_OUTPUT_REQUEST', mentions: ["'logits'", "'probabilities'"] },
      { what: 'malformed JSON', body: '{"inputs": [', status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['JSON'] },
      { what: 'JSON not an object', body: '[1,2,3]', status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['object'] },
      { what: 'no inputs', body: { id: 'x' }, status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['inputs'] },
      { what: 'empty inputs', body: { inputs: [] }, status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['inputs'] },
      { what: 'empty body', body: '', status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['empty'] },
      { what: 'id not a string', body: { ...incomeRequest, id: 42 }, status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['id'] },
      { what: 'bad timeout', body: { ...incomeRequest, parameters: { timeout: -5 } }, status: 400, code: 'BERTH_ERR_BAD_REQUEST', mentions: ['timeout'] },
      { what: 'wrong content type', body: JSON.stringify(incomeRequest), headers: { 'content-type': 'application/xml' }, status: 415, code: 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', mentions: ['application/xml'] },
      { what: 'oversized body', body: JSON.stringify({ inputs: [{ ...features, data: new Array(20_000).fill(0.123456789) }] }), status: 413, code: 'BERTH_ERR_BODY_TOO_LARGE', mentions: [] },
    ];
    for (const c of cases) {
      const r = await infer(`${u}/v2/models/${c.model ?? 'income'}/infer`, c.body, c.headers ?? {});
      try {
        assertError(r, c.status, c.code, ...c.mentions);
      } catch (err) {
        throw new Error(`case '${c.what}': ${(err as Error).message}`);
      }
      await assertServes(s);
    }
  });

  await t.test('NaN in binary FP32 is refused naming the input, unless the model allows non-finite values', async () => {
    const row = new Array<number>(91).fill(0);
    row[3] = NaN;
    const header = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 91], parameters: { binary_data_size: 91 * 4 } }] };
    const r = await inferBinary(`${u}/v2/models/income/infer`, header, [toBytes('FP32', row)]);
    assertError(r, 400, 'BERTH_ERR_INVALID_INPUT', "'features'", 'NaN', 'element 3');
    await assertServes(s);
    row[3] = Infinity;
    assertError(await inferBinary(`${u}/v2/models/income/infer`, header, [toBytes('FP32', row)]), 400, 'BERTH_ERR_INVALID_INPUT', "'features'", 'Infinity');
    row[3] = NaN;
    const ok = await inferBinary(`${u}/v2/models/income_nonfinite/infer`, header, [toBytes('FP32', row)]);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    // The probabilities of a NaN row are NaN: JSON cannot carry them, so they come back as null.
    assert.deepEqual(ok.json.outputs[0].data, [null, null]);
    await assertServes(s);
  });

  await t.test('unknown routes are 404 JSON', async () => {
    assertError(await getJson(`${u}/v2/nothing`), 404, 'BERTH_ERR_NOT_FOUND');
    assertError(await getJson(`${u}/v2/models/income/infer`), 404, 'BERTH_ERR_NOT_FOUND');
  });

  await t.test('the dashboard page carries the model index in its bootstrap block', async () => {
    const res = await fetch(`${u}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const html = await res.text();
    const boot = /<script type="application\/json" id="berth-bootstrap">(.*?)<\/script>/s.exec(html);
    assert.ok(boot?.[1] !== undefined, 'bootstrap block present');
    const models = (JSON.parse(boot[1]) as { models: { name: string }[] }).models.map((m) => m.name);
    for (const m of ['income', 'digits', 'arith', 'fixed']) assert.ok(models.includes(m), m);
  });

  await t.test('regression: a bad URL escape gets the protocol error body (was fastify\'s, with an FST_ code)', async () => {
    assertError(await getJson(`${u}/v2/models/%zz/ready`), 400, 'BERTH_ERR_BAD_REQUEST');
    assertError(await infer(`${u}/v2/models/a%ZZb/infer`, incomeRequest), 400, 'BERTH_ERR_BAD_REQUEST');
  });

  await t.test('regression: malformed HTTP gets the protocol error body (was fastify\'s, with no code)', async () => {
    const port = Number(new URL(u).port);
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => sock.end('POST /v2/models/income/infer HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}'));
      let got = '';
      sock.on('data', (d) => (got += d.toString('utf8')));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'BERTH_ERR_BAD_REQUEST');
    assert.equal(typeof body.error, 'string');
    await assertServes(s);
  });

  await t.test('regression: a model name of 101–128 characters is reachable (router limit was 100)', async () => {
    const name = `m${'x'.repeat(126)}`;
    assert.equal(name.length, 127);
    mkdirSync(join(s.repo, name, '1'), { recursive: true });
    writeFileSync(join(s.repo, name, '1', 'model.onnx'), readFileSync(fixture('mlp_torch.onnx')));
    await postJson(`${u}/v2/repository/index`, {});
    const meta = await getJson(`${u}/v2/models/${name}`);
    assert.equal(meta.status, 200, JSON.stringify(meta.json));
    const expected = readJson('test/fixtures/models/mlp_torch.expected.json');
    const r = await infer(`${u}/v2/models/${name}/versions/1/infer`, expected.request);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(maxAbsDiff(outputValues(r, '7'), expected.response.outputs[0].data) <= 1e-5);
  });

  const samples = await scrape(u);
  assert.ok(metricSum(samples, 'berth_inference_requests_total', { model: 'income', outcome: 'invalid' }) >= 10);
});

test('repository API switched off: load and unload are 403', async (t) => {
  const s = await startServer({ models: [{ name: 'income', file: INCOME }], config: { repository: { api: { enabled: false } } } });
  t.after(() => s.close());
  assertError(await postJson(`${s.url}/v2/repository/models/income/unload`, {}), 403, 'BERTH_ERR_FORBIDDEN', 'repository.api.enabled');
  assertError(await postJson(`${s.url}/v2/repository/models/income/load`, {}), 403, 'BERTH_ERR_FORBIDDEN');
  // The index (read-only) stays available, and the model keeps serving.
  assert.equal((await postJson(`${s.url}/v2/repository/index`, {})).status, 200);
  await assertServes(s);
});

test('repository API without a token on a non-loopback listen address: load and unload are 403', async (t) => {
  // 127.0.0.2 is still this machine, but not one of the addresses Berth treats as loopback-only
  // (without tokens it starts only with --insecure: test/integration/security-auth.test.ts).
  const s = await startServer({ models: [{ name: 'income', file: INCOME }], config: { server: { host: '127.0.0.2' }, auth: { insecure: true } } });
  t.after(() => s.close());
  assertError(await postJson(`${s.url}/v2/repository/models/income/unload`, {}), 403, 'BERTH_ERR_FORBIDDEN', 'token');
  assertError(await postJson(`${s.url}/v2/repository/models/income/load`, {}), 403, 'BERTH_ERR_FORBIDDEN', 'token');
  await assertServes(s);
});
