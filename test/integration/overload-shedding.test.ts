/**
 * Overload shedding before the body is read (issue 9 item 5): a request that would wait
 * longer than its deadline or batching.maxQueueWaitMs allow is refused with 503
 * BERTH_ERR_OVERLOADED, Retry-After and Retry-After-Ms while its body is still unsent; a
 * large unread body closes the connection, a small one keeps it; admitted requests answer
 * correctly and the server serves normally afterwards.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { fixture, getJson, startServer } from '../helpers/server.js';
import { inferBinary, maxAbsDiff, metricSum, ortTensor, ortValues, outputValues, prng, runOrt, scrape, waitFor, type InferResponse } from '../helpers/v2.js';

const SLOW = fixture('slow_matmul.onnx');
const COLS = 256;

function input(rows: number, seed: number): Float32Array {
  const rand = prng(seed);
  const x = new Float32Array(rows * COLS);
  for (let i = 0; i < x.length; i++) x[i] = rand() * 2 - 1;
  return x;
}

function send(url: string, model: string, x: Float32Array, headers: Record<string, string> = {}, parameters: Record<string, unknown> = {}): Promise<InferResponse> {
  const bytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return inferBinary(`${url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [x.length / COLS, COLS], parameters: { binary_data_size: bytes.length } }],
    outputs: [{ name: 'y', parameters: { binary_data: true } }],
    parameters,
  }, [bytes], headers);
}

/** What a raw socket received, and whether the server ended the connection. */
interface RawExchange {
  socket: Socket;
  text: () => string;
  ended: Promise<void>;
  /** Resolves once a complete response (headers + Content-Length body) has arrived. */
  response: () => Promise<{ status: number; headers: Record<string, string>; body: string }>;
}

function rawConnection(url: string): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      let data = '';
      let wake: (() => void) | undefined;
      socket.setEncoding('latin1');
      socket.on('data', (s: string) => {
        data += s;
        wake?.();
      });
      socket.on('error', () => {}); // a reset after the server closed is not this test's concern
      const ended = new Promise<void>((r) => socket.once('close', () => r()));
      let consumed = 0;
      const response = async (): Promise<{ status: number; headers: Record<string, string>; body: string }> => {
        // A failsafe only (a server that waits for the body never answers): the test waits on data, not on time.
        const failsafe = performance.now() + 60_000;
        for (;;) {
          if (performance.now() > failsafe) throw new Error(`no whole response within 60 s: ${JSON.stringify(data.slice(consumed))}`);
          const rest = data.slice(consumed);
          const end = rest.indexOf('\r\n\r\n');
          if (end >= 0) {
            const lines = rest.slice(0, end).split('\r\n');
            const headers: Record<string, string> = {};
            for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
            const length = Number(headers['content-length'] ?? 0);
            if (rest.length >= end + 4 + length) {
              consumed += end + 4 + length;
              return { status: Number(lines[0]!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) };
            }
          }
          if (socket.destroyed) throw new Error(`connection closed before a whole response: ${JSON.stringify(rest)}`);
          await new Promise<void>((r) => {
            wake = r;
            socket.once('close', r);
            setTimeout(r, 1000).unref();
          });
        }
      };
      resolve({ socket, text: () => data, ended, response });
    });
    socket.once('error', reject);
  });
}

