/**
 * @module store/rows
 * What both store implementations share: records ↔ column values, tensors to JSON (typed
 * arrays included), query and feedback validation, and telling a replay from a reused id.
 * Keeping it in one place is what makes the SQLite and PostgreSQL stores answer alike.
 */
import { BerthError } from '../errors.js';
import { canonicalArrayOf } from './hash.js';
import type { DecisionQuery, DecisionRecord, ExplanationItem, FeedbackItem, StoredDecision, TimeSeriesPoint, TimeSeriesQuery, WriteResult } from './store.js';

/** The schema version both stores create; a database with a higher one is refused. */
/**
 * 2: the `detail` column (raw record, pipeline, anomaly flags, reason) was added; 3: the
 * `explanation` column (explain/decision-explainer). Older tables are migrated in place.
 */
export const SCHEMA_VERSION = 3;

export const DEFAULT_DECISION_LIMIT = 100;
export const MAX_DECISION_LIMIT = 10_000;
export const DEFAULT_POINT_LIMIT = 10_000;
export const MAX_POINT_LIMIT = 100_000;
/** Rows deleted per statement by retention, so a large purge never holds a lock for long. */
export const RETENTION_CHUNK = 5_000;

/** The decisions columns, in insert order. */
export const DECISION_COLUMNS = [
  'model', 'id', 'time', 'version', 'inputs', 'inputs_hash', 'outputs', 'latency_ms',
  'batch_size', 'outcome', 'flags', 'pred_label', 'pred_score', 'pred_value', 'detail',
] as const;

/** One decision as column values; JSON columns hold JSON text. */
export interface DecisionRow {
  model: string;
  id: string;
  time: number;
  version: string;
  inputs: string | null;
  inputs_hash: string;
  outputs: string;
  latency_ms: number;
  batch_size: number;
  outcome: string;
  flags: string;
  pred_label: string | null;
  pred_score: number | null;
  pred_value: number | null;
  detail: string | null;
}

/** Integer milliseconds: both databases keep time as a 64-bit integer. */
export function timeMs(t: number): number {
  return Math.trunc(t);
}

function plainData(data: ArrayBufferView): unknown[] {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    // Exact as a number when it fits, else as a decimal string (JSON has no 64-bit integers).
    return Array.from(data as Iterable<bigint>, (v) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : String(v)));
  }
  return Array.from(data as unknown as ArrayLike<number>);
}

function isTypedArray(v: unknown): v is ArrayBufferView {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

/**
 * Tensors with every typed-array `data` replaced by a plain array, so JSON.stringify writes
 * a JSON array (it would write a Float32Array as an object). The input array itself when no
 * tensor needs it, so the common case allocates nothing.
 */
export function plainTensors(tensors: readonly unknown[]): readonly unknown[] {
  let out: unknown[] | null = null;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    if (t !== null && typeof t === 'object' && isTypedArray((t as { data?: unknown }).data)) {
      out ??= tensors.slice();
      out[i] = { ...(t as object), data: plainData((t as { data: ArrayBufferView }).data) };
    }
  }
  return out ?? tensors;
}

/**
 * The tensors as stored: a typed array in its datatype's own encoding (what the server
 * holds: Float32Array for FP32, BigInt64Array for INT64, …) is written as `data_base64`, its
 * little-endian bytes in base64 — about 6× faster to write and 3× smaller than a JSON array
 * of float32 values printed as doubles; readTensors turns it back into `data`. Anything else
 * is written as a JSON array.
 */
export function tensorsJson(tensors: readonly unknown[]): string {
  let json = '[';
  for (let i = 0; i < tensors.length; i++) {
    if (i > 0) json += ',';
    json += tensorJson(tensors[i]);
  }
  return `${json}]`;
}

/** One tensor as stored (see tensorsJson); written by hand, as this runs for every logged decision. */
function tensorJson(t: unknown): string {
  if (t === null || typeof t !== 'object' || !isTypedArray((t as { data?: unknown }).data)) return JSON.stringify(t) ?? 'null';
  const { data, datatype } = t as { data: ArrayBufferView; datatype?: unknown };
  const cls = typeof datatype === 'string' ? canonicalArrayOf(datatype) : undefined;
  let json = '{';
  for (const [k, v] of Object.entries(t)) {
    const value = k === 'data' ? undefined : JSON.stringify(v);
    if (value !== undefined) json += `${JSON.stringify(k)}:${value},`;
  }
  if (cls !== undefined && data instanceof cls) return `${json}"data_base64":"${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')}"}`;
  return `${json}"data":${JSON.stringify(plainData(data))}}`;
}

