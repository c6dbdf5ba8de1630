/**
 * @module store/sqlite-db
 * The SQLite decision log's writing side, synchronous (better-sqlite3): schema, prepared
 * statements, one transaction per batch, feedback, time series, retention, the write probe.
 * It runs inside the store's writer worker thread (sqlite-worker.ts), never on the HTTP
 * thread, because every call blocks the thread it runs on; reads have their own connection
 * in another worker (sqlite-reads.ts), so they never queue in front of a write.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BerthError } from '../errors.js';
import {
  DECISION_COLUMNS, RETENTION_CHUNK, SCHEMA_VERSION, emptyWriteResult, sameDecision, toRow, type DecisionIdentity, type ExplanationRow, type FeedbackRow,
} from './rows.js';
import type { DecisionRecord, RetentionPolicy, TimeSeriesPoint, WriteResult } from './store.js';

/**
 * NORMAL: a committed batch survives the process being killed (the WAL is in the OS's
 * page cache), not a power loss. FULL: the WAL is fsync'd at every commit, so it survives
 * that too: what `store.durability: sync` asks for.
 */
export type SqliteSynchronous = 'NORMAL' | 'FULL';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS berth_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
  model TEXT NOT NULL,
  id TEXT NOT NULL,
  time INTEGER NOT NULL,
  version TEXT NOT NULL,
  inputs TEXT,
  inputs_hash TEXT NOT NULL,
  outputs TEXT NOT NULL,
  latency_ms REAL NOT NULL,
  batch_size INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  flags TEXT NOT NULL,
  pred_label TEXT,
  pred_score REAL,
  pred_value REAL,
  detail TEXT,
  explanation TEXT,
  label TEXT,
  label_time INTEGER,
  PRIMARY KEY (id, model)
);
CREATE INDEX IF NOT EXISTS decisions_model_version_time ON decisions (model, version, time);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (time);
CREATE INDEX IF NOT EXISTS decisions_labelled ON decisions (model, version, time) WHERE label IS NOT NULL;
CREATE TABLE IF NOT EXISTS points (
  time INTEGER NOT NULL,
  metric TEXT NOT NULL,
  model TEXT NOT NULL,
  version TEXT NOT NULL,
  key TEXT NOT NULL,
  value REAL
);
CREATE INDEX IF NOT EXISTS points_series_time ON points (model, version, metric, time);
CREATE INDEX IF NOT EXISTS points_time ON points (time);
`;

export class SqliteDecisionDb {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #identity: Database.Statement;
  readonly #relabel: Database.Statement;
  readonly #exists: Database.Statement;
  readonly #explain: Database.Statement;
  readonly #insertPoint: Database.Statement;
  readonly #probe: Database.Statement;
  readonly #cached = new Map<string, Database.Statement>();
  readonly #writeTx: (records: readonly DecisionRecord[]) => WriteResult;

  constructor(path: string, synchronous: SqliteSynchronous = 'NORMAL') {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    // auto_vacuum takes effect only before the first table exists; it lets retention give
    // pages back to the file system (incremental_vacuum) instead of only reusing them.
    this.#db.pragma('auto_vacuum = INCREMENTAL');
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma(`synchronous = ${synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('cache_size = -16000');
    this.#db.exec(SCHEMA);
    this.#checkSchemaVersion();

    this.#insert = this.#db.prepare(
      `INSERT INTO decisions (${DECISION_COLUMNS.join(', ')}) VALUES (${DECISION_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id, model) DO NOTHING`,
    );
    this.#identity = this.#db.prepare('SELECT version, time, inputs_hash FROM decisions WHERE model = ? AND id = ?');
    this.#relabel = this.#db.prepare('UPDATE decisions SET label = ?, label_time = ? WHERE model = ? AND id = ? AND (label_time IS NULL OR label_time <= ?)');
    this.#exists = this.#db.prepare('SELECT 1 FROM decisions WHERE model = ? AND id = ?').pluck();
    this.#explain = this.#db.prepare('UPDATE decisions SET explanation = ? WHERE model = ? AND id = ?');
    this.#insertPoint = this.#db.prepare('INSERT INTO points (time, metric, model, version, key, value) VALUES (?, ?, ?, ?, ?, ?)');
    this.#probe = this.#db.prepare("INSERT INTO berth_meta (key, value) VALUES ('probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    this.#writeTx = this.#db.transaction((records: readonly DecisionRecord[]) => {
      const result = emptyWriteResult();
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!;
        const row = toRow(r);
        const info = this.#insert.run(
          row.model, row.id, row.time, row.version, row.inputs, row.inputs_hash, row.outputs, row.latency_ms,
          row.batch_size, row.outcome, row.flags, row.pred_label, row.pred_score, row.pred_value, row.detail,
        );
        if (info.changes === 1) result.inserted += 1;
        else if (sameDecision(this.#identity.get(row.model, row.id) as DecisionIdentity, r)) result.alreadyStored += 1;
        else {
          result.conflicts += 1;
          result.conflictIndexes.push(i);
        }
      }
      return result;
    });
  }

  #checkSchemaVersion(): void {
    this.#db.prepare('INSERT INTO berth_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run('schema_version', String(SCHEMA_VERSION));
    const version = Number(this.#db.prepare('SELECT value FROM berth_meta WHERE key = ?').pluck().get('schema_version'));
    if (version > SCHEMA_VERSION) {
      throw new BerthError('BERTH_ERR_STORE_SCHEMA', `the SQLite decision store has schema version ${version}; this Berth knows up to ${SCHEMA_VERSION}`);
    }
    // Version 1 had no detail column: add it (existing rows read back without detail).
    const columns = this.#db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('decisions') as string[];
    if (!columns.includes('detail')) this.#db.exec('ALTER TABLE decisions ADD COLUMN detail TEXT');
    // Version 2 had no explanation column.
    if (!columns.includes('explanation')) this.#db.exec('ALTER TABLE decisions ADD COLUMN explanation TEXT');
    if (version < SCHEMA_VERSION) this.#db.prepare('UPDATE berth_meta SET value = ? WHERE key = ?').run(String(SCHEMA_VERSION), 'schema_version');
  }

  #stmt(sql: string): Database.Statement {
    return cachedStatement(this.#db, this.#cached, sql);
  }

  ping(): void {
    this.#db.prepare('SELECT 1').get();
  }

  /** A committed write: fails on a full or read-only disk, where SELECT 1 would not. */
  probe(): void {
    this.#probe.run(String(Date.now()));
  }

  writeDecisions(records: readonly DecisionRecord[]): WriteResult {
    return this.#writeTx(records);
  }

  attachFeedback(model: string, rows: readonly FeedbackRow[]): { attached: string[]; unknown: string[] } {
    return this.#db.transaction(() => {
      const attached: string[] = [];
      const unknown: string[] = [];
      for (const f of rows) {
        const changed = this.#relabel.run(f.label, f.time, model, f.id, f.time).changes === 1;
        if (changed || this.#exists.get(model, f.id) !== undefined) attached.push(f.id);
        else unknown.push(f.id);
      }
      return { attached, unknown };
    })();
  }

  attachExplanations(model: string, rows: readonly ExplanationRow[]): { attached: string[]; unknown: string[] } {
    return this.#db.transaction(() => {
      const attached: string[] = [];
      const unknown: string[] = [];
      for (const e of rows) (this.#explain.run(e.explanation, model, e.id).changes === 1 ? attached : unknown).push(e.id);
      return { attached, unknown };
    })();
  }

  writePoints(points: readonly TimeSeriesPoint[]): void {
    this.#db.transaction(() => {
      for (const p of points) this.#insertPoint.run(Math.trunc(p.time), p.metric, p.model, p.version, p.key, p.value);
    })();
  }

  /**
   * One step of retention: deletes at most RETENTION_CHUNK rows and says whether more
   * remain, so the worker can answer other messages between steps.
   */
  retentionStep(policy: RetentionPolicy, now: number): { decisions: number; points: number; done: boolean } {
    let decisions = 0;
    let points = 0;
    if (policy.maxAgeMs > 0) {
      const cutoff = Math.trunc(now - policy.maxAgeMs);
      decisions += this.#stmt(`DELETE FROM decisions WHERE rowid IN (SELECT rowid FROM decisions WHERE time < ? LIMIT ${RETENTION_CHUNK})`).run(cutoff).changes;
      points += this.#stmt(`DELETE FROM points WHERE rowid IN (SELECT rowid FROM points WHERE time < ? LIMIT ${RETENTION_CHUNK})`).run(cutoff).changes;
    }
    if (policy.maxDecisions > 0 && decisions < RETENTION_CHUNK) {
      // The newest maxDecisions rows by (time, model, id) stay; everything at or below the next one goes.
      const edge = this.#stmt('SELECT time, model, id FROM decisions ORDER BY time DESC, model DESC, id DESC LIMIT 1 OFFSET ?')
        .get(policy.maxDecisions) as { time: number; model: string; id: string } | undefined;
      if (edge !== undefined) {
        // Older than the edge (a range on the time index), then the edge's own time, up to it.
        decisions += this.#stmt(`DELETE FROM decisions WHERE rowid IN (SELECT rowid FROM decisions WHERE time < ? LIMIT ${RETENTION_CHUNK})`).run(edge.time).changes;
        if (decisions < RETENTION_CHUNK) {
          decisions += this.#stmt('DELETE FROM decisions WHERE time = ? AND (model, id) <= (?, ?)').run(edge.time, edge.model, edge.id).changes;
        }
      }
    }
    const done = decisions < RETENTION_CHUNK && points < RETENTION_CHUNK;
    if (done) this.#db.pragma('incremental_vacuum');
    return { decisions, points, done };
  }

  close(): void {
    this.#db.close();
  }
}

/** A prepared statement, prepared once per connection and kept in `cache` (both connections use it). */
export function cachedStatement(db: Database.Database, cache: Map<string, Database.Statement>, sql: string): Database.Statement {
  let s = cache.get(sql);
  if (s === undefined) {
    s = db.prepare(sql);
    cache.set(sql, s);
  }
  return s;
}