test('overload shedding', async (t) => {
  const s = await startServer({
    models: [
      // Holds queued requests for a fuller batch (up to 10 minutes), with a short default deadline:
      // a request arriving while one is held is expected to wait a batch's time, longer than 1 ms.
      { name: 'held', file: SLOW, config: 'maxBatchSize: 1024\nbatching:\n  maxQueueDelayMs: 600000\n  queueTimeoutMs: 1\n' },
      // Sheds as soon as more than two batches' time is queued.
      { name: 'slow', file: SLOW, config: 'maxBatchSize: 1024\nbatching:\n  maxQueueDelayMs: 0\n  maxQueueWaitMs: 1\n' },
    ],
  });
  t.after(() => s.close());
  const u = s.url;
  const host = new URL(u).host;
  const long = { 'Berth-Timeout-Ms': '600000' };
  const x = input(1024, 7);
  const ref = ortValues((await runOrt(SLOW, { x: ortTensor('FP32', Array.from(x), [1024, COLS]) })).y!);
  const rowsOf = (values: ReturnType<typeof ortValues>, from: number, to: number) => values.slice(from * COLS, to * COLS);

  await t.test('regression: overload refused only after reading and parsing the body — a request is refused with 503 + Retry-After-Ms while its body is still unsent', async (st) => {
    const held = s.app.manager.resolve('held');
    // A full batch runs at once: the version now knows how long a batch takes.
    const first = await send(u, 'held', x, long, { timeout: 600_000_000 });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    // 256 rows wait for 768 more; the deadline in the header lets it past the 1 ms default.
    const waiting = send(u, 'held', x.subarray(0, 256 * COLS), long, { timeout: 600_000_000 });
    // 768 rows complete the held request's batch: sent in the end, or on failure (else closing waits 10 minutes).
    let rest: Promise<InferResponse> | undefined;
    const release = (): Promise<InferResponse> => (rest ??= send(u, 'held', x.subarray(256 * COLS), long, { timeout: 600_000_000 }));
    st.after(async () => {
      await release();
    });
    await waitFor('a request held in the queue', () => held.queueDepth === 1, 30_000, 1);
    assert.ok(held.expectedWaitMs > 1, `a request arriving now is expected to wait a batch (${held.expectedWaitMs} ms), more than the 1 ms default deadline`);

    // A 4 MiB body of which only 1 KiB is ever sent: the answer comes anyway, and the server
    // closes the connection rather than read (and discard) the rest.
    const big = await rawConnection(u);
    big.socket.write(`POST /v2/models/held/infer HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\nInference-Header-Content-Length: 100\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`);
    big.socket.write(Buffer.alloc(1024, 0x20));
    const refused = await big.response();
    assert.equal(refused.status, 503, big.text());
    const body = JSON.parse(refused.body) as { code: string; error: string };
    assert.equal(body.code, 'BERTH_ERR_OVERLOADED');
    assert.match(body.error, /its deadline/);
    assert.ok(Number(refused.headers['retry-after-ms']) >= 1, `Retry-After-Ms: ${refused.headers['retry-after-ms']}`);
    assert.equal(refused.headers['retry-after'], '1', 'Retry-After in whole seconds, rounded up');
    assert.equal(refused.headers.connection, 'close');
    await big.ended; // the server ended the connection; this client never sent the other 4,193,280 bytes
    assert.ok(big.socket.bytesWritten < 2048 + 300, `the client sent ${big.socket.bytesWritten} bytes`);

    // A small body (within DISCARD_BODY_BYTES) is discarded instead, and the connection serves on.
    const small = await rawConnection(u);
    small.socket.write(`POST /v2/models/held/infer HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n{"inputs":`);
    const refusedSmall = await small.response();
    assert.equal(refusedSmall.status, 503, small.text());
    assert.notEqual(refusedSmall.headers.connection, 'close');
    small.socket.write(`${' '.repeat(2000 - '{"inputs":'.length)}GET /v2/health/live HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    const live = await small.response();
    assert.equal(live.status, 200, small.text());
    small.socket.end();

    // A malformed deadline header names the header.
    const bad = await send(u, 'held', x.subarray(0, COLS), { 'Berth-Timeout-Ms': 'soon' });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /Berth-Timeout-Ms: expected a non-negative integer \(milliseconds\), got 'soon'/);

    // Admitted requests answer correctly: 768 rows complete the held request's batch.
    const r = await release();
    const w = await waiting;
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(w.status, 200, JSON.stringify(w.json));
    assert.ok(maxAbsDiff(outputValues(w, 'y'), rowsOf(ref, 0, 256)) <= 1e-5);
    assert.ok(maxAbsDiff(outputValues(r, 'y'), rowsOf(ref, 256, 1024)) <= 1e-5);
    assert.equal(w.json.parameters?.executed_batch_size ?? 1024, 1024);
    await waitFor('the raw connections released', () => held.arriving === 0, 10_000, 1);
    const samples = await scrape(u);
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'held', outcome: 'rejected' }), 2, 'early refusals are counted as rejected');
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'held', outcome: 'success' }), 3);
  });

  await t.test('a burst far beyond capacity: any refusal comes at once with Retry-After-Ms, every admitted one answered correctly, and the server serves on', async (st) => {
    const slow = s.app.manager.resolve('slow');
    const warm = await send(u, 'slow', x);
    assert.equal(warm.status, 200, JSON.stringify(warm.json));
    await waitFor('a measured batch time', () => slow.queueDepth === 0, 10_000, 1);
    const burst = 24;
    const answers = await Promise.all(Array.from({ length: burst }, () => send(u, 'slow', x)));
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 503);
    assert.equal(ok.length + refused.length, burst, `only 200 and 503: ${JSON.stringify(answers.filter((r) => r.status !== 200 && r.status !== 503).map((r) => r.json))}`);
    assert.ok(ok.length >= 1, `some requests were admitted (${ok.length})`);
    // How many are refused depends on how fast this machine runs the slow model while the burst
    // arrives (0 on a fast clean clone): the early refusal itself is proven by the unsent-body test above.
    st.diagnostic(`refused ${refused.length} of ${burst}`);
    for (const r of refused) {
      assert.equal(r.json.code, 'BERTH_ERR_OVERLOADED', JSON.stringify(r.json));
      assert.ok(Number(r.headers.get('retry-after-ms')) >= 1);
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
    }
    for (const r of ok) assert.ok(maxAbsDiff(outputValues(r, 'y'), ref) <= 1e-5, 'admitted answers equal in-process onnxruntime');
    st.diagnostic(`${ok.length} admitted, ${refused.length} refused of ${burst}`);
    const samples = await scrape(u);
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'slow', outcome: 'rejected' }), refused.length);
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { model: 'slow', outcome: 'success' }), ok.length + 1);
    // Afterwards: nothing counted as still arriving, so a lone request is admitted and answered.
    await waitFor('an idle queue', () => slow.queueDepth === 0 && slow.expectedWaitMs === 0, 30_000, 1);
    assert.equal(slow.arriving, 0, 'every early admission was released');
    const after = await send(u, 'slow', x.subarray(0, 16 * COLS));
    assert.equal(after.status, 200, JSON.stringify(after.json));
    assert.ok(maxAbsDiff(outputValues(after, 'y'), rowsOf(ref, 0, 16)) <= 1e-5);
    assert.equal((await getJson(`${u}/v2/health/ready`)).status, 200);
  });
});