/** Stored tensors back to V2 JSON tensors: `data_base64` becomes the `data` array it stands for. */
function readTensors(tensors: unknown): unknown {
  if (!Array.isArray(tensors)) return tensors;
  return tensors.map((t: unknown) => {
    if (t === null || typeof t !== 'object' || typeof (t as { data_base64?: unknown }).data_base64 !== 'string') return t;
    const { data_base64: b64, ...rest } = t as { data_base64: string; datatype?: unknown };
    const cls = typeof rest.datatype === 'string' ? canonicalArrayOf(rest.datatype) : undefined;
    if (cls === undefined) return t;
    const bytes = Buffer.from(b64, 'base64');
    // A copy at offset 0: Buffer.from may return a view at an offset the element size does not divide.
    const aligned = new Uint8Array(bytes).buffer;
    const view = new cls(aligned, 0, aligned.byteLength / ((cls as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT));
    return { ...rest, data: plainData(view) };
  });
}

/** The record as one JSON value (the spool's line format), typed arrays written as arrays. */
export function recordJson(r: DecisionRecord): string {
  return JSON.stringify({ ...r, inputs: r.inputs === null ? null : plainTensors(r.inputs), outputs: plainTensors(r.outputs) });
}

export function labelJson(label: string | number | undefined): string | null {
  return label === undefined ? null : JSON.stringify(label);
}

export function toRow(r: DecisionRecord): DecisionRow {
  const p = r.prediction;
  return {
    model: r.model,
    id: r.id,
    time: timeMs(r.time),
    version: r.version,
    inputs: r.inputs === null ? null : tensorsJson(r.inputs),
    inputs_hash: r.inputsHash,
    outputs: tensorsJson(r.outputs),
    latency_ms: r.latencyMs,
    batch_size: r.batchSize,
    outcome: r.outcome,
    flags: JSON.stringify(r.flags),
    pred_label: labelJson(p?.label),
    pred_score: p?.score ?? null,
    pred_value: p?.value ?? null,
    detail: r.detail === undefined ? null : JSON.stringify(r.detail),
  };
}

/** The identity of a stored decision: equal for a replay of the same decision, different for a reused id. */
export interface DecisionIdentity {
  version: string;
  time: number;
  inputs_hash: string;
}

export function sameDecision(stored: DecisionIdentity, r: DecisionRecord): boolean {
  return stored.version === r.version && Number(stored.time) === timeMs(r.time) && stored.inputs_hash === r.inputsHash;
}

export function emptyWriteResult(): WriteResult {
  return { inserted: 0, alreadyStored: 0, conflicts: 0, conflictIndexes: [] };
}

/** A row read back; JSON columns arrive as text (SQLite) or already parsed (PostgreSQL jsonb). */
export interface ReadRow {
  model: string;
  id: string;
  time: number | string;
  version: string;
  inputs: unknown;
  inputs_hash: string;
  outputs: unknown;
  latency_ms: number;
  batch_size: number;
  outcome: string;
  flags: unknown;
  pred_label: unknown;
  pred_score: number | null;
  pred_value: number | null;
  detail?: unknown;
  explanation?: unknown;
  label: unknown;
  label_time: number | string | null;
}

export function fromRow(row: ReadRow, parseJson: boolean): StoredDecision {
  const json = parseJson ? (v: unknown) => (v === null ? null : JSON.parse(v as string) as unknown) : (v: unknown) => v;
  const d: StoredDecision = {
    id: row.id,
    time: Number(row.time),
    model: row.model,
    version: row.version,
    inputs: readTensors(json(row.inputs)) as unknown[] | null,
    inputsHash: row.inputs_hash,
    outputs: readTensors(json(row.outputs)) as unknown[],
    latencyMs: row.latency_ms,
    batchSize: row.batch_size,
    outcome: row.outcome,
    flags: json(row.flags) as string[],
  };
  const predLabel = json(row.pred_label) as string | number | null;
  if (predLabel !== null || row.pred_score !== null || row.pred_value !== null) {
    const prediction: NonNullable<DecisionRecord['prediction']> = {};
    if (predLabel !== null) prediction.label = predLabel;
    if (row.pred_score !== null) prediction.score = row.pred_score;
    if (row.pred_value !== null) prediction.value = row.pred_value;
    d.prediction = prediction;
  }
  const detail = row.detail === undefined ? null : json(row.detail);
  if (detail !== null) d.detail = detail as NonNullable<DecisionRecord['detail']>;
  const explanation = row.explanation === undefined ? null : json(row.explanation);
  if (explanation !== null) d.explanation = explanation as Record<string, unknown>;
  const label = json(row.label) as string | number | null;
  if (label !== null) d.label = label;
  if (row.label_time !== null) d.labelTime = Number(row.label_time);
  return d;
}

/** A point value as stored: SQLite turns NaN into NULL, so NULL reads back as NaN. */
export function pointFromRow(row: { time: number | string; metric: string; model: string; version: string; key: string; value: number | null }): TimeSeriesPoint {
  return { time: Number(row.time), metric: row.metric, model: row.model, version: row.version, key: row.key, value: row.value ?? Number.NaN };
}

function invalid(message: string): BerthError {
  return new BerthError('BERTH_ERR_STORE_INVALID_QUERY', message);
}

function checkLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) throw invalid(`limit: expected a positive integer, got ${String(limit)}`);
  return Math.min(limit, max);
}

