/**
 * @module store/store
 * The prediction store interface: the decision log (every inference), ground-truth
 * feedback attached to logged decisions later, and monitoring time series. Two
 * implementations share one contract test suite (test/unit/store/contract.ts): SQLite
 * (the embedded default, in the data directory) and PostgreSQL (several replicas, one store).
 */

/** One logged inference. */
export interface DecisionRecord {
  /** The inference request id (client's or server-assigned); unique per model. */
  id: string;
  /** Completion time, ms since the epoch (stored as an integer: fractions are truncated). */
  time: number;
  model: string;
  version: string;
  /**
   * Input tensors as V2 JSON tensors ({name, datatype, shape, data}); null when not kept (too
   * large, or the model is configured not to keep inputs). A tensor's `data` may also be a
   * typed array (BigInt64Array too): the stores write it as a JSON array.
   */
  inputs: unknown[] | null;
  /** sha256 (hex) of the inputs' canonical bytes: always present, also when inputs are not kept. */
  inputsHash: string;
  /** Output tensors as V2 JSON tensors. */
  outputs: unknown[];
  /** End-to-end latency in ms. */
  latencyMs: number;
  /** Rows in the executed batch this request ran in. */
  batchSize: number;
  /** 'success' or the outcome of a failed request ('invalid', 'rejected', 'timeout', 'error'). */
  outcome: string;
  /** Flags set by later layers (anomaly detector, ...), e.g. ['out_of_range:age']. */
  flags: string[];
  /** Model-specific summary for fast queries: predicted label / value and its score, when known. */
  prediction?: { label?: string | number; score?: number; value?: number };
  /** The decision path's account of the decision (raw-record requests, anomaly flags, refusals). */
  detail?: DecisionDetail;
}

/** What the decision path adds to a record (stored as one JSON column). */
export interface DecisionDetail {
  /** The raw record as the client sent it (personal fields hashed or dropped). */
  record?: Record<string, unknown>;
  /** The preprocessing spec the record went through: its kind and content hash. */
  pipeline?: { kind: string; hash: string };
  /** The row of the request this decision is (batched requests log one decision per row). */
  row?: number;
  /** The request's id, when this is one row of a batched request. */
  requestId?: string;
  /** The anomaly layer's findings, in words. */
  anomalies?: { kind: string; field?: string; message: string; score?: number }[];
  /** What the person was told: class, probability, outcome. */
  decision?: { class?: string; probability?: number; outcome?: string; adverse?: boolean };
  /** The decision's sensitive attributes (berth.yaml monitoring.sensitive), from the record or parameters.context. */
  context?: Record<string, string>;
  /** Why the request was refused or failed (error code and message). */
  reason?: { code: string; message: string };
}

/** A decision with the ground truth attached to it, if any. */
export interface StoredDecision extends DecisionRecord {
  label?: string | number;
  labelTime?: number;
  /** Its explanation, when the explanation policy logged one (explain/decision-explainer). */
  explanation?: Record<string, unknown>;
}

/** An explanation computed after its decision was logged, attached to it by id. */
export interface ExplanationItem {
  id: string;
  explanation: Record<string, unknown>;
}

export interface FeedbackItem {
  id: string;
  label: string | number;
  /** When the label became known (ms since the epoch); default: now. */
  time?: number;
}

export interface DecisionQuery {
  model?: string;
  version?: string;
  id?: string;
  outcome?: string;
  /** Inclusive lower bound on time (ms). */
  since?: number;
  /** Exclusive upper bound on time (ms). */
  until?: number;
  /** Only decisions with (true) / without (false) feedback. */
  labelled?: boolean;
  /** Newest first (time, then id, descending); default 100; larger values are capped at 10,000. */
  limit?: number;
  /**
   * false: leave out the tensors (inputs come back null, outputs empty) — for scans that need
   * only the prediction and the label, such as live quality over thousands of decisions,
   * where decoding the tensors would be most of the cost. Default true.
   */
  payload?: boolean;
}

export interface TimeSeriesPoint {
  time: number;
  /** Series name, e.g. 'latency_p95_ms', 'accuracy', 'drift_score'. */
  metric: string;
  model: string;
  version: string;
  /** Extra dimension, e.g. a feature name for per-feature drift; '' when none. */
  key: string;
  value: number;
}

export interface TimeSeriesQuery {
  model?: string;
  version?: string;
  metric?: string;
  key?: string;
  since?: number;
  until?: number;
  /** Oldest first; default 10,000; larger values are capped at 100,000. */
  limit?: number;
}

export interface RetentionPolicy {
  /** Delete decisions and points older than this (ms); 0 = keep. */
  maxAgeMs: number;
  /** Keep at most this many decisions (oldest deleted first); 0 = no limit. */
  maxDecisions: number;
}

/** What writeDecisions did; the three counts add up to the number of records given. */
export interface WriteResult {
  /** Records stored by this call. */
  inserted: number;
  /** Records already stored as the same decision (same model, id, version, time and inputs hash): a replay, stored once. */
  alreadyStored: number;
  /** Records not stored because a different decision with the same (model, id) is stored: a client reused a request id. */
  conflicts: number;
  /**
   * Which records those conflicts were (indexes into the records given, ascending): with
   * `store.durability: sync` each request learns whether its own decision was stored.
   */
  conflictIndexes: number[];
}

