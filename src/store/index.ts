/**
 * @module store
 * The decision log: the PredictionStore interface, its SQLite and PostgreSQL
 * implementations, the DecisionLogger the server writes through, retention, metrics, config.
 */
export type * from './store.js';
export { createStore, parseStoreUrl, type StoreOptions, type StoreTarget } from './create-store.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export {
  DecisionLogger, DROP_REASONS, DURABILITY_MODES, isValidRecord,
  type CrashCheck, type DecisionLoggerOptions, type DecisionLogStats, type DecisionTicket, type DropReason, type Durability,
} from './decision-logger.js';
export { AckJournal } from './ack-journal.js';
export { ReadQueue } from './read-queue.js';
export { DecisionLogMetrics } from './metrics.js';
export { RetentionTask, type RetentionTaskOptions } from './retention.js';
export { StoreConfigSchema, loggerOptionsFor, retentionPolicyFor, storeOptionsFor, storeTargetFor, type StoreConfig } from './config.js';
export { hashInputs, canonicalBytes, inputsForLog, type InputsPolicy } from './hash.js';