function checkTime(name: string, t: number | undefined): void {
  if (t !== undefined && !Number.isFinite(t)) throw invalid(`${name}: expected a time in ms since the epoch, got ${String(t)}`);
}

/** Filters that must be strings: anything else (an array from a repeated URL parameter) would reach the database as a bind error. */
function checkStrings(q: object, keys: readonly string[]): void {
  for (const k of keys) {
    const v = (q as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'string') throw invalid(`${k}: expected one string, got ${Array.isArray(v) ? `${v.length} values` : typeof v}`);
  }
}

export function checkDecisionQuery(q: DecisionQuery): number {
  checkStrings(q, ['model', 'version', 'id', 'outcome']);
  checkTime('since', q.since);
  checkTime('until', q.until);
  return checkLimit(q.limit, DEFAULT_DECISION_LIMIT, MAX_DECISION_LIMIT);
}

export function checkPointQuery(q: TimeSeriesQuery): number {
  checkStrings(q, ['model', 'version', 'metric', 'key']);
  checkTime('since', q.since);
  checkTime('until', q.until);
  return checkLimit(q.limit, DEFAULT_POINT_LIMIT, MAX_POINT_LIMIT);
}

/** What a running read may still spend; checked between rows (SQLite) or in SQL (PostgreSQL). */
export interface ReadBudget {
  /** Tensor bytes (as stored) a decision query may return. */
  maxBytes: number;
  timeoutMs: number;
}

/** The stored size of a row's tensors: what the result-size cap counts. */
export function tensorBytes(inputs: unknown, outputs: unknown): number {
  return (typeof inputs === 'string' ? inputs.length : 0) + (typeof outputs === 'string' ? outputs.length : 0);
}

const mib = (n: number): string => `${Math.round((n / 1048576) * 10) / 10} MiB`;

/** The refusal of a decision query whose tensors exceed the cap; says how many decisions fit. */
export function tooManyBytes(limit: number, fitted: number, maxBytes: number): BerthError {
  return new BerthError(
    'BERTH_ERR_QUERY_TOO_COSTLY',
    `limit: the ${limit} decisions asked for hold more than ${mib(maxBytes)} of tensors (store.queries.maxResultBytes); the newest ${fitted} fit: ask for limit=${Math.max(1, fitted)} or fewer, or narrow the filters (model, version, since, until)`,
  );
}

/** The refusal of a read that ran out of time. */
export function tooSlow(limit: number, timeoutMs: number): BerthError {
  return new BerthError(
    'BERTH_ERR_QUERY_TOO_COSTLY',
    `limit: the query for ${limit} rows ran longer than store.queries.timeoutMs (${timeoutMs} ms) and was stopped; lower limit or narrow the filters (model, version, since, until)`,
  );
}

/** `detail` says how far it got; `cause` is what stopping it raised (e.g. PostgreSQL's 57014). */
export function queryCancelled(what: string, detail?: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_ERR_QUERY_CANCELLED', `a query of ${what} was cancelled: its client went away${detail === undefined ? '' : ` (${detail})`}`, cause === undefined ? {} : { cause });
}

export function checkPoints(points: readonly TimeSeriesPoint[]): void {
  points.forEach((p, i) => {
    if (!Number.isFinite(p.time)) throw invalid(`point ${i}: time must be a finite number, got ${String(p.time)}`);
    for (const k of ['metric', 'model', 'version', 'key'] as const) {
      if (typeof p[k] !== 'string') throw invalid(`point ${i}: ${k} must be a string`);
    }
    if (typeof p.value !== 'number') throw invalid(`point ${i}: value must be a number`);
  });
}

