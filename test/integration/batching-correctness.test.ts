/**
 * Batching never changes an answer: models whose dynamic first dimension is not a batch are
 * served unbatched (the probe at load says so in metadata and the index), and a batch that
 * ONNX Runtime fails on is re-run in parts so only the guilty request fails, with a 4xx.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, getJson, startServer } from '../helpers/server.js';
import { infer, metricSum, ortTensor, ortValues, outputValues, prng, runOrt, scrape, maxAbsDiff } from '../helpers/v2.js';

const MIXERS = [
  { name: 'lstm', file: 'lstm_seq_first.onnx', shape: (n: number) => [n, 2, 4] },
  { name: 'cumsum', file: 'cumsum_axis0.onnx', shape: (n: number) => [n, 3] },
  { name: 'unique', file: 'unique_rows.onnx', shape: (n: number) => [n] },
  { name: 'center', file: 'mean_center.onnx', shape: (n: number) => [n, 3] },
] as const;

test('regression: auto-batching mixed rows of models whose first dimension is not a batch (LSTM seq-first, CumSum axis 0, Unique, mean over the batch)', { timeout: 120_000 }, async (t) => {
  // A queue delay makes merging as likely as it can be: the probe is what must prevent it.
  const config = 'batching:\n  maxQueueDelayMs: 20\n';
  const s = await startServer({ models: MIXERS.map((m) => ({ name: m.name, file: fixture(m.file), config })) });
  t.after(() => s.close());
  const random = prng(20261203);

  for (const m of MIXERS) {
    const meta = (await getJson(`${s.url}/v2/models/${m.name}`)).json;
    assert.equal(meta.parameters.batching, false, `${m.name}: ${meta.parameters.batching_reason}`);
    assert.match(meta.parameters.batching_reason, /^not batched: /);
    assert.equal(meta.parameters.max_batch_size, 0, `${m.name} is served as a model without a batch dimension`);
  }
  const index = (await fetch(`${s.url}/v2/repository/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.json())) as { name: string; state: string; reason: string }[];
  for (const m of MIXERS) {
    const e = index.find((x) => x.name === m.name)!;
    assert.equal(e.state, 'READY');
    assert.match(e.reason, /^not batched: /, `${m.name}: the index says why`);
  }

  // 12 concurrent requests per model, 1–3 rows each (Unique gets a repeated value).
  const jobs = MIXERS.flatMap((m) => Array.from({ length: 12 }, (_, i) => {
    const n = 1 + (i % 3);
    const shape = m.shape(n);
    const count = shape.reduce((a, b) => a * b, 1);
    const data = Array.from({ length: count }, () => Math.round(random() * 8) / 4);
    return { m, shape, data };
  }));
  const answers = await Promise.all(jobs.map((j) => infer(`${s.url}/v2/models/${j.m.name}/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: j.shape, data: j.data }] })));
  for (const [i, j] of jobs.entries()) {
    const r = answers[i]!;
    assert.equal(r.status, 200, `${j.m.name}: ${JSON.stringify(r.json)}`);
    const alone = await runOrt(fixture(j.m.file), { x: ortTensor('FP32', j.data, j.shape) });
    for (const [name, t2] of Object.entries(alone)) {
      const got = outputValues(r, name);
      assert.ok(maxAbsDiff(got, ortValues(t2)) < 1e-5, `${j.m.name} request ${i}: output '${name}' equals the model run on this request alone`);
    }
  }
  // Every execution held exactly one request.
  const samples = await scrape(s.url);
  for (const m of MIXERS) {
    assert.equal(metricSum(samples, 'berth_inference_batch_requests_sum', { model: m.name }), metricSum(samples, 'berth_inference_batch_requests_count', { model: m.name }));
  }
});

test('berth.yaml can force batching (batching.probe: false) or switch it off, and metadata says which', async (t) => {
  const s = await startServer({
    models: [
      { name: 'forced', file: fixture('cumsum_axis0.onnx'), config: 'batching:\n  probe: false\n' },
      { name: 'off', file: fixture('mlp_torch.onnx'), config: 'batching:\n  enabled: false\n' },
      { name: 'proved', file: fixture('mlp_torch.onnx') },
    ],
  });
  t.after(() => s.close());
  const forced = (await getJson(`${s.url}/v2/models/forced`)).json.parameters;
  assert.equal(forced.batching, true);
  assert.match(forced.batching_reason, /batching\.probe is false/);
  assert.equal(forced.max_batch_size, 32);
  const off = (await getJson(`${s.url}/v2/models/off`)).json.parameters;
  assert.equal(off.batching, false);
  assert.match(off.batching_reason, /batching\.enabled is false/);
  assert.equal(off.max_batch_size, 32, 'batching off keeps the batch dimension: clients still send several rows');
  const proved = (await getJson(`${s.url}/v2/models/proved`)).json.parameters;
  assert.equal(proved.batching, true);
  assert.match(proved.batching_reason, /^batched: 3 probe rows give the same outputs alone and stacked/);
});

test('regression: one client\'s bad input failed everyone in its batch — only the guilty request fails, with 422, and it is not a server error', { timeout: 120_000 }, async (t) => {
  // maxBatchSize 8 and a long delay: the 8 requests below run as exactly one batch, whatever the machine's speed.
  const s = await startServer({ models: [{ name: 'lookup', file: fixture('gather_lookup.onnx'), config: 'maxBatchSize: 8\nbatching:\n  maxQueueDelayMs: 600000\n' }] });
  t.after(() => s.close());
  const url = `${s.url}/v2/models/lookup/infer`;
  const indices = [0, 1, 2, 9, 3, 4, 1, 0]; // 9 is outside the 5-row table
  const answers = await Promise.all(indices.map((k, i) => infer(url, { id: `c${i}`, inputs: [{ name: 'idx', datatype: 'INT64', shape: [1, 1], data: [k] }] })));
  for (const [i, k] of indices.entries()) {
    const r = answers[i]!;
    if (k === 9) {
      assert.equal(r.status, 422, JSON.stringify(r.json));
      assert.equal(r.json.code, 'BERTH_ERR_INPUT_REJECTED_BY_MODEL');
      assert.match(r.json.error, /request 'c3'/);
    } else {
      assert.equal(r.status, 200, `request ${i}: ${JSON.stringify(r.json)}`);
      assert.deepEqual(outputValues(r, 'y'), [2 * k, 2 * k + 1]);
    }
  }
  const samples = await scrape(s.url);
  assert.equal(metricSum(samples, 'berth_inference_batch_isolations_total', { model: 'lookup' }), 1, 'the one batch of 8 was isolated once');
  assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'lookup', outcome: 'error' }), 0, 'no server error: HighErrorRate does not see it');
  assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'lookup', outcome: 'invalid' }), 1);
  assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'lookup', outcome: 'success' }), 7);
});
