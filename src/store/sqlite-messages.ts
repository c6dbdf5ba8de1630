/**
 * @module store/sqlite-messages
 * The messages between the SQLite store (HTTP thread) and its two worker threads: the
 * writer (schema, decisions, feedback, explanations, time series, retention, probe) and the reader
 * (queries). A running read is cancelled through a shared Int32Array: the store writes
 * the read's message id into `cancel[0]`, the reader checks it between rows.
 */
import type { SqliteSynchronous } from './sqlite-db.js';
import type { ExplanationRow, FeedbackRow, ReadBudget } from './rows.js';
import type { DecisionQuery, DecisionRecord, RetentionPolicy, TimeSeriesPoint, TimeSeriesQuery } from './store.js';

export type SqliteWorkerData =
  | { role: 'write'; path: string; synchronous: SqliteSynchronous }
  | { role: 'read'; path: string; cancel: SharedArrayBuffer };

export type SqliteWriteRequest =
  | { op: 'init' }
  | { op: 'ping' }
  | { op: 'probe' }
  | { op: 'write'; records: readonly DecisionRecord[] }
  | { op: 'feedback'; model: string; rows: readonly FeedbackRow[] }
  | { op: 'explanations'; model: string; rows: readonly ExplanationRow[] }
  | { op: 'writePoints'; points: readonly TimeSeriesPoint[] }
  | { op: 'retention'; policy: RetentionPolicy; now: number }
  | { op: 'close' };

export type SqliteReadRequest =
  | { op: 'query'; query: DecisionQuery; limit: number; budget: ReadBudget }
  | { op: 'count'; query: Omit<DecisionQuery, 'limit'> }
  | { op: 'queryPoints'; query: TimeSeriesQuery; limit: number; budget: ReadBudget }
  | { op: 'storedIds'; model: string; ids: readonly string[] }
  | { op: 'close' };

export type SqliteRequest = SqliteWriteRequest | SqliteReadRequest;

export type ToSqliteWorker = SqliteRequest & { id: number };

/** kind 'rejected': the content was refused (retrying cannot help); 'unavailable': the database failed; 'berth': a BerthError passed through. */
export interface SqliteErrorPayload {
  kind: 'rejected' | 'unavailable' | 'berth';
  code?: string;
  message: string;
}

export type FromSqliteWorker =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: SqliteErrorPayload };
