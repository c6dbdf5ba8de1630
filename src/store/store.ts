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
  /** Completion time, ms since the epoch. */
  time: number;
  model: string;
  version: string;
  /** Input tensors as V2 JSON tensors ({name, datatype, shape, data}); null when not kept (too large, or the model is configured not to keep inputs). */
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
}

/** A decision with the ground truth attached to it, if any. */
export interface StoredDecision extends DecisionRecord {
  label?: string | number;
  labelTime?: number;
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
  /** Newest first; default 100, at most 10,000. */
  limit?: number;
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
  /** Oldest first; default 10,000. */
  limit?: number;
}

export interface RetentionPolicy {
  /** Delete decisions and points older than this (ms); 0 = keep. */
  maxAgeMs: number;
  /** Keep at most this many decisions (oldest deleted first); 0 = no limit. */
  maxDecisions: number;
}

export interface PredictionStore {
  /** Short name for logs and metrics: 'sqlite' or 'postgres'. */
  readonly kind: string;
  /** Creates tables/indexes if missing. Idempotent. */
  init(): Promise<void>;
  /** Writes decisions; idempotent on (model, id) so a replayed spool never duplicates. */
  writeDecisions(records: readonly DecisionRecord[]): Promise<void>;
  /** Attaches labels; returns the ids that matched a logged decision and those that did not. Never throws for unknown ids. */
  attachFeedback(model: string, items: readonly FeedbackItem[]): Promise<{ attached: string[]; unknown: string[] }>;
  queryDecisions(query: DecisionQuery): Promise<StoredDecision[]>;
  countDecisions(query: Omit<DecisionQuery, 'limit'>): Promise<number>;
  writePoints(points: readonly TimeSeriesPoint[]): Promise<void>;
  queryPoints(query: TimeSeriesQuery): Promise<TimeSeriesPoint[]>;
  /** Deletes what the policy says; returns the number of decisions deleted. */
  applyRetention(policy: RetentionPolicy, now: number): Promise<number>;
  /** Cheap liveness check (e.g. SELECT 1); throws when the store is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
