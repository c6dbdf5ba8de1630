/**
 * @module store/config
 * The `store` section of the server configuration (TypeBox, like the rest of the schema in
 * src/config/schema.ts, which embeds it), and what it turns into: the store to create, the
 * decision logger's options, the retention policy.
 */
import { type Static, Type } from '@sinclair/typebox';
import { join } from 'node:path';
import type { StoreOptions, StoreTarget } from './create-store.js';
import type { DecisionLoggerOptions } from './decision-logger.js';
import { DEFAULT_READ_LIMITS, type RetentionPolicy } from './store.js';

export const StoreConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Log every inference to the decision store (off: no decision log, feedback or /api/predictions).' }),
    url: Type.Optional(Type.String({
      minLength: 1,
      description: 'Where decisions are stored: postgres://user:pass@host:port/db[?schema=name] for a PostgreSQL store shared by several replicas, or sqlite:///abs/path.db. Default: SQLite at <dataDir>/decisions.db.',
    })),
    personalKey: Type.Optional(Type.String({ minLength: 16, description: 'Key for hashing the fields a preprocessing spec marks personal ("hash") in the decision log; the same on every replica sharing a store. Default: a random key kept in <dataDir>/personal.key.' })),
    dataDir: Type.String({ minLength: 1, default: './berth-data', description: 'Data directory (--data-dir): the SQLite store, the spool of decisions waiting for a store that is down, and the acknowledgement journal.' }),
    durability: Type.Union([Type.Literal('async'), Type.Literal('sync')], {
      default: 'async',
      description: 'async: a response does not wait for its decision to be written; a crash (SIGKILL, OOM kill) loses what was in memory (up to about flushIntervalMs plus one write) and the next start counts it (berth_decisions_crash_lost_total, a log line). sync: a response is sent only once its decision is durable (committed with fsync, or in the fsync\'d spool); otherwise it is a 503.',
    }),
    queries: Type.Object(
      {
        maxResultBytes: Type.Integer({ minimum: 1024, default: DEFAULT_READ_LIMITS.maxResultBytes, description: 'A decision query (GET /api/predictions) whose tensors, as stored, add up to more than this is refused with 400 naming limit and saying how many decisions fit.' }),
        timeoutMs: Type.Integer({ minimum: 1, default: DEFAULT_READ_LIMITS.timeoutMs, description: 'A decision-log query running longer than this is stopped and refused (400).' }),
        maxQueued: Type.Integer({ minimum: 0, default: DEFAULT_READ_LIMITS.maxQueued, description: 'Queries waiting beyond this many get 503 with Retry-After at once. Queries never hold up decision writes, which have their own connection.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    retention: Type.Object(
      {
        maxAgeDays: Type.Number({ minimum: 0, default: 30, description: 'Delete decisions and time series older than this (0 = keep).' }),
        maxDecisions: Type.Integer({ minimum: 0, default: 0, description: 'Keep at most this many decisions, oldest deleted first (0 = no limit).' }),
        intervalMinutes: Type.Number({ exclusiveMinimum: 0, default: 10, description: 'How often retention runs.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    logger: Type.Object(
      {
        flushIntervalMs: Type.Integer({ minimum: 1, default: 200, description: 'A partial batch of decisions is written at least this often.' }),
        batchSize: Type.Integer({ minimum: 1, default: 500, description: 'Decisions per store write.' }),
        bufferSize: Type.Integer({ minimum: 1, default: 50_000, description: 'Decisions held in memory; beyond that they go to the spool.' }),
        spoolMaxBytes: Type.Integer({ minimum: 1, default: 1024 ** 3, description: 'Spool size cap; decisions that do not fit are dropped and counted (berth_decisions_dropped_total{reason="spool_full"}).' }),
        writeTimeoutMs: Type.Integer({ minimum: 1, default: 5000, description: 'A store write slower than this counts as failed: its batch goes to the spool.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);

export type StoreConfig = Static<typeof StoreConfigSchema>;

/** The store the config names: its url, else SQLite in the data directory. */
export function storeTargetFor(config: Pick<StoreConfig, 'url' | 'dataDir'>): StoreTarget | string {
  return config.url ?? { kind: 'sqlite', path: join(config.dataDir, 'decisions.db') };
}

/** How the store is opened: durable commits in sync mode, the query bounds. */
export function storeOptionsFor(config: Pick<StoreConfig, 'durability' | 'queries'>): StoreOptions {
  return { durableCommits: config.durability === 'sync', reads: { ...config.queries } };
}

export function loggerOptionsFor(config: Pick<StoreConfig, 'dataDir' | 'logger' | 'durability'>): DecisionLoggerOptions {
  return { dataDir: config.dataDir, durability: config.durability, ...config.logger };
}

export function retentionPolicyFor(config: Pick<StoreConfig, 'retention'>): RetentionPolicy {
  return { maxAgeMs: Math.round(config.retention.maxAgeDays * 86_400_000), maxDecisions: config.retention.maxDecisions };
}
