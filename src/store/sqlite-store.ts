/**
 * @module store/sqlite-store
 * The embedded default store: one SQLite file (WAL) in the data directory, driven through
 * a dedicated worker thread (sqlite-worker.ts) because better-sqlite3 is synchronous. This
 * object lives on the HTTP thread and only posts messages; a worker that dies is started
 * again on the next call.
 */
import type { Worker } from 'node:worker_threads';
import { BerthError, type ErrorCode } from '../errors.js';
import { siblingModuleUrl, startWorker } from '../runtime/start-worker.js';
import { checkDecisionQuery, checkFeedback, checkPointQuery, checkPoints } from './rows.js';
import type { FromSqliteWorker, SqliteErrorPayload, SqliteRequest } from './sqlite-messages.js';
import type {
  DecisionQuery, DecisionRecord, FeedbackItem, PredictionStore, RetentionPolicy, StoredDecision, TimeSeriesPoint,
  TimeSeriesQuery, WriteResult,
} from './store.js';

export interface SqliteStoreOptions {
  /** The database file; its directory is created if missing. */
  path: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

function errorOf(e: SqliteErrorPayload, path: string): BerthError {
  if (e.kind === 'berth') return new BerthError(e.code as ErrorCode, e.message);
  const code: ErrorCode = e.kind === 'rejected' ? 'BERTH_ERR_STORE_REJECTED' : 'BERTH_ERR_STORE_UNAVAILABLE';
  return new BerthError(code, `SQLite store ${path}: ${e.message}${e.code === undefined ? '' : ` (${e.code})`}`);
}

export class SqliteStore implements PredictionStore {
  readonly kind = 'sqlite';
  readonly path: string;
  #worker: Worker | null = null;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #initialized = false;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    if (typeof options.path !== 'string' || options.path === '') {
      throw new BerthError('BERTH_ERR_STORE_CONFIG', 'sqlite store: path must be a non-empty file path');
    }
    this.path = options.path;
  }

  #start(): Worker {
    const worker = startWorker(siblingModuleUrl('sqlite-worker', import.meta.url), 'berth-sqlite-store', { path: this.path });
    worker.on('message', (msg: FromSqliteWorker) => {
      const p = this.#pending.get(msg.id);
      if (p === undefined) return;
      this.#pending.delete(msg.id);
      if (this.#pending.size === 0) worker.unref();
      if (msg.ok) p.resolve(msg.result);
      else p.reject(errorOf(msg.error, this.path));
    });
    const lost = (reason: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      this.#initialized = false;
      const pending = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of pending) p.reject(new BerthError('BERTH_ERR_STORE_UNAVAILABLE', `SQLite store ${this.path}: worker thread ${reason}`));
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    return worker;
  }

  #call<T>(request: SqliteRequest): Promise<T> {
    if (this.#closed) return Promise.reject(new BerthError('BERTH_ERR_STORE_UNAVAILABLE', `SQLite store ${this.path} is closed`));
    this.#worker ??= this.#start();
    const worker = this.#worker;
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.ref();
      worker.postMessage({ ...request, id });
    });
  }

  async #ready(): Promise<void> {
    if (!this.#initialized) await this.init();
  }

  async init(): Promise<void> {
    await this.#call({ op: 'init' });
    this.#initialized = true;
  }

  async ping(): Promise<void> {
    await this.#call({ op: 'ping' });
  }

  async writeDecisions(records: readonly DecisionRecord[]): Promise<WriteResult> {
    if (records.length === 0) return { inserted: 0, alreadyStored: 0, conflicts: 0 };
    await this.#ready();
    return this.#call<WriteResult>({ op: 'write', records });
  }

  async attachFeedback(model: string, items: readonly FeedbackItem[]): Promise<{ attached: string[]; unknown: string[] }> {
    const rows = checkFeedback(items, Date.now());
    if (rows.length === 0) return { attached: [], unknown: [] };
    await this.#ready();
    return this.#call({ op: 'feedback', model, rows });
  }

  async queryDecisions(query: DecisionQuery): Promise<StoredDecision[]> {
    const limit = checkDecisionQuery(query);
    await this.#ready();
    return this.#call({ op: 'query', query, limit });
  }

  async countDecisions(query: Omit<DecisionQuery, 'limit'>): Promise<number> {
    checkDecisionQuery(query);
    await this.#ready();
    return this.#call({ op: 'count', query });
  }

  async writePoints(points: readonly TimeSeriesPoint[]): Promise<void> {
    checkPoints(points);
    if (points.length === 0) return;
    await this.#ready();
    await this.#call({ op: 'writePoints', points });
  }

  async queryPoints(query: TimeSeriesQuery): Promise<TimeSeriesPoint[]> {
    const limit = checkPointQuery(query);
    await this.#ready();
    return this.#call({ op: 'queryPoints', query, limit });
  }

  async applyRetention(policy: RetentionPolicy, now: number): Promise<number> {
    await this.#ready();
    return this.#call({ op: 'retention', policy, now });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const worker = this.#worker;
    if (worker !== null) {
      try {
        await this.#call({ op: 'close' });
      } finally {
        this.#closed = true;
        this.#worker = null;
        await worker.terminate();
      }
    }
    this.#closed = true;
  }
}
