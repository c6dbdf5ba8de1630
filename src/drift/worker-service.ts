/**
 * @module drift/worker-service
 * DriftService in a worker thread (drift/drift-worker): the HTTP thread only sends rows
 * (typed-array buffers transferred, not copied) and receives reports, so preparing a
 * reference, counting rows into windows and testing a closed window never block it. The
 * worker starts at the first `open`. If it dies, pending calls reject with the reason and
 * the next `open` starts a new one.
 */
import type { Worker } from 'node:worker_threads';
import { BerthError } from '../errors.js';
import { siblingModuleUrl, startWorker } from '../runtime/start-worker.js';
import type { ClosedWindow, DriftColumns, DriftOpenOptions, DriftService, OpenedWindow } from './service.js';
import type { FromDriftWorker, ToDriftWorker } from './worker-messages.js';

interface Waiter {
  resolve: (v: OpenedWindow | ClosedWindow) => void;
  reject: (err: Error) => void;
}

export class WorkerDriftService implements DriftService {
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #waiting = new Map<number, Waiter>();
  /** Failures of fire-and-forget adds, for the caller's log. */
  readonly #onError: (key: string | undefined, message: string) => void;

  constructor(options: { onError?: (key: string | undefined, message: string) => void } = {}) {
    this.#onError = options.onError ?? (() => undefined);
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = startWorker(siblingModuleUrl('drift-worker', import.meta.url), 'berth-drift');
    worker.unref();
    worker.on('message', (msg: FromDriftWorker) => {
      if (msg.ok) {
        const w = this.#waiting.get(msg.id);
        this.#waiting.delete(msg.id);
        w?.resolve(msg.result);
        return;
      }
      const err = new BerthError((msg.error.code as 'BERTH_ERR_INTERNAL' | undefined) ?? 'BERTH_ERR_INTERNAL', msg.error.message);
      const w = this.#waiting.get(msg.id);
      if (w === undefined) this.#onError(msg.key, msg.error.message);
      else {
        this.#waiting.delete(msg.id);
        w.reject(err);
      }
    });
    const fail = (reason: string) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      const err = new BerthError('BERTH_ERR_INTERNAL', `the drift worker stopped: ${reason}`);
      for (const w of this.#waiting.values()) w.reject(err);
      this.#waiting.clear();
      this.#onError(undefined, err.message);
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
    this.#worker = worker;
    return worker;
  }

  #call<T extends OpenedWindow | ClosedWindow>(msg: ToDriftWorker, worker = this.#worker): Promise<T> {
    if (worker === undefined) return Promise.reject(new BerthError('BERTH_ERR_INTERNAL', 'the drift worker is not running (its windows were lost; they reopen when the version is loaded again)'));
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(msg.id, { resolve: resolve as (v: OpenedWindow | ClosedWindow) => void, reject });
      worker.postMessage(msg);
    });
  }

  open(key: string, profilePath: string, options: DriftOpenOptions): Promise<OpenedWindow> {
    return this.#call({ op: 'open', id: this.#nextId++, key, profilePath, options }, this.#start());
  }

  add(key: string, columns: DriftColumns): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    // Only whole, unshared buffers move; anything else is copied.
    const transfer = new Set<ArrayBuffer>();
    for (const c of columns) if (c instanceof Float64Array && c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && c.buffer instanceof ArrayBuffer) transfer.add(c.buffer);
    const msg: ToDriftWorker = { op: 'add', id: 0, key, columns };
    worker.postMessage(msg, [...transfer]);
  }

  close(key: string): Promise<ClosedWindow> {
    return this.#call({ op: 'close', id: this.#nextId++, key });
  }

  drop(key: string): void {
    this.#worker?.postMessage({ op: 'drop', id: 0, key } satisfies ToDriftWorker);
  }

  async shutdown(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    for (const w of this.#waiting.values()) w.reject(new BerthError('BERTH_ERR_INTERNAL', 'the drift service was shut down'));
    this.#waiting.clear();
    if (worker !== undefined) await worker.terminate();
  }
}
