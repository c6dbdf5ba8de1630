/**
 * @module store/sqlite-store
 * The embedded default store: one SQLite file (WAL) in the data directory, driven through
 * two worker threads (sqlite-worker.ts) because better-sqlite3 is synchronous: a writer and
 * a reader, each with its own connection, so no backlog of reads can delay a decision
 * write. This object lives on the HTTP thread and only posts messages; reads wait in a
 * bounded, cancellable queue (read-queue.ts) and are sent to the reader one at a time. A
 * worker that dies is started again on the next call. Error messages say what failed, not
 * where: no path of the database or the data directory reaches an HTTP answer.
 */
import { dirname } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { BerthError, type ErrorCode } from '../errors.js';
import { siblingModuleUrl, startWorker } from '../runtime/start-worker.js';
import { ReadQueue } from './read-queue.js';
import { checkDecisionQuery, checkExplanations, checkFeedback, checkPointQuery, checkPoints, type ReadBudget } from './rows.js';
import type { SqliteSynchronous } from './sqlite-db.js';
import type { FromSqliteWorker, SqliteErrorPayload, SqliteReadRequest, SqliteRequest, SqliteWorkerData, SqliteWriteRequest } from './sqlite-messages.js';
import {
  DEFAULT_READ_LIMITS,
  type DecisionQuery, type DecisionRecord, type ExplanationItem, type FeedbackItem, type PredictionStore, type ReadLimits, type ReadOptions, type ReadStats,
  type RetentionPolicy, type StoredDecision, type TimeSeriesPoint, type TimeSeriesQuery, type WriteResult,
} from './store.js';

export interface SqliteStoreOptions {
  /** The database file; its directory is created if missing. */
  path: string;
  /** NORMAL (default): commits survive a process crash; FULL: also a power loss (fsync per commit). */
  synchronous?: SqliteSynchronous;
  /** How reads are bounded; default DEFAULT_READ_LIMITS. */
  reads?: Partial<ReadLimits>;
}

const WHAT = 'the SQLite decision store';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** A message's text with the database path and its directory taken out (say what, not where). */
export function withoutPaths(message: string, path: string): string {
  let out = message.split(path).join('<database file>');
  const dir = dirname(path);
  if (dir.length > 1) out = out.split(dir).join('<data directory>');
  return out;
}

function errorOf(e: SqliteErrorPayload, path: string): BerthError {
  const message = withoutPaths(e.message, path);
  if (e.kind === 'berth') return new BerthError(e.code as ErrorCode, message);
  const code: ErrorCode = e.kind === 'rejected' ? 'BERTH_ERR_STORE_REJECTED' : 'BERTH_ERR_STORE_UNAVAILABLE';
  return new BerthError(code, `${WHAT}: ${message}${e.code === undefined ? '' : ` (${e.code})`}`);
}

/** One worker thread and the calls waiting for its answers. */
class WorkerChannel {
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  readonly #data: SqliteWorkerData;
  readonly #name: string;
  readonly #onLost: () => void;

  constructor(name: string, data: SqliteWorkerData, onLost: () => void) {
    this.#name = name;
    this.#data = data;
    this.#onLost = onLost;
  }

  get started(): boolean {
    return this.#worker !== null;
  }

