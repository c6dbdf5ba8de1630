/**
 * Overload behaviour: a full batching queue refuses at once with 503 + Retry-After
 * (BERTH_ERR_QUEUE_FULL) while admitted requests complete correctly; a request whose
 * `parameters.timeout` passes while queued gets 504; and with batching switched off every
 * request runs alone. After each, the server serves normally.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, fixture, getJson, startServer } from '../helpers/server.js';
import {
  digitsImages, infer, inferBinary, maxAbsDiff, metricSum, ortTensor, ortValues, outputValues, prng, runOrt, scrape, waitFor,
  type InferResponse,
} from '../helpers/v2.js';

const SLOW = fixture('slow_matmul.onnx');
const DIGITS = join(EXAMPLES, 'digits/1/model.onnx');
const ROWS = 1024;

function bigInput(seed: number): Float32Array {
  const rand = prng(seed);
  const x = new Float32Array(ROWS * 256);
  for (let i = 0; i < x.length; i++) x[i] = rand() * 2 - 1;
  return x;
}

function sendBig(url: string, model: string, bytes: Buffer, parameters: Record<string, unknown> = {}): Promise<InferResponse> {
  return inferBinary(`${url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [bytes.length / 1024, 256], parameters: { binary_data_size: bytes.length } }],
    outputs: [{ name: 'y', parameters: { binary_data: true } }],
    parameters,
  }, [bytes]);
}

test('overload', async (t) => {
  const s = await startServer({
    models: [
      // maxQueueWaitMs 0: admission by deadline only, so these parts see the queue bound alone.
      { name: 'slow', file: SLOW, config: 'maxBatchSize: 1024\nbatching:\n  maxQueueSize: 2\n  maxQueueDelayMs: 0\n  maxQueueWaitMs: 0\n' },
      { name: 'slow_deadline', file: SLOW, config: 'maxBatchSize: 1024\nbatching:\n  maxQueueSize: 64\n  maxQueueWaitMs: 0\n' },
      // Holds requests for a fuller batch: a queued request's deadline passes before it runs.
      { name: 'slow_hold', file: SLOW, config: 'maxBatchSize: 1024\nbatching:\n  maxQueueDelayMs: 600000\n  maxQueueWaitMs: 0\n' },
      { name: 'digits_nobatch', file: DIGITS, config: 'maxBatchSize: 8\nbatching:\n  enabled: false\n  maxQueueWaitMs: 0\n' },
      { name: 'digits', file: DIGITS, config: readFileSync(join(EXAMPLES, 'digits/berth.yaml'), 'utf8') },
    ],
  });
  t.after(() => s.close());
  const u = s.url;
  const x = bigInput(42);
  const bytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  const ref = ortValues((await runOrt(SLOW, { x: ortTensor('FP32', Array.from(x), [ROWS, 256]) })).y!);

  await t.test('a full queue answers 503 + Retry-After at once; admitted requests complete correctly', async (st) => {
    const flood = 24;
    const timed = await Promise.all(Array.from({ length: flood }, async () => {
      const t0 = performance.now();
      const r = await sendBig(u, 'slow', bytes);
      return { r, ms: performance.now() - t0 };
    }));
    const ok = timed.filter((x) => x.r.status === 200);
    const refused = timed.filter((x) => x.r.status === 503);
    assert.equal(ok.length + refused.length, flood, `only 200 and 503: ${JSON.stringify(timed.filter((x) => x.r.status !== 200 && x.r.status !== 503).map((x) => x.r.json))}`);
    assert.ok(ok.length >= 3, `some requests were admitted (${ok.length})`);
    assert.ok(refused.length >= 1, `some requests were refused (${refused.length} of ${flood})`);
    for (const { r } of refused) {
      assert.equal(r.json.code, 'BERTH_ERR_QUEUE_FULL');
      assert.match(r.json.error, /queue is full/);
      assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After on 503');
    }
    for (const { r } of ok) assert.ok(maxAbsDiff(outputValues(r, 'y'), ref) <= 1e-5, 'admitted answers equal in-process onnxruntime');
    st.diagnostic(`${ok.length} admitted (slowest ${Math.max(...ok.map((x) => x.ms)).toFixed(0)} ms), ${refused.length} refused (slowest ${Math.max(...refused.map((x) => x.ms)).toFixed(0)} ms)`);
    const samples = await scrape(u);
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'slow', outcome: 'rejected' }), refused.length);
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'slow', outcome: 'success' }), ok.length);
    // Afterwards the model serves normally.
    const one = await sendBig(u, 'slow', bytes.subarray(0, 256 * 4));
    assert.equal(one.status, 200, JSON.stringify(one.json));
    assert.ok(maxAbsDiff(outputValues(one, 'y'), ref.slice(0, 256)) <= 1e-5);
    assert.equal((await getJson(`${u}/v2/health/ready`)).status, 200);
  });

  await t.test('a refusal is answered while the queued requests are still waiting (not after a wait or a timeout)', async (st) => {
    const model = s.app.manager.resolve('slow');
    const inflight = new Set<{ done: boolean }>();
    let stop = false;
    const statuses: number[] = [];
    // Clients keeping the queue full.
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const h = { done: false };
        inflight.add(h);
        const r = await sendBig(u, 'slow', bytes);
        statuses.push(r.status);
        h.done = true;
        inflight.delete(h);
      }
    });
    const probes: { status: number; ms: number; stillWaiting: number }[] = [];
    try {
      for (let attempt = 0; attempt < 40 && !probes.some((p) => p.status === 503); attempt++) {
        await waitFor('a full queue', () => model.queueDepth >= 2, 10_000, 1);
        const pendingAtSend = [...inflight];
        const t0 = performance.now();
        const probe = await sendBig(u, 'slow', bytes.subarray(0, 256 * 4));
        probes.push({ status: probe.status, ms: performance.now() - t0, stillWaiting: pendingAtSend.filter((h) => !h.done).length });
        if (probe.status === 503) assert.equal(probe.json.code, 'BERTH_ERR_QUEUE_FULL');
        else assert.equal(probe.status, 200, JSON.stringify(probe.json)); // a slot freed between the check and the send
      }
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    const refusal = probes.find((p) => p.status === 503);
    assert.ok(refusal, `a probe was refused: ${JSON.stringify(probes)}`);
    st.diagnostic(`refusal in ${refusal.ms.toFixed(1)} ms, ${refusal.stillWaiting} of the requests in flight when it was sent still unanswered`);
    // Two requests were queued behind a running one when the probe was sent; a prompt refusal
    // arrives before they are all answered. A refusal that waited for a slot (or a timeout) could not.
    assert.ok(refusal.stillWaiting >= 1, `requests admitted before the probe were still waiting when it was refused: ${JSON.stringify(refusal)}`);
    assert.ok(statuses.every((x) => x === 200 || x === 503), `only 200 and 503 under load: ${JSON.stringify(statuses)}`);
  });

  await t.test('a deadline shorter than the expected wait: 503 BERTH_ERR_OVERLOADED at once; passing while queued: 504; a huge timeout does not expire at once (regression)', async () => {
    const model = s.app.manager.resolve('slow_deadline');
    const busy = Array.from({ length: 8 }, () => sendBig(u, 'slow_deadline', bytes));
    // Requests wait in the queue only while the instance is busy (maxQueueDelayMs 0); the
    // expected wait is known once a batch has run.
    await waitFor('a busy instance with a queue and a measured batch time', () => model.queueDepth >= 1 && model.expectedWaitMs > 5, 30_000, 1);
    const small = bytes.subarray(0, 256 * 4);
    // Regression: a timeout beyond setTimeout's 2^31 - 1 ms range (a client's "never") expired at once.
    const never = sendBig(u, 'slow_deadline', small, { timeout: Number.MAX_SAFE_INTEGER });
    const late = await sendBig(u, 'slow_deadline', small, { timeout: 1000 }); // 1 ms, Triton-style microseconds
    assert.equal(late.status, 503, JSON.stringify(late.json));
    assert.equal(late.json.code, 'BERTH_ERR_OVERLOADED');
    assert.match(late.json.error, /its deadline/);
    assert.ok(Number(late.headers.get('retry-after-ms')) > 1, 'Retry-After-Ms on an admission refusal');
    const generous = sendBig(u, 'slow_deadline', small, { timeout: 60_000_000 });
    for (const r of await Promise.all(busy)) assert.equal(r.status, 200, JSON.stringify(r.json));
    for (const g of [await generous, await never]) {
      assert.equal(g.status, 200, JSON.stringify(g.json));
      assert.ok(maxAbsDiff(outputValues(g, 'y'), ref.slice(0, 256)) <= 1e-5);
    }
    // slow_hold waits up to 10 minutes for a fuller batch: admitted (nothing ahead of it), its
    // 200 ms deadline passes in the queue.
    const held = await sendBig(u, 'slow_hold', small, { timeout: 200_000 });
    assert.equal(held.status, 504, JSON.stringify(held.json));
    assert.equal(held.json.code, 'BERTH_ERR_DEADLINE_EXCEEDED');
    const samples = await scrape(u);
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'slow_deadline', outcome: 'rejected' }), 1);
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'slow_hold', outcome: 'timeout' }), 1);
    const stats = (await getJson(`${u}/v2/models/slow_deadline/stats`)).json.model_stats[0];
    assert.equal(stats.inference_stats.success.count, 10);
    const heldStats = (await getJson(`${u}/v2/models/slow_hold/stats`)).json.model_stats[0];
    assert.equal(heldStats.inference_stats.fail.count, 1);
  });

  await t.test('batching switched off: every request runs alone and answers correctly', async () => {
    const images = digitsImages();
    const rand = prng(5);
    const jobs = Array.from({ length: 16 }, (_, i) => {
      const rows = 1 + Math.floor(rand() * 4);
      const start = Math.floor(rand() * (360 - rows));
      return { id: `nb-${i}`, rows, data: Array.from(images.subarray(start * 64, (start + rows) * 64)) };
    });
    const send = (model: string) => Promise.all(jobs.map((j) => infer(`${u}/v2/models/${model}/infer`, { id: j.id, inputs: [{ name: 'image', datatype: 'FP32', shape: [j.rows, 1, 8, 8], data: j.data }] })));
    const [off, on] = await Promise.all([send('digits_nobatch'), send('digits')]);
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i]!;
      const refOut = ortValues((await runOrt(DIGITS, { image: ortTensor('FP32', j.data, [j.rows, 1, 8, 8]) })).probabilities!);
      for (const r of [off[i]!, on[i]!]) {
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.id, j.id);
        assert.ok(maxAbsDiff(outputValues(r, 'probabilities'), refOut) <= 1e-5, `${j.id} (${r.json.model_name})`);
      }
    }
    const samples = await scrape(u);
    const labels = { model: 'digits_nobatch' };
    assert.equal(metricSum(samples, 'berth_inference_batch_requests_count', labels), 16, 'one execution per request');
    assert.equal(metricSum(samples, 'berth_inference_batch_requests_sum', labels), 16, 'one request per execution');
    assert.equal(metricSum(samples, 'berth_inference_batch_size_sum', labels), jobs.reduce((n, j) => n + j.rows, 0));
    const config = (await getJson(`${u}/v2/models/digits_nobatch/config`)).json;
    assert.equal(config.max_batch_size, 8);
    assert.equal(config.dynamic_batching, undefined, 'no dynamic_batching when batching is off');
    // Still limited by maxBatchSize.
    const tooBig = await infer(`${u}/v2/models/digits_nobatch/infer`, { inputs: [{ name: 'image', datatype: 'FP32', shape: [9, 1, 8, 8], data: new Array(9 * 64).fill(0) }] });
    assert.equal(tooBig.status, 400);
    assert.equal(tooBig.json.code, 'BERTH_ERR_BATCH_TOO_LARGE');
  });
});
