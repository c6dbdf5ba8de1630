/**
 * @module runtime/worker-pool
 * A fixed pool of session workers (worker_threads). A model version's session lives in
 * one worker (an "instance"); the pool routes runs to it and moves tensors as transferred
 * ArrayBuffers. A worker that dies is replaced; sessions it held are reported lost so the
 * model manager can load them again, and runs in flight on it fail with a clear error.
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import { BerthError } from '../errors.js';
import { startWorker } from './start-worker.js';
import type { FromWorker, MaskedRowsJob, SessionOptions, ToWorker, WireTensor, WireValueMetadata } from './messages.js';

export interface WorkerPoolOptions {
  /** Number of worker threads (≥ 1). */
  size: number;
  /** Override the worker script (tests). */
  workerUrl?: URL;
}

export interface SessionHandle {
  readonly key: string;
  readonly worker: number;
  readonly inputs: WireValueMetadata[];
  readonly outputs: WireValueMetadata[];
  readonly loadMs: number;
  /** The model's metadata_props and doc string (read in the worker, weights skipped). */
  readonly metadata: Record<string, string>;
  readonly docString: string;
  /** Resident memory growth across the session load (approximate footprint). */
  readonly memoryBytes: number;
}

export interface RunOutput {
  outputs: WireTensor[];
  computeNs: number;
}

interface Pending {
  resolve: (msg: FromWorker) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  sessions: Set<string>;
  /** Runs posted and not yet answered: a rough load figure for placement. */
  inFlight: number;
}

function defaultWorkerUrl(): URL {
  // Under tsx (tests, benchmarks) this module is .ts; in the build it is .js.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./session-worker${ext}`, import.meta.url);
}

/** Events: 'sessions-lost' (keys: string[], reason: string) when a worker died. */
export class WorkerPool extends EventEmitter {
  readonly size: number;
  #slots: Slot[] = [];
  #nextId = 1;
  #nextKey = 1;
  #closed = false;
  #url: URL;