/** An explanation ready to write: the decision's id and the explanation as JSON text. */
export interface ExplanationRow {
  id: string;
  explanation: string;
}

/** Explanations as stored: an id and a JSON object each; the last one per id wins. */
export function checkExplanations(items: readonly ExplanationItem[]): ExplanationRow[] {
  const byId = new Map<string, ExplanationRow>();
  items.forEach((item, i) => {
    if (typeof item?.id !== 'string' || item.id === '') throw invalid(`explanation ${i}: id must be a non-empty string`);
    if (item.explanation === null || typeof item.explanation !== 'object' || Array.isArray(item.explanation)) throw invalid(`explanation ${i} (id '${item.id}'): explanation must be a JSON object`);
    byId.set(item.id, { id: item.id, explanation: JSON.stringify(item.explanation) });
  });
  return [...byId.values()];
}

/** A feedback item ready to write: the newest label per id. */
export interface FeedbackRow {
  id: string;
  label: string;
  time: number;
}

/**
 * Validates feedback and keeps one item per id: the one with the latest time (the later
 * item on a tie), which is also what the stores keep across calls.
 */
export function checkFeedback(items: readonly FeedbackItem[], now: number): FeedbackRow[] {
  const byId = new Map<string, FeedbackRow>();
  items.forEach((item, i) => {
    if (typeof item.id !== 'string' || item.id === '') throw invalid(`feedback ${i}: id must be a non-empty string`);
    const ok = typeof item.label === 'string' || (typeof item.label === 'number' && Number.isFinite(item.label));
    if (!ok) throw invalid(`feedback ${i} (id '${item.id}'): label must be a finite number or a string, got ${JSON.stringify(item.label) ?? String(item.label)}`);
    if (item.time !== undefined && !Number.isFinite(item.time)) throw invalid(`feedback ${i} (id '${item.id}'): time must be ms since the epoch`);
    const row = { id: item.id, label: JSON.stringify(item.label), time: timeMs(item.time ?? now) };
    const prev = byId.get(item.id);
    if (prev === undefined || row.time >= prev.time) byId.set(item.id, row);
  });
  return [...byId.values()];
}

/** The select list of a decision query: every column, or all but the tensors (`payload: false`). */
export function decisionColumns(q: DecisionQuery, emptyInputs: string, emptyOutputs: string): string {
  if (q.payload !== false) return '*';
  const rest = ['model', 'id', 'time', 'version', 'inputs_hash', 'latency_ms', 'batch_size', 'outcome', 'flags', 'pred_label', 'pred_score', 'pred_value', 'detail', 'explanation', 'label', 'label_time'];
  return `${rest.join(', ')}, ${emptyInputs} AS inputs, ${emptyOutputs} AS outputs`;
}

/**
 * A WHERE clause from `[column, operator, value]` conditions (those whose value is
 * undefined are left out) and literal terms; `ph(i)` renders the i-th (1-based) placeholder.
 */
function whereClause(ph: (i: number) => string, conditions: [string, string, unknown][], literals: string[] = []): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const terms: string[] = [];
  for (const [column, op, value] of conditions) {
    if (value === undefined) continue;
    params.push(value);
    terms.push(`${column} ${op} ${ph(params.length)}`);
  }
  terms.push(...literals);
  return { sql: terms.length > 0 ? `WHERE ${terms.join(' AND ')}` : '', params };
}

/** Time bounds as stored (integer ms): since inclusive, until exclusive. */
const timeBounds = (q: { since?: number; until?: number }): [string, string, unknown][] => [
  ['time', '>=', q.since === undefined ? undefined : Math.ceil(q.since)],
  ['time', '<', q.until === undefined ? undefined : Math.ceil(q.until)],
];

/** WHERE clause for a decision query. */
export function decisionWhere(q: Omit<DecisionQuery, 'limit'>, ph: (i: number) => string): { sql: string; params: unknown[] } {
  const labelled = q.labelled === true ? ['label IS NOT NULL'] : q.labelled === false ? ['label IS NULL'] : [];
  return whereClause(ph, [['model', '=', q.model], ['version', '=', q.version], ['id', '=', q.id], ['outcome', '=', q.outcome], ...timeBounds(q)], labelled);
}

export function pointWhere(q: TimeSeriesQuery, ph: (i: number) => string): { sql: string; params: unknown[] } {
  return whereClause(ph, [['model', '=', q.model], ['version', '=', q.version], ['metric', '=', q.metric], ['key', '=', q.key], ...timeBounds(q)]);
}