/** Options of a read (queryDecisions, countDecisions, queryPoints). */
export interface ReadOptions {
  /**
   * Aborting it cancels the read: a queued read leaves the queue, a running one stops
   * (SQLite: between rows; PostgreSQL: pg_cancel_backend). It then rejects with
   * BERTH_ERR_QUERY_CANCELLED.
   */
  signal?: AbortSignal;
}

/** How decision-log reads are bounded, so reads can never hold up writes or the server. */
export interface ReadLimits {
  /** A decision query whose tensors (as stored) add up to more than this is refused (BERTH_ERR_QUERY_TOO_COSTLY, naming limit). */
  maxResultBytes: number;
  /** A read running longer than this is stopped and refused (BERTH_ERR_QUERY_TOO_COSTLY). */
  timeoutMs: number;
  /** Reads waiting beyond this many are refused at once (BERTH_ERR_STORE_BUSY, 503 with Retry-After). */
  maxQueued: number;
}

/**
 * maxResultBytes: measured on the shared 2-core development machine, 10,000 income decisions
 * (about 6 MiB of stored tensors) cost the HTTP thread about 200 ms to receive from the
 * reader and serialize; 2 MiB keeps one answer's share near 60 ms and still holds about
 * 3,000 income decisions (the dashboard asks for at most 1,000). maxQueued: one dashboard
 * refresh asks for 20–30 time series at once; a queue of 64 takes two open dashboards.
 */
export const DEFAULT_READ_LIMITS: ReadLimits = { maxResultBytes: 2 * 1024 * 1024, timeoutMs: 10_000, maxQueued: 64 };

/** Reads since the store was created, by how they ended; `queued` and `running` are now. */
export interface ReadStats {
  queued: number;
  running: number;
  completed: number;
  /** Cancelled by the caller (the client went away): removed from the queue or stopped while running. */
  cancelled: number;
  /** Refused at once because maxQueued reads were waiting. */
  refused: number;
  /** Stopped for exceeding maxResultBytes or timeoutMs. */
  tooCostly: number;
  failed: number;
}

export interface PredictionStore {
  /** Short name for logs and metrics: 'sqlite' or 'postgres'. */
  readonly kind: string;
  /**
   * Creates tables/indexes if missing. Idempotent and cheap once done (then only a liveness
   * check), so the logger calls it to probe a store that was down. The other methods call it
   * themselves when it has not succeeded yet.
   */
  init(): Promise<void>;
  /**
   * Writes decisions in one transaction; idempotent on (model, id) so a replayed spool never
   * duplicates. Says what happened to each record: a record whose (model, id) is already
   * stored is either the same decision again (a replay: `alreadyStored`) or a different one
   * that reused the id (`conflicts`: not stored; the logger counts it as dropped).
   * Throws BERTH_ERR_STORE_UNAVAILABLE when the store cannot take the batch now (retry later)
   * and BERTH_ERR_STORE_REJECTED when the content itself is refused (retrying cannot help).
   */
  writeDecisions(records: readonly DecisionRecord[]): Promise<WriteResult>;
  /**
   * Attaches labels; returns the ids that matched a logged decision and those that did not.
   * Never throws for unknown ids. A label replaces the stored one unless that one has a later
   * time (late deliveries do not undo a re-label); labels keep their JSON type.
   */
  attachFeedback(model: string, items: readonly FeedbackItem[]): Promise<{ attached: string[]; unknown: string[] }>;
  /**
   * Attaches explanations to logged decisions (replacing any stored one); returns the ids
   * that matched a logged decision and those that did not (not written yet, or deleted).
   */
  attachExplanations(model: string, items: readonly ExplanationItem[]): Promise<{ attached: string[]; unknown: string[] }>;
  /**
   * Reads run apart from writes (SQLite: their own worker thread and connection; PostgreSQL:
   * their own pool), one queue bounded by ReadLimits, so a backlog of reads never delays a
   * write. Cancellable through `options.signal`.
   */
  queryDecisions(query: DecisionQuery, options?: ReadOptions): Promise<StoredDecision[]>;
  countDecisions(query: Omit<DecisionQuery, 'limit'>, options?: ReadOptions): Promise<number>;
  /** The ids among `ids` that have a stored decision of `model` (the crash check's look-up). */
  storedIds(model: string, ids: readonly string[]): Promise<Set<string>>;
  writePoints(points: readonly TimeSeriesPoint[]): Promise<void>;
  queryPoints(query: TimeSeriesQuery, options?: ReadOptions): Promise<TimeSeriesPoint[]>;
  /** Deletes what the policy says; returns the number of decisions deleted. */
  applyRetention(policy: RetentionPolicy, now: number): Promise<number>;
  /** Cheap liveness check (e.g. SELECT 1); throws when the store is unreachable. */
  ping(): Promise<void>;
  /**
   * A real write (a row of berth_meta committed), so a full or read-only disk, a read-only
   * replica or a locked database counts as down: what the logger probes a failed store with.
   */
  probe(): Promise<void>;
  /** The reads so far, by outcome. */
  readStats(): ReadStats;
  close(): Promise<void>;
}