  constructor(options: WorkerPoolOptions) {
    super();
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new BerthError('BERTH_ERR_CONFIG', `runtime.workers must be an integer ≥ 1, got ${String(options.size)}`);
    }
    this.size = options.size;
    this.#url = options.workerUrl ?? defaultWorkerUrl();
    for (let i = 0; i < this.size; i++) this.#slots.push(this.#spawn(i));
  }

  #spawn(index: number): Slot {
    const worker = startWorker(this.#url, `berth-session-${index}`);
    const slot: Slot = { worker, pending: new Map(), sessions: new Set(), inFlight: 0 };
    worker.on('message', (msg: FromWorker) => {
      const p = slot.pending.get(msg.id);
      if (p === undefined) return;
      slot.pending.delete(msg.id);
      if (slot.pending.size === 0) worker.unref();
      if (msg.type === 'error') p.reject(new Error(msg.message));
      else p.resolve(msg);
    });
    const onDeath = (reason: string): void => {
      if (this.#slots[index] !== slot) return; // already replaced
      // Retryable like the queued requests the manager fails when it reloads the lost sessions.
      const err = new BerthError('BERTH_ERR_MODEL_NOT_READY', `inference worker ${index} stopped (${reason}); its models are being reloaded, retry`, {
        headers: { 'Retry-After': '1' },
      });
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      const lost = [...slot.sessions];
      if (this.#closed) return;
      this.#slots[index] = this.#spawn(index);
      if (lost.length > 0) this.emit('sessions-lost', lost, reason);
    };
    worker.on('error', (err) => onDeath(err.message));
    worker.on('exit', (code) => onDeath(`exit code ${code}`));
    worker.unref();
    return slot;
  }

  #post(index: number, msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    const slot = this.#slots[index];
    if (slot === undefined || this.#closed) {
      return Promise.reject(new BerthError('BERTH_ERR_SHUTTING_DOWN', 'the inference worker pool is closed'));
    }
    return new Promise<FromWorker>((resolve, reject) => {
      // A worker keeps the process alive only while it owes an answer.
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(msg.id, { resolve, reject });
      slot.worker.postMessage(msg, transfer);
    });
  }

  /** The worker with the fewest sessions (ties: fewest runs in flight), for placing a new session. */
  leastLoadedWorker(exclude: ReadonlySet<number> = new Set()): number {
    let best = -1;
    for (let i = 0; i < this.#slots.length; i++) {
      if (exclude.has(i) && exclude.size < this.#slots.length) continue;
      const s = this.#slots[i]!;
      const b = best < 0 ? undefined : this.#slots[best]!;
      if (b === undefined || s.sessions.size < b.sessions.size || (s.sessions.size === b.sessions.size && s.inFlight < b.inFlight)) best = i;
    }
    return best;
  }

  async load(path: string, options: SessionOptions, worker = this.leastLoadedWorker()): Promise<SessionHandle> {
    const key = `s${this.#nextKey++}`;
    // Counted at once, so loads started together spread over the workers.
    const slot = this.#slots[worker];
    slot?.sessions.add(key);
    try {
      const reply = await this.#post(worker, { type: 'load', id: this.#nextId++, key, path, options });
      if (reply.type !== 'loaded') throw new Error(`unexpected worker reply ${reply.type}`);
      return { key, worker, inputs: reply.inputs, outputs: reply.outputs, loadMs: reply.loadMs, metadata: reply.metadata, docString: reply.docString, memoryBytes: reply.memoryBytes };
    } catch (err) {
      slot?.sessions.delete(key);
      throw err;
    }
  }

  /** The worker slot holding a loaded session; refuses a session its restarted worker lost. */
  #loadedSlot(handle: SessionHandle): Slot {
    const slot = this.#slots[handle.worker];
    if (slot === undefined || !slot.sessions.has(handle.key)) {
      throw new BerthError('BERTH_ERR_MODEL_NOT_READY', 'the model session is not loaded (its worker restarted); it is being reloaded', {
        headers: { 'Retry-After': '1' },
      });
    }
    return slot;
  }

  /**
   * Runs a session. Buffers listed in `transfer` are moved to the worker (and unusable
   * here afterwards); other inputs are copied by structured clone.
   */
  async run(handle: SessionHandle, feeds: WireTensor[], fetches: string[], transfer: ArrayBuffer[] = []): Promise<RunOutput> {
    const slot = this.#loadedSlot(handle);
    slot.inFlight += 1;
    try {
      const reply = await this.#post(handle.worker, { type: 'run', id: this.#nextId++, key: handle.key, feeds, fetches }, transfer);
      if (reply.type !== 'result') throw new Error(`unexpected worker reply ${reply.type}`);
      return { outputs: reply.outputs, computeNs: reply.computeNs };
    } finally {
      slot.inFlight -= 1;
    }
  }

  /** Builds rows from a record and background rows in the worker, runs them, and returns one score per row (explanations). */
  async runMasked(handle: SessionHandle, job: MaskedRowsJob): Promise<{ scores: Float64Array; computeNs: number }> {
    const slot = this.#loadedSlot(handle);
    slot.inFlight += 1;
    try {
      const reply = await this.#post(handle.worker, { type: 'masked', id: this.#nextId++, key: handle.key, job });
      if (reply.type !== 'scores') throw new Error(`unexpected worker reply ${reply.type}`);
      return { scores: reply.scores, computeNs: reply.computeNs };
    } finally {
      slot.inFlight -= 1;
    }
  }

  async unload(handle: SessionHandle): Promise<void> {
    const slot = this.#slots[handle.worker];
    if (slot === undefined || !slot.sessions.delete(handle.key)) return;
    await this.#post(handle.worker, { type: 'unload', id: this.#nextId++, key: handle.key }).catch(() => undefined);
  }

  /** Sessions per worker, for tests and status pages. */
  sessionCounts(): number[] {
    return this.#slots.map((s) => s.sessions.size);
  }

  /** Terminates a worker as if it crashed (tests). */
  async crashWorkerForTest(index: number): Promise<void> {
    await this.#slots[index]?.worker.terminate();
  }

  /**
   * Asks every worker to release its sessions and exit (see the 'shutdown' message); one
   * that has not exited after `graceMs` (a run that does not finish) is terminated.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new BerthError('BERTH_ERR_SHUTTING_DOWN', 'the inference worker pool is closing');
    await Promise.all(
      this.#slots.map(async (s) => {
        for (const p of s.pending.values()) p.reject(err);
        s.pending.clear();
        const exited = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()));
        s.worker.ref();
        s.worker.postMessage({ type: 'shutdown', id: this.#nextId++ } satisfies ToWorker);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), graceMs);
        });
        if ((await Promise.race([exited, late])) === 'late') await s.worker.terminate();
        clearTimeout(timer);
      }),
    );
  }
}
