import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { BatchScheduler, type BatchingOptions, type ExecutionInstance } from '../../../src/batching/scheduler.js';
import { BerthError, isBerthError } from '../../../src/errors.js';
import type { InferenceRequest, InferenceResult, Tensor } from '../../../src/inference/types.js';

/** A fake execution instance: records each batch and completes it when the test says so. */
class FakeInstance implements ExecutionInstance {
  calls: { inputs: Tensor[]; outputNames: string[]; transfer: ArrayBuffer[]; finish: (err?: Error) => void }[] = [];
  /** Output shape override, to test mismatches. */
  rowsOverride: number | undefined;

  run(inputs: Tensor[], outputNames: string[], transfer: ArrayBuffer[]): Promise<{ outputs: Tensor[]; computeNs: number }> {
    return new Promise((resolve, reject) => {
      const x = inputs[0]!;
      const rows = this.rowsOverride ?? x.shape[0]!;
      const finish = (err?: Error): void => {
        if (err !== undefined) return reject(err);
        // "double" = 2·x, "plus" = x + 1, per row (one column): lets tests check the split.
        const src = x.data as Float32Array;
        const dbl = new Float32Array(rows);
        const plus = new Float32Array(rows);
        for (let i = 0; i < rows; i++) {
          dbl[i] = 2 * (src[i] ?? 0);
          plus[i] = (src[i] ?? 0) + 1;
        }
        const all: Record<string, Tensor> = {
          double: { name: 'double', datatype: 'FP32', shape: [rows, 1], data: dbl },
          plus: { name: 'plus', datatype: 'FP32', shape: [rows, 1], data: plus },
        };
        resolve({ outputs: outputNames.map((n) => all[n]!), computeNs: 1000 });
      };
      this.calls.push({ inputs, outputNames, transfer, finish });
    });
  }

  /** Completes the oldest unfinished call. */
  finishNext(err?: Error): void {
    const c = this.calls.find((x) => !(x as { done?: boolean }).done);
    assert.ok(c, 'no running batch to finish');
    (c as { done?: boolean }).done = true;
    c.finish(err);
  }
}

/** An instance that answers at once: 2·x per row, or fails the whole batch when `fails(rows)` says so (as ONNX Runtime does). */
class AutoInstance implements ExecutionInstance {
  batches: number[][] = [];
  constructor(private fails: (x: number[]) => boolean, private error: () => Error = () => new Error('Gather: index out of range')) {}
  async run(inputs: Tensor[], outputNames: string[]): Promise<{ outputs: Tensor[]; computeNs: number }> {
    await Promise.resolve();
    const x = Array.from(inputs[0]!.data as Float32Array);
    this.batches.push(x);
    if (this.fails(x)) throw this.error();
    const dbl = Float32Array.from(x, (v) => 2 * v);
    return { outputs: outputNames.map(() => ({ name: 'double', datatype: 'FP32', shape: [x.length, 1], data: dbl })), computeNs: 1000 };
  }
}

let nextId = 0;
function req(values: number[], opts: { outputs?: string[]; width?: number; deadlineMs?: number } = {}): InferenceRequest {
  const width = opts.width ?? 1;
  const r: InferenceRequest = {
    id: `r${nextId++}`,
    inputs: [{ name: 'x', datatype: 'FP32', shape: [values.length / width, width], data: Float32Array.from(values) }],
    outputs: opts.outputs ?? ['double'],
    batchSize: values.length / width,
    parameters: {},
  };
  if (opts.deadlineMs !== undefined) r.deadlineMs = opts.deadlineMs;
  return r;
}

const BASE: BatchingOptions = { enabled: true, maxBatchSize: 8, maxQueueDelayMs: 0, preferredBatchSizes: [], maxQueueSize: 16 };

