/**
 * @module store/read-queue
 * Admission and cancellation of decision-log reads, shared by both stores. Reads wait here
 * (on the HTTP thread), at most `concurrency` run at once and at most `maxQueued` wait; a
 * read whose caller aborts leaves the queue at once, or, when running, is told to stop
 * through the AbortSignal its work receives (SQLite checks a shared flag between rows,
 * PostgreSQL sends pg_cancel_backend). Writes never pass through here: they have their own
 * connection, so no amount of reading can delay one.
 *
 *     run(work, signal) ──▶ [ queued … ≤ maxQueued ] ──▶ running (≤ concurrency) ──▶ settled
 *                               │ signal aborts                │ signal aborts
 *                               ▼                              ▼
 *                           removed: cancelled            work's signal aborts → cancelled
 */
import { BerthError, isBerthError } from '../errors.js';
import { queryCancelled } from './rows.js';
import type { ReadStats } from './store.js';

interface Waiting {
  start: () => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class ReadQueue {
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly #what: string;
  #running = 0;
  readonly #waiting: Waiting[] = [];
  readonly #stats: Omit<ReadStats, 'queued' | 'running'> = { completed: 0, cancelled: 0, refused: 0, tooCostly: 0, failed: 0 };

  /** `what` names the store in messages ("the SQLite decision store"). */
  constructor(what: string, concurrency: number, maxQueued: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new BerthError('BERTH_ERR_STORE_CONFIG', `read queue: concurrency must be a positive integer, got ${String(concurrency)}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new BerthError('BERTH_ERR_STORE_CONFIG', `store.queries.maxQueued must be an integer ≥ 0, got ${String(maxQueued)}`);
    this.#what = what;
    this.concurrency = concurrency;
    this.maxQueued = maxQueued;
  }

  get stats(): ReadStats {
    return { queued: this.#waiting.length, running: this.#running, ...this.#stats };
  }

  /**
   * Runs `work` when a slot is free. `work` gets a signal that aborts when the caller's does
   * (while it runs); whatever it then throws, the read rejects as BERTH_ERR_QUERY_CANCELLED.
   */
  async run<T>(work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    // A function, not `signal.aborted` inline: it changes across the awaits below.
    const aborted = (): boolean => signal?.aborted === true;
    if (aborted()) {
      this.#stats.cancelled += 1;
      throw this.#cancelled();
    }
    // The slot is taken here, or handed over by #next (so nobody overtakes a waiter).
    if (this.#running >= this.concurrency || this.#waiting.length > 0) await this.#wait(signal);
    else this.#running += 1;
    const own = new AbortController();
    const onAbort = (): void => own.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await work(own.signal);
      if (aborted()) throw this.#cancelled();
      this.#stats.completed += 1;
      return result;
    } catch (err) {
      if (aborted()) {
        this.#stats.cancelled += 1;
        throw isBerthError(err, 'BERTH_ERR_QUERY_CANCELLED') ? err : queryCancelled(this.#what, 'stopped while running', err);
      }
      if (isBerthError(err, 'BERTH_ERR_QUERY_TOO_COSTLY')) this.#stats.tooCostly += 1;
      else this.#stats.failed += 1;
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#running -= 1;
      this.#next();
    }
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    if (this.#waiting.length >= this.maxQueued) {
      this.#stats.refused += 1;
      return Promise.reject(new BerthError('BERTH_ERR_STORE_BUSY', `${this.#what} has ${this.#waiting.length} queries waiting (store.queries.maxQueued: ${this.maxQueued}); retry shortly`, { headers: { 'Retry-After': '1' } }));
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Waiting = {
        start: resolve,
        signal,
        onAbort: () => {
          const i = this.#waiting.indexOf(entry);
          if (i < 0) return;
          this.#waiting.splice(i, 1);
          this.#stats.cancelled += 1;
          reject(this.#cancelled());
        },
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #next(): void {
    const entry = this.#waiting.shift();
    if (entry === undefined) return;
    entry.signal?.removeEventListener('abort', entry.onAbort);
    this.#running += 1;
    entry.start();
  }

  #cancelled(): BerthError {
    return queryCancelled(this.#what);
  }
}
