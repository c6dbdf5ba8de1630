/**
 * @module store/sqlite-reads
 * The SQLite decision log's reading side: its own connection (query_only), in its own worker
 * thread, so reads never wait in front of a write (WAL lets one writer and readers run at
 * once). Rows are read one by one (statement iteration), so a read stops between rows when
 * it is cancelled, runs out of time, or its tensors pass the result-size cap, instead of
 * materializing everything first.
 */
import Database from 'better-sqlite3';
import {
  decisionColumns, decisionWhere, fromRow, pointFromRow, pointWhere, queryCancelled, tensorBytes, tooManyBytes, tooSlow,
  type ReadBudget, type ReadRow,
} from './rows.js';
import { cachedStatement } from './sqlite-db.js';
import type { DecisionQuery, StoredDecision, TimeSeriesPoint, TimeSeriesQuery } from './store.js';

const ph = (): string => '?';
/** Rows between checks of the cancel flag and the clock. */
const CHECK_EVERY = 32;

/** Asked between rows: has the caller cancelled this read? */
export type Cancelled = () => boolean;

export class SqliteReadDb {
  readonly #db: Database.Database;
  readonly #cached = new Map<string, Database.Statement>();

  /** Opens an existing database (the writer creates it and its schema first). */
  constructor(path: string) {
    this.#db = new Database(path, { fileMustExist: true });
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('query_only = ON');
    this.#db.pragma('cache_size = -16000');
  }

  #stmt(sql: string): Database.Statement {
    return cachedStatement(this.#db, this.#cached, sql);
  }

  /** Throws when the read was cancelled or its time is up; called every CHECK_EVERY rows. */
  #check(cancelled: Cancelled, deadline: number, limit: number, budget: ReadBudget, read: number): void {
    if (cancelled()) throw queryCancelled('the SQLite decision store', `stopped after reading ${read} of up to ${limit} rows`);
    if (performance.now() > deadline) throw tooSlow(limit, budget.timeoutMs);
  }

  queryDecisions(q: DecisionQuery, limit: number, budget: ReadBudget, cancelled: Cancelled): StoredDecision[] {
    const deadline = performance.now() + budget.timeoutMs;
    const where = decisionWhere(q, ph);
    const columns = decisionColumns(q, 'NULL', "'[]'");
    const stmt = this.#stmt(`SELECT ${columns} FROM decisions ${where.sql} ORDER BY time DESC, id DESC LIMIT ${limit}`);
    const out: StoredDecision[] = [];
    let bytes = 0;
    for (const row of stmt.iterate(...where.params) as IterableIterator<ReadRow>) {
      bytes += tensorBytes(row.inputs, row.outputs);
      if (bytes > budget.maxBytes) throw tooManyBytes(limit, out.length, budget.maxBytes);
      out.push(fromRow(row, true));
      if (out.length % CHECK_EVERY === 0) this.#check(cancelled, deadline, limit, budget, out.length);
    }
    return out;
  }

  /** One statement: not interruptible between rows, but it reads only the indexes. */
  countDecisions(q: Omit<DecisionQuery, 'limit'>): number {
    const where = decisionWhere(q, ph);
    return this.#stmt(`SELECT count(*) FROM decisions ${where.sql}`).pluck().get(...where.params) as number;
  }

  queryPoints(q: TimeSeriesQuery, limit: number, budget: ReadBudget, cancelled: Cancelled): TimeSeriesPoint[] {
    const deadline = performance.now() + budget.timeoutMs;
    const where = pointWhere(q, ph);
    const stmt = this.#stmt(`SELECT time, metric, model, version, key, value FROM points ${where.sql} ORDER BY time ASC LIMIT ${limit}`);
    const out: TimeSeriesPoint[] = [];
    for (const row of stmt.iterate(...where.params) as IterableIterator<Parameters<typeof pointFromRow>[0]>) {
      out.push(pointFromRow(row));
      if (out.length % (CHECK_EVERY * 32) === 0) this.#check(cancelled, deadline, limit, budget, out.length);
    }
    return out;
  }

  storedIds(model: string, ids: readonly string[]): string[] {
    return this.#stmt('SELECT id FROM decisions WHERE model = ? AND id IN (SELECT value FROM json_each(?))').pluck().all(model, JSON.stringify(ids)) as string[];
  }

  close(): void {
    this.#db.close();
  }
}
