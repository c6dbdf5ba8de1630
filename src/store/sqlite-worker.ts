/**
 * @module store/sqlite-worker
 * Body of the SQLite store's worker threads. The writer owns the connection that writes
 * (better-sqlite3 is synchronous, so a 500-row transaction blocks this thread, never the
 * HTTP one); retention runs in chunks with a turn of the event loop between them, so writes
 * are not held up behind a large purge. The reader owns a query-only connection and answers
 * queries one at a time, stopping between rows when the store flags the query as cancelled.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isBerthError } from '../errors.js';
import { SqliteDecisionDb } from './sqlite-db.js';
import { SqliteReadDb } from './sqlite-reads.js';
import type { SqliteErrorPayload, SqliteReadRequest, SqliteWorkerData, SqliteWriteRequest, ToSqliteWorker } from './sqlite-messages.js';

if (parentPort === null) throw new Error('sqlite-worker must run in a worker thread');
const port = parentPort;
const data = workerData as SqliteWorkerData;

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

let writer: SqliteDecisionDb | null = null;
const openWriter = (): SqliteDecisionDb => (writer ??= new SqliteDecisionDb(data.path, data.role === 'write' ? data.synchronous : 'NORMAL'));

async function write(msg: SqliteWriteRequest): Promise<unknown> {
  switch (msg.op) {
    case 'init':
      if (writer === null) openWriter();
      else writer.ping();
      return null;
    case 'ping':
      openWriter().ping();
      return null;
    case 'probe':
      openWriter().probe();
      return null;
    case 'write':
      return openWriter().writeDecisions(msg.records);
    case 'feedback':
      return openWriter().attachFeedback(msg.model, msg.rows);
    case 'explanations':
      return openWriter().attachExplanations(msg.model, msg.rows);
    case 'writePoints':
      openWriter().writePoints(msg.points);
      return null;
    case 'retention': {
      let deleted = 0;
      for (;;) {
        const step = openWriter().retentionStep(msg.policy, msg.now);
        deleted += step.decisions;
        if (step.done) return deleted;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    case 'close':
      writer?.close();
      writer = null;
      return null;
  }
}

let reader: SqliteReadDb | null = null;
const openReader = (): SqliteReadDb => (reader ??= new SqliteReadDb(data.path));
const cancelFlag = data.role === 'read' ? new Int32Array(data.cancel) : new Int32Array(1);

function read(msg: SqliteReadRequest & { id: number }): unknown {
  const cancelled = (): boolean => Atomics.load(cancelFlag, 0) === msg.id;
  switch (msg.op) {
    case 'query':
      return openReader().queryDecisions(msg.query, msg.limit, msg.budget, cancelled);
    case 'count':
      return openReader().countDecisions(msg.query);
    case 'queryPoints':
      return openReader().queryPoints(msg.query, msg.limit, msg.budget, cancelled);
    case 'storedIds':
      return openReader().storedIds(msg.model, msg.ids);
    case 'close':
      reader?.close();
      reader = null;
      return null;
  }
}

port.on('message', (msg: ToSqliteWorker) => {
  const work = data.role === 'read'
    ? Promise.resolve().then(() => read(msg as SqliteReadRequest & { id: number }))
    : write(msg as SqliteWriteRequest);
  work.then(
    (result) => port.postMessage({ id: msg.id, ok: true, result }),
    (err: unknown) => port.postMessage({ id: msg.id, ok: false, error: payloadOf(err, msg.op) }),
  );
});
