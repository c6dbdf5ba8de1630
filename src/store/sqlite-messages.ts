/**
 * @module store/sqlite-messages
 * The messages between the SQLite store (HTTP thread) and its worker thread.
 */
import type { FeedbackRow } from './rows.js';
import type { DecisionQuery, DecisionRecord, RetentionPolicy, TimeSeriesPoint, TimeSeriesQuery } from './store.js';

export type SqliteRequest =
  | { op: 'init' }
  | { op: 'ping' }
  | { op: 'write'; records: readonly DecisionRecord[] }
  | { op: 'feedback'; model: string; rows: readonly FeedbackRow[] }
  | { op: 'query'; query: DecisionQuery; limit: number }
  | { op: 'count'; query: Omit<DecisionQuery, 'limit'> }
  | { op: 'writePoints'; points: readonly TimeSeriesPoint[] }
  | { op: 'queryPoints'; query: TimeSeriesQuery; limit: number }
  | { op: 'retention'; policy: RetentionPolicy; now: number }
  | { op: 'close' };

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