  #start(): Worker {
    const worker = startWorker(siblingModuleUrl('sqlite-worker', import.meta.url), this.#name, this.#data);
    worker.on('message', (msg: FromSqliteWorker) => {
      const p = this.#pending.get(msg.id);
      if (p === undefined) return;
      this.#pending.delete(msg.id);
      if (this.#pending.size === 0) worker.unref();
      if (msg.ok) p.resolve(msg.result);
      else p.reject(errorOf(msg.error, this.#data.path));
    });
    const lost = (reason: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      this.#onLost();
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of pending) p.reject(new BerthError('BERTH_ERR_STORE_UNAVAILABLE', `${WHAT}: worker thread ${withoutPaths(reason, this.#data.path)}`));
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    return worker;
  }

  call<T>(id: number, request: SqliteRequest): Promise<T> {
    this.#worker ??= this.#start();
    const worker = this.#worker;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.ref();
      worker.postMessage({ ...request, id });
    });
  }

  async terminate(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    if (worker !== null) await worker.terminate();
  }
}

export class SqliteStore implements PredictionStore {
  readonly kind = 'sqlite';
  readonly path: string;
  readonly limits: ReadLimits;
  readonly #writer: WorkerChannel;
  readonly #reader: WorkerChannel;
  readonly #reads: ReadQueue;
  readonly #cancel = new Int32Array(new SharedArrayBuffer(4));
  #nextId = 1;
  #initialized = false;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    if (typeof options.path !== 'string' || options.path === '') {
      throw new BerthError('BERTH_ERR_STORE_CONFIG', 'sqlite store: path must be a non-empty file path');
    }
    this.path = options.path;
    this.limits = { ...DEFAULT_READ_LIMITS, ...options.reads };
    const synchronous = options.synchronous ?? 'NORMAL';
    this.#writer = new WorkerChannel('berth-sqlite-writer', { role: 'write', path: this.path, synchronous }, () => {
      this.#initialized = false;
    });
    this.#reader = new WorkerChannel('berth-sqlite-reader', { role: 'read', path: this.path, cancel: this.#cancel.buffer as SharedArrayBuffer }, () => undefined);
    // One reader thread: one read at a time there; the rest wait here, where they can be cancelled.
    this.#reads = new ReadQueue(WHAT, 1, this.limits.maxQueued);
  }

  #closedError(): BerthError {
    return new BerthError('BERTH_ERR_STORE_UNAVAILABLE', `${WHAT} is closed`);
  }

  #write<T>(request: SqliteWriteRequest): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.#writer.call<T>(this.#nextId++, request);
  }

  /** A read through the queue; aborting `signal` while it runs flags it for the reader to stop. */
  async #read<T>(request: SqliteReadRequest, signal: AbortSignal | undefined): Promise<T> {
    await this.#ready();
    return this.#reads.run(async (running) => {
      if (this.#closed) throw this.#closedError();
      const id = this.#nextId++;
      const onAbort = (): void => {
        Atomics.store(this.#cancel, 0, id);
      };
      running.addEventListener('abort', onAbort, { once: true });
      try {
        return await this.#reader.call<T>(id, request);
      } finally {
        running.removeEventListener('abort', onAbort);
      }
    }, signal);
  }

  get #budget(): ReadBudget {
    return { maxBytes: this.limits.maxResultBytes, timeoutMs: this.limits.timeoutMs };
  }

  async #ready(): Promise<void> {
    if (!this.#initialized) await this.init();
  }

  async init(): Promise<void> {
    await this.#write({ op: 'init' });
    this.#initialized = true;
  }

  async ping(): Promise<void> {
    await this.#write({ op: 'ping' });
  }

  async probe(): Promise<void> {
    await this.#ready();
    await this.#write({ op: 'probe' });
  }

  readStats(): ReadStats {
    return this.#reads.stats;
  }

  async writeDecisions(records: readonly DecisionRecord[]): Promise<WriteResult> {
    if (records.length === 0) return { inserted: 0, alreadyStored: 0, conflicts: 0, conflictIndexes: [] };
    await this.#ready();
    return this.#write<WriteResult>({ op: 'write', records });
  }

  async attachFeedback(model: string, items: readonly FeedbackItem[]): Promise<{ attached: string[]; unknown: string[] }> {
    const rows = checkFeedback(items, Date.now());
    if (rows.length === 0) return { attached: [], unknown: [] };
    await this.#ready();
    return this.#write({ op: 'feedback', model, rows });
  }

  async attachExplanations(model: string, items: readonly ExplanationItem[]): Promise<{ attached: string[]; unknown: string[] }> {
    const rows = checkExplanations(items);
    if (rows.length === 0) return { attached: [], unknown: [] };
    await this.#ready();
    return this.#write({ op: 'explanations', model, rows });
  }

  async queryDecisions(query: DecisionQuery, options: ReadOptions = {}): Promise<StoredDecision[]> {
    const limit = checkDecisionQuery(query);
    return this.#read({ op: 'query', query, limit, budget: this.#budget }, options.signal);
  }

  async countDecisions(query: Omit<DecisionQuery, 'limit'>, options: ReadOptions = {}): Promise<number> {
    checkDecisionQuery(query);
    return this.#read({ op: 'count', query }, options.signal);
  }

  async storedIds(model: string, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    return new Set(await this.#read<string[]>({ op: 'storedIds', model, ids }, undefined));
  }

  async writePoints(points: readonly TimeSeriesPoint[]): Promise<void> {
    checkPoints(points);
    if (points.length === 0) return;
    await this.#ready();
    await this.#write({ op: 'writePoints', points });
  }

  async queryPoints(query: TimeSeriesQuery, options: ReadOptions = {}): Promise<TimeSeriesPoint[]> {
    const limit = checkPointQuery(query);
    return this.#read({ op: 'queryPoints', query, limit, budget: this.#budget }, options.signal);
  }

  async applyRetention(policy: RetentionPolicy, now: number): Promise<number> {
    await this.#ready();
    return this.#write({ op: 'retention', policy, now });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#reader.started) await this.#reader.call(this.#nextId++, { op: 'close' }).catch(() => undefined);
      if (this.#writer.started) await this.#writer.call(this.#nextId++, { op: 'close' });
    } finally {
      this.#closed = true;
      await this.#reader.terminate();
      await this.#writer.terminate();
    }
  }
}
