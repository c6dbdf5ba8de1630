/**
 * @module store
 * The decision log: the PredictionStore interface, its SQLite and PostgreSQL
 * implementations, the DecisionLogger the server writes through, retention, metrics, config.
 */
export type * from './store.js';
export { createStore, parseStoreUrl, type StoreTarget } from './create-store.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { DecisionLogger, DROP_REASONS, isValidRecord, type DecisionLoggerOptions, type DecisionLogStats, type DropReason } from './decision-logger.js';
export { DecisionLogMetrics } from './metrics.js';
export { RetentionTask, type RetentionTaskOptions } from './retention.js';
export { StoreConfigSchema, loggerOptionsFor, retentionPolicyFor, storeTargetFor, type StoreConfig } from './config.js';
export { hashInputs, canonicalBytes, inputsForLog, type InputsPolicy } from './hash.js';
