/**
 * @module store/sqlite-worker
 * Body of the SQLite store's worker thread: owns the better-sqlite3 connection and answers
 * the store's messages one at a time, so a 500-row transaction blocks this thread, never
 * the HTTP one. Retention runs in chunks with a turn of the event loop between them, so
 * writes are not held up behind a large purge.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isBerthError } from '../errors.js';
import { SqliteDecisionDb } from './sqlite-db.js';
import type { SqliteErrorPayload, ToSqliteWorker } from './sqlite-messages.js';

if (parentPort === null) throw new Error('sqlite-worker must run in a worker thread');
const port = parentPort;
const path = (workerData as { path: string }).path;
let db: SqliteDecisionDb | null = null;

function open(): SqliteDecisionDb {
  db ??= new SqliteDecisionDb(path);
  return db;
}

/** Content errors (constraint, too big, unbindable value) cannot succeed on retry; anything else might. */
function payloadOf(err: unknown, op: ToSqliteWorker['op']): SqliteErrorPayload {
  const message = err instanceof Error ? err.message : String(err);
  if (isBerthError(err)) return { kind: 'berth', code: err.code, message };
  const code = (err as { code?: unknown }).code;
  const sqliteCode = typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
  if (sqliteCode !== undefined) {
    const content = sqliteCode.startsWith('SQLITE_CONSTRAINT') || sqliteCode === 'SQLITE_TOOBIG' || sqliteCode === 'SQLITE_MISMATCH';
    return { kind: content ? 'rejected' : 'unavailable', code: sqliteCode, message };
  }
  // A TypeError/RangeError from binding or JSON-encoding a record is about the record's content.
  return { kind: op === 'write' ? 'rejected' : 'unavailable', message };
}

async function handle(msg: ToSqliteWorker): Promise<unknown> {
  switch (msg.op) {
    case 'init':
      if (db === null) open();
      else db.ping();
      return null;
    case 'ping':
      open().ping();
      return null;
    case 'write':
      return open().writeDecisions(msg.records);
    case 'feedback':
      return open().attachFeedback(msg.model, msg.rows);
    case 'query':
      return open().queryDecisions(msg.query, msg.limit);
    case 'count':
      return open().countDecisions(msg.query);
    case 'writePoints':
      open().writePoints(msg.points);
      return null;
    case 'queryPoints':
      return open().queryPoints(msg.query, msg.limit);
    case 'retention': {
      let deleted = 0;
      for (;;) {
        const step = open().retentionStep(msg.policy, msg.now);
        deleted += step.decisions;
        if (step.done) return deleted;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    case 'close':
      db?.close();
      db = null;
      return null;
  }
}

port.on('message', (msg: ToSqliteWorker) => {
  handle(msg).then(
    (result) => port.postMessage({ id: msg.id, ok: true, result }),
    (err: unknown) => port.postMessage({ id: msg.id, ok: false, error: payloadOf(err, msg.op) }),
  );
});
