/**
 * @module batching/scheduler
 * Dynamic batching for one model version. Requests wait in a bounded ring-buffer queue;
 * whenever an execution instance is free the scheduler forms a batch from the head of the
 * queue (same non-batch shape, total rows ≤ maxBatchSize), concatenates it along dim 0,
 * runs it once and splits the outputs back. A batch is sent at once when it is full or
 * has a preferred size, or when the oldest request has waited maxQueueDelayMs; with a
 * delay of 0 batches form only from what queued while the instances were busy, so a
 * lone request never waits. A full queue refuses at once (503); a request whose deadline
 * passes while queued fails with BERTH_ERR_DEADLINE_EXCEEDED. Admission by expected wait
 * happens twice: before the body is read (`admitEarly`, counting requests still being read
 * as queued) and again when the decoded request is submitted.
 */
import { BerthError, messageOf } from '../errors.js';
import type { InferenceRequest, InferenceResult, Tensor } from '../inference/types.js';
import { RingBuffer } from './ring-buffer.js';
import { concatRows, shapeKey, sliceRows } from './tensor-batch.js';

export interface BatchingOptions {
  /** Batching on: several requests may run as one batch. Off: each request runs alone. */
  enabled: boolean;
  /** Largest batch (rows) to form; 0 when the model has no batch dimension. */
  maxBatchSize: number;
  /** How long the oldest queued request may wait for a fuller batch. */
  maxQueueDelayMs: number;
  /** Batch sizes sent without waiting for the delay. */
  preferredBatchSizes: number[];
  /** Requests that may wait in the queue; more are refused with 503. */
  maxQueueSize: number;
  /**
   * Admission by expected wait: a request whose expected time in the queue (from the queue's
   * rows and the measured time per batch) exceeds this, or its own deadline, is refused at
   * once with 503 instead of waiting (never less than two batches' time). 0 = only the deadline.
   */
  maxQueueWaitMs?: number;
}

/** Something that runs a batch: one session instance of the model version. */
export interface ExecutionInstance {
  run(inputs: Tensor[], outputNames: string[], transfer: ArrayBuffer[]): Promise<{ outputs: Tensor[]; computeNs: number }>;
}

/** Callbacks for statistics; all optional. */
export interface SchedulerObserver {
  batchExecuted?(info: { rows: number; requests: number; computeNs: number; ioNs: number; ok: boolean }): void;
  queueDepthChanged?(depth: number): void;
  /** A failed batch of `requests` requests is being split and re-run to find the failing ones. */
  batchIsolated?(requests: number): void;
}

export interface SchedulerClock {
  /** Milliseconds, monotonic. */
  now(): number;
}

interface Pending {
  request: InferenceRequest;
  key: string;
  /** For statistics (queue time, ns). */
  enqueuedNs: bigint;
  /** For the batching delay, on the scheduler's clock (ms). */
  enqueuedMs: number;
  resolve: (r: InferenceResult) => void;
  reject: (e: Error) => void;
  deadlineTimer: NodeJS.Timeout | undefined;
}

const monotonic: SchedulerClock = { now: () => performance.now() };
const noRelease = (): void => {};
const MAX_TIMER_MS = 0x7fffffff;

export class BatchScheduler {
  readonly options: Readonly<BatchingOptions>;
  #queue: RingBuffer<Pending>;
  #idle: ExecutionInstance[];
  #instanceCount: number;
  #inFlight = 0;
  #delayTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #drainWaiters: (() => void)[] = [];
  #observer: SchedulerObserver;
  #clock: SchedulerClock;
  /** Some batch has run on this version: a later failure of a lone request is blamed on its input. */
  #succeeded = false;
  /** Rows waiting in the queue. */
  #queuedRows = 0;
  /** Moving average of a batch's wall time (ms, dispatch to result), for the expected wait; undefined until one ran. */
  #batchMs: number | undefined;
  /**
   * Requests admitted by admitEarly whose bodies are still being read or decoded: they will
   * queue ahead of any request that arrives after them, so the early check counts them (as
   * many rows each as requests have had lately: their own size is not known yet).
   */
  #arriving = 0;
  /** Moving average of rows per submitted request, for the rows of requests still arriving. */
  #rowsPerRequest = 1;