/** Lets pending promise callbacks run. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

const data = (r: InferenceResult, i = 0): number[] => Array.from(r.outputs[i]!.data as Float32Array);

describe('BatchScheduler', () => {
  let clock: { t: number; now(): number };
  beforeEach(() => {
    clock = { t: 1000, now() { return this.t; } };
    mock.timers.enable({ apis: ['setTimeout'] });
  });
  afterEach(() => mock.timers.reset());
  const advance = (ms: number): void => {
    clock.t += ms;
    mock.timers.tick(ms);
  };

  test('validates its options with messages naming the option', () => {
    const inst = [new FakeInstance()];
    assert.throws(() => new BatchScheduler({ ...BASE, maxQueueSize: 0 }, inst), /maxQueueSize/);
    assert.throws(() => new BatchScheduler({ ...BASE, maxBatchSize: -1 }, inst), /maxBatchSize/);
    assert.throws(() => new BatchScheduler({ ...BASE, maxQueueDelayMs: -1 }, inst), /maxQueueDelayMs/);
    assert.throws(() => new BatchScheduler({ ...BASE, preferredBatchSizes: [16] }, inst), /preferredBatchSizes contains 16, larger than maxBatchSize 8/);
    assert.throws(() => new BatchScheduler(BASE, []), RangeError);
  });

  test('a lone request runs at once when the delay is 0', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const p = s.submit(req([3]));
    assert.equal(inst.calls.length, 1);
    inst.finishNext();
    const r = await p;
    assert.deepEqual(data(r), [6]);
    assert.equal(r.executedBatchSize, 1);
  });

  test('requests queued while the instance is busy run as one batch, split back per request', async () => {
    const inst = new FakeInstance();
    const batches: { rows: number; requests: number }[] = [];
    const s = new BatchScheduler(BASE, [inst], { batchExecuted: (b) => batches.push(b) }, clock);
    const first = s.submit(req([1]));
    const rest = [s.submit(req([2, 3], { width: 1 })), s.submit(req([4])), s.submit(req([5, 6, 7]))];
    assert.equal(inst.calls.length, 1);
    assert.equal(s.queueDepth, 3);
    inst.finishNext();
    await first;
    await flush();
    assert.equal(inst.calls.length, 2, 'the three queued requests form one batch');
    const batch = inst.calls[1]!;
    assert.deepEqual(batch.inputs[0]!.shape, [6, 1]);
    assert.deepEqual(Array.from(batch.inputs[0]!.data as Float32Array), [2, 3, 4, 5, 6, 7]);
    assert.equal(batch.transfer.length, 1, 'the freshly concatenated batch buffer is transferred');
    inst.finishNext();
    const [a, b, c] = await Promise.all(rest);
    assert.deepEqual(data(a!), [4, 6]);
    assert.deepEqual(a!.outputs[0]!.shape, [2, 1]);
    assert.deepEqual(data(b!), [8]);
    assert.deepEqual(data(c!), [10, 12, 14]);
    assert.equal(c!.executedBatchSize, 6);
    assert.deepEqual(batches.map((x) => [x.rows, x.requests]), [[1, 1], [6, 3]]);
  });

  test('a single request is not transferred (the caller keeps its input data)', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const r = req([1]);
    const p = s.submit(r);
    assert.equal(inst.calls[0]!.transfer.length, 0);
    assert.equal(inst.calls[0]!.inputs[0], r.inputs[0]);
    inst.finishNext();
    await p;
  });

  test('never exceeds maxBatchSize rows; a request that does not fit waits for the next batch', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler({ ...BASE, maxBatchSize: 4 }, [inst], {}, clock);
    const ps = [s.submit(req([0])), s.submit(req([1, 2, 3])), s.submit(req([4, 5])), s.submit(req([6, 7]))];
    inst.finishNext(); // [0]
    await flush();
    assert.deepEqual(inst.calls[1]!.inputs[0]!.shape, [3, 1], '3 rows; adding 2 more would exceed 4');
    inst.finishNext();
    await flush();
    assert.deepEqual(inst.calls[2]!.inputs[0]!.shape, [4, 1]);
    inst.finishNext();
    const results = await Promise.all(ps);
    assert.deepEqual(results.map((r) => data(r)), [[0], [2, 4, 6], [8, 10], [12, 14]]);
  });

  test('requests with different non-batch shapes are never batched together', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const p0 = s.submit(req([9]));
    const p1 = s.submit(req([1, 2], { width: 2 }));
    const p2 = s.submit(req([3]));
    const p3 = s.submit(req([4, 5], { width: 2 }));
    inst.finishNext();
    await flush();
    assert.deepEqual(inst.calls[1]!.inputs[0]!.shape, [1, 2], 'the head (width 2) is batched alone: the next request differs');
    inst.finishNext();
    await flush();
    assert.deepEqual(inst.calls[2]!.inputs[0]!.shape, [1, 1]);
    inst.finishNext();
    await flush();
    assert.deepEqual(inst.calls[3]!.inputs[0]!.shape, [1, 2]);
    inst.finishNext();
    await Promise.all([p0, p1, p2, p3]);
  });

  test('with a delay, a partial batch waits until the oldest request has waited maxQueueDelayMs', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler({ ...BASE, maxQueueDelayMs: 10 }, [inst], {}, clock);
    const p1 = s.submit(req([1]));
    advance(4);
    const p2 = s.submit(req([2]));
    advance(5);
    assert.equal(inst.calls.length, 0, 'nothing sent before 10 ms');
    advance(1);
    assert.equal(inst.calls.length, 1);
    assert.deepEqual(inst.calls[0]!.inputs[0]!.shape, [2, 1]);
    inst.finishNext();
    assert.deepEqual((await Promise.all([p1, p2])).map((r) => data(r)), [[2], [4]]);
  });

  test('with a delay, a full batch or a preferred size is sent at once', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler({ ...BASE, maxBatchSize: 4, maxQueueDelayMs: 1000, preferredBatchSizes: [2] }, [inst], {}, clock);
    const p1 = s.submit(req([1]));
    assert.equal(inst.calls.length, 0);
    const p2 = s.submit(req([2]));
    assert.equal(inst.calls.length, 1, 'preferred size 2 reached');
    inst.finishNext();
    await Promise.all([p1, p2]);
    const p3 = s.submit(req([1, 2, 3]));
    assert.equal(inst.calls.length, 1);
    const p4 = s.submit(req([4]));
    assert.equal(inst.calls.length, 2, 'maxBatchSize 4 reached');
    inst.finishNext();
    await Promise.all([p3, p4]);
  });

  test('a full queue refuses synchronously with 503 and Retry-After', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler({ ...BASE, maxQueueSize: 2 }, [inst], {}, clock);
    const running = s.submit(req([0])); // dispatched, not queued
    const q = [s.submit(req([1])), s.submit(req([2]))];
    let thrown: unknown;
    try {
      void s.submit(req([3]));
    } catch (err) {
      thrown = err;
    }
    assert.ok(isBerthError(thrown, 'BERTH_ERR_QUEUE_FULL'));
    assert.equal(thrown.status, 503);
    assert.equal(thrown.headers['Retry-After'], '1');
    inst.finishNext();
    await running;
    await flush();
    inst.finishNext();
    await Promise.all(q);
  });

  test('a request whose deadline passes while queued fails with DEADLINE_EXCEEDED; the others run', async () => {
    const inst = new FakeInstance();
    const depths: number[] = [];
    const s = new BatchScheduler(BASE, [inst], { queueDepthChanged: (d) => depths.push(d) }, clock);
    const running = s.submit(req([0]));
    const doomed = s.submit(req([1], { deadlineMs: clock.t + 5 }));
    const fine = s.submit(req([2]));
    assert.equal(s.queueDepth, 2);
    advance(5);
    await assert.rejects(doomed, (e: unknown) => isBerthError(e, 'BERTH_ERR_DEADLINE_EXCEEDED') && e.status === 504 && /past its deadline/.test(e.message));
    assert.equal(s.queueDepth, 1);
    assert.equal(depths.at(-1), 1);
    inst.finishNext();
    await running;
    await flush();
    assert.deepEqual(Array.from(inst.calls[1]!.inputs[0]!.data as Float32Array), [2]);
    inst.finishNext();
    assert.deepEqual(data(await fine), [4]);
  });

  test('a request dispatched before its deadline is not failed by it', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const p = s.submit(req([1], { deadlineMs: clock.t + 5 }));
    advance(10);
    inst.finishNext();
    assert.deepEqual(data(await p), [2]);
  });

  test('batching off: each request runs alone, in arrival order', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler({ ...BASE, enabled: false }, [inst], {}, clock);
    const ps = [s.submit(req([1])), s.submit(req([2, 3])), s.submit(req([4]))];
    for (let i = 0; i < 3; i++) {
      await flush();
      inst.finishNext();
    }
    const rs = await Promise.all(ps);
    assert.deepEqual(inst.calls.map((c) => c.inputs[0]!.shape[0]), [1, 2, 1]);
    assert.deepEqual(rs.map((r) => data(r)), [[2], [4, 6], [8]]);
  });

  test('several instances run batches concurrently', async () => {
    const a = new FakeInstance();
    const b = new FakeInstance();
    const s = new BatchScheduler(BASE, [a, b], {}, clock);
    const p1 = s.submit(req([1]));
    const p2 = s.submit(req([2]));
    assert.equal(a.calls.length + b.calls.length, 2, 'both instances busy');
    const p3 = s.submit(req([3]));
    assert.equal(s.queueDepth, 1);
    b.finishNext();
    await flush();
    assert.equal(s.queueDepth, 0);
    a.finishNext();
    b.finishNext();
    await Promise.all([p1, p2, p3]);
  });

  test('regression: one bad request failed everyone in its batch — a failed batch is re-run in halves and only the failing request fails, with 422', async () => {
    const inst = new AutoInstance((x) => x.some((v) => v < 0));
    const isolated: number[] = [];
    const s = new BatchScheduler(BASE, [inst], { batchIsolated: (n) => isolated.push(n) }, clock);
    // The first runs alone at once; the other seven queue behind it and run as one batch.
    const values = [10, 1, 2, 3, -1, 5, 6, 7];
    const ps = values.map((v) => s.submit(req([v])));
    const settled = await Promise.allSettled(ps);
    for (const [i, r] of settled.entries()) {
      if (values[i]! < 0) {
        assert.equal(r.status, 'rejected');
        const e = (r as PromiseRejectedResult).reason as Error;
        assert.ok(isBerthError(e, 'BERTH_ERR_INPUT_REJECTED_BY_MODEL'), String(e));
        assert.equal((e as { status?: number }).status, 422);
        assert.match(e.message, /index out of range/);
      } else {
        assert.equal(r.status, 'fulfilled', `request ${i}`);
        assert.deepEqual(data((r as PromiseFulfilledResult<InferenceResult>).value), [2 * values[i]!]);
      }
    }
    // 1 lone run + the failed batch of 7 + its halves, bisected down to the bad request: at most 2·7 − 1 runs for the batch.
    assert.ok(inst.batches.length <= 1 + 2 * 7 - 1, `${inst.batches.length} runs`);
    assert.deepEqual(isolated[0], 7);
    assert.equal(inst.batches[1]!.length, 7, 'the seven were first tried as one batch');
  });

  test('a failure that is not ONNX Runtime\'s (a lost worker) fails the whole batch without re-runs', async () => {
    const inst = new AutoInstance(() => true, () => new BerthError('BERTH_ERR_MODEL_NOT_READY', 'worker 0 stopped'));
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const ps = [1, 2, 3].map((v) => s.submit(req([v])));
    for (const p of ps) await assert.rejects(p, (e: unknown) => isBerthError(e, 'BERTH_ERR_MODEL_NOT_READY'));
    assert.equal(inst.batches.length, 2, 'one lone run, one batch of two, no isolation');
  });

  test('a lone request that fails on a version that never ran anything is a server error (500); once others ran, it is blamed on its input (422)', async () => {
    const inst = new AutoInstance((x) => x.some((v) => v < 0));
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    await assert.rejects(s.submit(req([-1])), (e: unknown) => isBerthError(e, 'BERTH_ERR_INFERENCE_FAILED'));
    assert.deepEqual(data(await s.submit(req([4]))), [8]);
    await assert.rejects(s.submit(req([-1])), (e: unknown) => isBerthError(e, 'BERTH_ERR_INPUT_REJECTED_BY_MODEL'));
    // The next request still runs.
    assert.deepEqual(data(await s.submit(req([5]))), [10]);
  });

  test('an output whose first dimension is not the batch size fails the batch with a clear message', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const first = s.submit(req([0]));
    const ps = [s.submit(req([1])), s.submit(req([2]))];
    inst.rowsOverride = 1; // read when the next batch (2 rows) starts
    inst.finishNext();
    await first;
    await flush();
    inst.finishNext();
    for (const p of ps) await assert.rejects(p, /first dimension 1, expected the batch size 2/);
  });

  test('each request gets only the outputs it asked for, in its order; the batch fetches their union', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const first = s.submit(req([0]));
    const p1 = s.submit(req([1], { outputs: ['plus'] }));
    const p2 = s.submit(req([2], { outputs: ['double', 'plus'] }));
    inst.finishNext();
    await first;
    await flush();
    assert.deepEqual(inst.calls[1]!.outputNames, ['plus', 'double']);
    inst.finishNext();
    const [r1, r2] = await Promise.all([p1, p2]);
    assert.deepEqual(r1.outputs.map((o) => o.name), ['plus']);
    assert.deepEqual(data(r1), [2]);
    assert.deepEqual(r2.outputs.map((o) => o.name), ['double', 'plus']);
    assert.deepEqual([data(r2, 0), data(r2, 1)], [[4], [3]]);
  });

  test('drain waits for queued and running work, then refuses new requests with 503', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const ps = [s.submit(req([1])), s.submit(req([2]))];
    let drained = false;
    const d = s.drain().then(() => {
      drained = true;
    });
    assert.throws(() => s.submit(req([3])), (e: unknown) => isBerthError(e, 'BERTH_ERR_MODEL_NOT_READY') && e.status === 503);
    inst.finishNext();
    await flush();
    assert.equal(drained, false);
    inst.finishNext();
    await Promise.all(ps);
    await d;
    assert.equal(drained, true);
  });

  test('abort fails everything queued with the given error', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler(BASE, [inst], {}, clock);
    const running = s.submit(req([0]));
    const queued = s.submit(req([1]));
    s.abort(new Error('worker gone'));
    await assert.rejects(queued, /worker gone/);
    inst.finishNext();
    await running;
    assert.equal(s.queueDepth, 0);
  });

  test('regression: overload queued everything (p99 4.6 s) — a request whose expected wait exceeds maxQueueWaitMs or its deadline is refused at once', async () => {
    const inst = new FakeInstance();
    // Batching off: one request per batch, so the expected wait is (queued + ½) × the batch time.
    const s = new BatchScheduler({ ...BASE, enabled: false, maxQueueSize: 100, maxQueueWaitMs: 50 }, [inst], {}, clock);
    assert.equal(s.expectedWaitMs(), 0, 'nothing measured yet: no estimate, admit');
    const first = s.submit(req([1]));
    advance(10); // the first batch takes 10 ms
    inst.finishNext();
    await first;
    await flush(); // the instance is released once the batch's requests are answered
    const running = s.submit(req([2])); // runs at once: the instance is busy from here on
    const queued: Promise<InferenceResult>[] = [];
    // Expected wait with k queued: (k + 0.5) × 10 ms ≤ 50 ms for k ≤ 4.
    for (let k = 0; k < 5; k++) {
      assert.equal(s.expectedWaitMs(), (k + 0.5) * 10);
      queued.push(s.submit(req([10 + k])));
    }
    assert.equal(s.expectedWaitMs(), 55);
    let refused: unknown;
    try {
      s.submit(req([99]));
    } catch (err) {
      refused = err;
    }
    assert.ok(isBerthError(refused, 'BERTH_ERR_OVERLOADED'), String(refused));
    assert.equal((refused as BerthError).status, 503);
    assert.equal((refused as BerthError).headers['Retry-After-Ms'], '55');
    assert.equal((refused as BerthError).headers['Retry-After'], '1');
    assert.equal(s.queueDepth, 5, 'the refused request was never queued');
    // A request whose own deadline is nearer than the expected wait is refused too.
    assert.throws(() => s.submit(req([98], { deadlineMs: clock.now() + 30 })), (e: unknown) => isBerthError(e, 'BERTH_ERR_OVERLOADED') && /its deadline/.test((e as Error).message));
    // Everything admitted completes.
    for (let k = 0; k < 6; k++) {
      inst.finishNext();
      await flush();
    }
    await running;
    await Promise.all(queued);
    assert.equal(s.expectedWaitMs(), 0, 'an idle scheduler admits at once');
  });

  test('regression: overload was refused only after the body was read — admitEarly counts requests still arriving, and submit does not count them twice', async () => {
    const inst = new FakeInstance();
    // Batching off: one request per batch; each batch takes 10 ms; admitted while waiting ≤ 50 ms.
    const s = new BatchScheduler({ ...BASE, enabled: false, maxQueueSize: 100, maxQueueWaitMs: 50 }, [inst], {}, clock);
    assert.equal(s.admitEarly()(), undefined, 'nothing measured yet: admitted');
    const first = s.submit(req([1]));
    advance(10);
    inst.finishNext();
    await first;
    await flush();
    const running = s.submit(req([2])); // busy from here on: ½ batch ahead of anything new
    // Queue empty, instance busy: with k arriving ahead, the wait is (k + 0.5) × 10 ms.
    const releases = [0, 1, 2, 3, 4].map(() => s.admitEarly());
    assert.equal(s.arriving, 5);
    let refused: unknown;
    try {
      s.admitEarly(); // 5.5 batches = 55 ms > 50 ms
    } catch (err) {
      refused = err;
    }
    assert.ok(isBerthError(refused, 'BERTH_ERR_OVERLOADED'), String(refused));
    assert.equal((refused as BerthError).headers['Retry-After-Ms'], '55');
    assert.equal((refused as BerthError).headers['Retry-After'], '1');
    assert.match((refused as Error).message, /batching\.maxQueueWaitMs/);
    assert.equal(s.arriving, 5, 'a refused request is not counted');
    // Its own deadline, nearer than the wait, refuses too, naming the deadline.
    releases[4]!();
    releases[4]!(); // release is idempotent
    assert.equal(s.arriving, 4);
    assert.throws(() => s.admitEarly(clock.now() + 30), (e: unknown) => isBerthError(e, 'BERTH_ERR_OVERLOADED') && /its deadline/.test((e as Error).message));
    // The arriving requests are decoded and submitted in turn: each is queued behind the ones
    // already queued, not behind those still arriving (no double count).
    const queued: Promise<InferenceResult>[] = [];
    for (let k = 0; k < 4; k++) {
      releases[k]!();
      queued.push(s.submit(req([10 + k])));
    }
    assert.equal(s.arriving, 0);
    assert.equal(s.queueDepth, 4);
    for (let k = 0; k < 5; k++) {
      inst.finishNext();
      await flush();
    }
    await running;
    assert.deepEqual((await Promise.all(queued)).map((r) => data(r)[0]), [20, 22, 24, 26]);
  });

  test('requests still arriving count as many rows as requests have had lately (merging)', async () => {
    const inst = new FakeInstance();
    // Batches of up to 8 rows; requests of 4 rows: two arriving requests make one more batch.
    const s = new BatchScheduler({ ...BASE, maxBatchSize: 8, maxQueueWaitMs: 1 }, [inst], {}, clock);
    for (let k = 0; k < 20; k++) {
      const p = s.submit(req([k, k, k, k]));
      advance(10);
      inst.finishNext();
      await p;
      await flush();
    }
    const running = s.submit(req([1, 1, 1, 1])); // busy: ½ batch
    // A request's own rows do not count against it: only those arriving ahead of it.
    const admitted = [s.admitEarly(), s.admitEarly(), s.admitEarly()]; // 0, ~4, ~8 rows ahead: ≤ 1 batch + ½ = 15 ms ≤ two batches (20 ms)
    // ~12 rows ahead → 2 batches + ½ = 25 ms > 20 ms; with one-row guesses it would be 1 batch and admitted.
    assert.throws(() => s.admitEarly(), (e: unknown) => isBerthError(e, 'BERTH_ERR_OVERLOADED') && (e as BerthError).headers['Retry-After-Ms'] === '25');
    for (const release of admitted) release();
    inst.finishNext();
    await running;
  });

  test('admission never holds the queue to less than two batches\' time', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler({ ...BASE, enabled: false, maxQueueWaitMs: 1 }, [inst], {}, clock);
    const first = s.submit(req([1]));
    advance(10);
    inst.finishNext();
    await first;
    await flush(); // the instance is released once the batch's requests are answered
    const running = s.submit(req([2]));
    const a = s.submit(req([3])); // expected wait 5 ms: over 1 ms, within two batches (20 ms)
    const b = s.submit(req([4])); // 15 ms
    assert.throws(() => s.submit(req([5])), (e: unknown) => isBerthError(e, 'BERTH_ERR_OVERLOADED')); // 25 ms
    for (let k = 0; k < 3; k++) {
      inst.finishNext();
      await flush();
    }
    await Promise.all([running, a, b]);
  });

  test('models without a batch dimension (maxBatchSize 0) run one request at a time, unsplit', async () => {
    const inst = new FakeInstance();
    const s = new BatchScheduler({ ...BASE, maxBatchSize: 0 }, [inst], {}, clock);
    const p1 = s.submit(req([1, 2]));
    const p2 = s.submit(req([3]));
    inst.finishNext();
    assert.deepEqual(data(await p1), [2, 4]);
    await flush();
    inst.finishNext();
    assert.deepEqual(data(await p2), [6]);
  });
});

test('regression: a request that expired while waiting for a fuller batch left the batching-delay timer armed (the process stayed alive for maxQueueDelayMs)', async () => {
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const wall = { now: () => Date.now() };
  const s = new BatchScheduler({ ...BASE, maxQueueDelayMs: 600_000 }, [new FakeInstance()], {}, wall);
  const doomed = s.submit(req([1], { deadlineMs: wall.now() + 20 }));
  assert.equal(timers(), before + 2, 'a deadline timer and the batching-delay timer');
  await assert.rejects(doomed, (e: unknown) => isBerthError(e, 'BERTH_ERR_DEADLINE_EXCEEDED'));
  assert.equal(s.queueDepth, 0);
  // ≤: an unrelated timer of the process may have fired meanwhile; the armed delay timer would make it before + 1.
  assert.ok(timers() <= before, `no timer left once the queue is empty (${timers()} active, ${before} before)`);
  await s.drain();
});