  constructor(options: BatchingOptions, instances: ExecutionInstance[], observer: SchedulerObserver = {}, clock: SchedulerClock = monotonic) {
    validateOptions(options);
    if (instances.length === 0) throw new RangeError('BatchScheduler needs at least one execution instance');
    this.options = Object.freeze({ ...options, preferredBatchSizes: [...options.preferredBatchSizes] });
    this.#queue = new RingBuffer<Pending>(options.maxQueueSize);
    this.#idle = [...instances];
    this.#instanceCount = instances.length;
    this.#observer = observer;
    this.#clock = clock;
  }

  get queueDepth(): number {
    return this.#queue.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests admitted before their body was read and not yet released (see admitEarly). */
  get arriving(): number {
    return this.#arriving;
  }

  /**
   * Queues a request. Throws synchronously (BERTH_ERR_QUEUE_FULL) when the queue is full,
   * so the caller can answer 503 at once.
   */
  submit(request: InferenceRequest): Promise<InferenceResult> {
    if (this.#closed) {
      throw new BerthError('BERTH_ERR_MODEL_NOT_READY', 'this model version is being unloaded; retry to reach the current version', {
        headers: { 'Retry-After': '1' },
      });
    }
    if (this.#queue.isFull()) {
      throw new BerthError('BERTH_ERR_QUEUE_FULL', `the batching queue is full (${this.options.maxQueueSize} requests waiting); retry later`, {
        headers: { 'Retry-After': '1' },
      });
    }
    this.#admit(request);
    this.#rowsPerRequest = 0.8 * this.#rowsPerRequest + 0.2 * request.batchSize;
    return new Promise<InferenceResult>((resolve, reject) => {
      const pending: Pending = {
        request, key: shapeKey(request.inputs), enqueuedNs: process.hrtime.bigint(), enqueuedMs: this.#clock.now(), resolve, reject, deadlineTimer: undefined,
      };
      if (request.deadlineMs !== undefined) {
        // setTimeout turns anything above 2^31 - 1 ms (~24.8 days) into 1 ms: clamp, so a huge
        // timeout ("never") does not expire the request at once.
        const wait = Math.min(MAX_TIMER_MS, Math.max(0, request.deadlineMs - this.#clock.now()));
        pending.deadlineTimer = setTimeout(() => this.#expire(pending), wait);
      }
      this.#queue.push(pending);
      this.#queuedRows += request.batchSize;
      this.#observer.queueDepthChanged?.(this.#queue.length);
      this.#schedule();
    });
  }

  /**
   * How long a request queued now would wait before it runs (ms): the batches ahead of it
   * (rows ÷ maxBatchSize when requests merge, else one per request) shared over the instances,
   * plus half a batch when every instance is busy. 0 before any batch ran or with room to run now.
   */
  expectedWaitMs(): number {
    return this.#waitMs(0);
  }

  /** The expected wait with `arriving` more requests (of the usual size) ahead of the queue's tail. */
  #waitMs(arriving: number): number {
    if (this.#batchMs === undefined) return 0;
    const busy = this.#idle.length === 0;
    if (this.#queue.isEmpty() && arriving === 0 && !busy) return 0;
    const merging = this.options.enabled && this.options.maxBatchSize > 0;
    const batchesAhead = merging ? Math.ceil((this.#queuedRows + arriving * this.#rowsPerRequest) / this.options.maxBatchSize) : this.#queue.length + arriving;
    return (batchesAhead / this.#instanceCount + (busy ? 0.5 : 0)) * this.#batchMs;
  }

  /**
   * Admission before the request's body is read (its size and own timeout are not known yet):
   * refuses at once (BERTH_ERR_OVERLOADED, Retry-After) when the queue plus the requests
   * already admitted this way would keep it longer than maxQueueWaitMs or `deadlineMs` (the
   * version's default timeout) allow. Otherwise counts it as arriving until the returned
   * release is called (once it is decoded and submitted, or gone); release is idempotent.
   */
  admitEarly(deadlineMs?: number): () => void {
    if (this.#closed) return noRelease; // submit() answers with the right error
    this.#check(this.#waitMs(this.#arriving), deadlineMs);
    this.#arriving += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#arriving -= 1;
    };
  }

  /** Refuses at once a request that would wait longer than its deadline or maxQueueWaitMs allow (503, Retry-After). */
  #admit(request: InferenceRequest): void {
    // Requests still arriving queue behind this one: only the queue counts.
    this.#check(this.#waitMs(0), request.deadlineMs);
  }

  #check(waitMs: number, deadlineMs: number | undefined): void {
    if (waitMs === 0) return;
    const target = this.options.maxQueueWaitMs ?? 0;
    let allowedMs = target > 0 ? Math.max(target, 2 * this.#batchMs!) : Infinity;
    let limit = 'batching.maxQueueWaitMs';
    if (deadlineMs !== undefined && deadlineMs - this.#clock.now() < allowedMs) {
      allowedMs = deadlineMs - this.#clock.now();
      limit = 'its deadline';
    }
    if (waitMs <= allowedMs) return;
    const retryMs = Math.ceil(waitMs);
    // Under overload refusals are most of the traffic, and capturing a stack was 12 % of the HTTP
    // thread (bench:overload --profile); an expected refusal's stack says nothing, so none is taken.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      throw new BerthError('BERTH_ERR_OVERLOADED', `overloaded: a request queued now would wait about ${retryMs} ms, more than the ${Math.max(0, Math.floor(allowedMs))} ms it may (${limit}); retry after ${retryMs} ms`, {
        headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryMs / 1000))), 'Retry-After-Ms': String(retryMs) },
      });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }

  #expire(p: Pending): void {
    const removed = this.#queue.removeIf((x) => x === p);
    if (removed.length === 0) return; // already dispatched
    this.#queuedRows -= p.request.batchSize;
    // The batching delay was armed for a request that is gone: with nothing left to wait for,
    // a long maxQueueDelayMs would otherwise keep a timer (and the process) alive for nothing.
    if (this.#queue.isEmpty() && this.#delayTimer !== undefined) {
      clearTimeout(this.#delayTimer);
      this.#delayTimer = undefined;
    }
    this.#observer.queueDepthChanged?.(this.#queue.length);
    p.reject(new BerthError('BERTH_ERR_DEADLINE_EXCEEDED', `request '${p.request.id}' waited in the queue past its deadline and was not run`));
    this.#checkDrained();
  }

  /** Takes the next batch from the head of the queue, or returns [] to wait for more. */
  #nextBatch(): Pending[] {
    const head = this.#queue.peek();
    if (head === undefined) return [];
    const { enabled, maxBatchSize, maxQueueDelayMs, preferredBatchSizes } = this.options;
    if (!enabled || maxBatchSize === 0) {
      const only = this.#queue.shift()!;
      this.#queuedRows -= only.request.batchSize;
      return [only];
    }

    let rows = 0;
    let count = 0;
    let blocked = false; // the next request cannot join this batch (size or shape)
    for (const p of this.#queue) {
      if (p.key !== head.key || rows + p.request.batchSize > maxBatchSize) {
        blocked = count > 0;
        break;
      }
      rows += p.request.batchSize;
      count += 1;
    }
    const waitedMs = this.#clock.now() - head.enqueuedMs;
    const sendNow = blocked || rows >= maxBatchSize || preferredBatchSizes.includes(rows) || maxQueueDelayMs <= 0 || waitedMs >= maxQueueDelayMs;
    if (!sendNow) {
      if (this.#delayTimer === undefined) {
        this.#delayTimer = setTimeout(() => {
          this.#delayTimer = undefined;
          this.#schedule();
        }, Math.max(0, maxQueueDelayMs - waitedMs));
      }
      return [];
    }
    const batch: Pending[] = [];
    for (let i = 0; i < count; i++) batch.push(this.#queue.shift()!);
    this.#queuedRows -= rows;
    return batch;
  }

  #schedule(): void {
    while (this.#idle.length > 0 && !this.#queue.isEmpty()) {
      const batch = this.#nextBatch();
      if (batch.length === 0) return;
      if (this.#delayTimer !== undefined) {
        clearTimeout(this.#delayTimer);
        this.#delayTimer = undefined;
      }
      this.#observer.queueDepthChanged?.(this.#queue.length);
      const instance = this.#idle.pop()!;
      this.#inFlight += 1;
      let released = false;
      // The instance is handed the next batch as soon as its run returns, before this batch's
      // responses are encoded and written, so ONNX Runtime computes while the HTTP thread writes.
      const release = (): void => {
        if (released) return;
        released = true;
        this.#idle.push(instance);
        this.#schedule();
      };
      void this.#execute(instance, batch, release).finally(() => {
        release();
        this.#inFlight -= 1;
        this.#checkDrained();
      });
    }
  }

  async #execute(instance: ExecutionInstance, batch: Pending[], release: () => void): Promise<void> {
    for (const p of batch) if (p.deadlineTimer !== undefined) clearTimeout(p.deadlineTimer);
    const failures: { p: Pending; err: unknown }[] = [];
    const t0 = this.#clock.now();
    await this.#runGroup(instance, batch, failures, true);
    const ms = this.#clock.now() - t0;
    // A short memory (weight 0.2): the estimate follows a change of load within a few batches.
    this.#batchMs = this.#batchMs === undefined ? ms : 0.8 * this.#batchMs + 0.2 * ms;
    release();
    if (failures.length === 0) return;
    if (this.#succeeded) {
      // Other requests ran (in this batch, or before on this version): the failing request's own input is the cause.
      for (const f of failures) f.p.reject(inputRejected(f.p, f.err));
    } else {
      for (const f of failures) f.p.reject(inferenceFailed(f.err));
    }
  }

  /**
   * Runs `group` as one batch. When ONNX Runtime fails on a batch of several requests, the
   * batch is split in halves and each half re-run, so only the requests that fail alone fail
   * (at most 2n − 1 runs for n requests; errors that are not ONNX Runtime's — a lost worker,
   * shutdown — fail the whole group at once). Returns how many requests succeeded.
   */
  async #runGroup(instance: ExecutionInstance, group: Pending[], failures: { p: Pending; err: unknown }[], whole = false): Promise<number> {
    const startNs = process.hrtime.bigint();
    // Union of requested outputs, in first-seen order.
    const fetch: string[] = [];
    for (const p of group) for (const name of p.request.outputs) if (!fetch.includes(name)) fetch.push(name);

    const first = group[0]!;
    let inputs: Tensor[];
    const transfer: ArrayBuffer[] = [];
    if (group.length === 1) {
      inputs = first.request.inputs; // copied to the worker by structured clone; the request keeps its data
    } else {
      inputs = first.request.inputs.map((_, i) => concatRows(group.map((p) => p.request.inputs[i]!)));
      for (const t of inputs) if (!Array.isArray(t.data)) transfer.push(t.data.buffer as ArrayBuffer);
    }
    const rows = group.reduce((n, p) => n + p.request.batchSize, 0);
    const assembledNs = process.hrtime.bigint();

    let outputs: Tensor[];
    let computeNs: number;
    try {
      ({ outputs, computeNs } = await instance.run(inputs, fetch, transfer));
    } catch (err) {
      this.#observer.batchExecuted?.({ rows, requests: group.length, computeNs: 0, ioNs: Number(assembledNs - startNs), ok: false });
      if (err instanceof BerthError) {
        for (const p of group) p.reject(err);
        return 0;
      }
      if (group.length === 1) {
        failures.push({ p: first, err });
        return 0;
      }
      if (whole) this.#observer.batchIsolated?.(group.length);
      const half = Math.ceil(group.length / 2);
      return (await this.#runGroup(instance, group.slice(0, half), failures)) + (await this.#runGroup(instance, group.slice(half), failures));
    }

    const splitStart = process.hrtime.bigint();
    const batched = this.options.enabled && this.options.maxBatchSize > 0 && group.length > 1;
    if (batched) {
      for (const o of outputs) {
        if (o.shape[0] !== rows) {
          const e = new BerthError('BERTH_ERR_INFERENCE_FAILED', `output '${o.name}' has first dimension ${String(o.shape[0])}, expected the batch size ${rows}; set maxBatchSize: 0 for this model`);
          for (const p of group) p.reject(e);
          return 0;
        }
      }
    }
    this.#succeeded = true;
    const ioNs = Number(assembledNs - startNs) + Number(process.hrtime.bigint() - splitStart);
    let offset = 0;
    for (const p of group) {
      const queueNs = Number(startNs - p.enqueuedNs);
      const mine = batched
        ? p.request.outputs.map((name) => sliceRows(outputs.find((o) => o.name === name)!, offset, p.request.batchSize))
        : p.request.outputs.map((name) => outputs.find((o) => o.name === name)!);
      offset += p.request.batchSize;
      p.resolve({ outputs: mine, timings: { queueNs, ioNs, computeNs }, executedBatchSize: rows });
    }
    this.#observer.batchExecuted?.({ rows, requests: group.length, computeNs, ioNs, ok: true });
    return group.length;
  }

  #checkDrained(): void {
    if (this.#queue.isEmpty() && this.#inFlight === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Stops accepting requests; resolves once everything queued and in flight has finished. */
  drain(): Promise<void> {
    this.#closed = true;
    if (this.#queue.isEmpty() && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Stops accepting requests and fails everything still queued with `error`. */
  abort(error: Error): void {
    this.#closed = true;
    if (this.#delayTimer !== undefined) clearTimeout(this.#delayTimer);
    this.#queuedRows = 0;
    for (const p of this.#queue.drain()) {
      if (p.deadlineTimer !== undefined) clearTimeout(p.deadlineTimer);
      p.reject(error);
    }
    this.#observer.queueDepthChanged?.(0);
    this.#checkDrained();
  }

  /** Number of execution instances. */
  get instanceCount(): number {
    return this.#instanceCount;
  }
}

/** ONNX Runtime failed on this request alone while other requests ran: its input is the cause (4xx). */
function inputRejected(p: Pending, err: unknown): BerthError {
  return new BerthError('BERTH_ERR_INPUT_REJECTED_BY_MODEL', `request '${p.request.id}': ONNX Runtime could not run the model on this input (other requests ran): ${messageOf(err)}`, { cause: err });
}

function inferenceFailed(err: unknown): BerthError {
  return new BerthError('BERTH_ERR_INFERENCE_FAILED', `ONNX Runtime failed: ${messageOf(err)}`, { cause: err });
}

function validateOptions(o: BatchingOptions): void {
  const intAtLeast = (name: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) throw new BerthError('BERTH_ERR_MODEL_CONFIG', `${name} must be an integer ≥ ${min}, got ${String(v)}`);
  };
  intAtLeast('maxBatchSize', o.maxBatchSize, 0);
  intAtLeast('maxQueueSize', o.maxQueueSize, 1);
  if (o.maxQueueWaitMs !== undefined && !(Number.isFinite(o.maxQueueWaitMs) && o.maxQueueWaitMs >= 0)) {
    throw new BerthError('BERTH_ERR_MODEL_CONFIG', `maxQueueWaitMs must be a number ≥ 0, got ${String(o.maxQueueWaitMs)}`);
  }
  if (!(Number.isFinite(o.maxQueueDelayMs) && o.maxQueueDelayMs >= 0)) {
    throw new BerthError('BERTH_ERR_MODEL_CONFIG', `maxQueueDelayMs must be a number ≥ 0, got ${String(o.maxQueueDelayMs)}`);
  }
  for (const s of o.preferredBatchSizes) {
    intAtLeast('preferredBatchSizes[]', s, 1);
    if (o.maxBatchSize > 0 && s > o.maxBatchSize) {
      throw new BerthError('BERTH_ERR_MODEL_CONFIG', `preferredBatchSizes contains ${s}, larger than maxBatchSize ${o.maxBatchSize}`);
    }
  }
}
