/**
 * @module store/config
 * The `store` section of the server configuration (TypeBox, like the rest of the schema in
 * src/config/schema.ts, which embeds it), and what it turns into: the store to create, the
 * decision logger's options, the retention policy.
 */
import { type Static, Type } from '@sinclair/typebox';
import { join } from 'node:path';
import type { StoreTarget } from './create-store.js';
import type { DecisionLoggerOptions } from './decision-logger.js';
import type { RetentionPolicy } from './store.js';

export const StoreConfigSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Log every inference to the decision store (off: no decision log, feedback or /api/predictions).' }),
    url: Type.Optional(Type.String({
      minLength: 1,
      description: 'Where decisions are stored: postgres://user:pass@host:port/db[?schema=name] for a PostgreSQL store shared by several replicas, or sqlite:///abs/path.db. Default: SQLite at <dataDir>/decisions.db.',
    })),
    dataDir: Type.String({ minLength: 1, default: './berth-data', description: 'Data directory (--data-dir): the SQLite store and the spool of decisions waiting for a store that is down.' }),
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

export function loggerOptionsFor(config: Pick<StoreConfig, 'dataDir' | 'logger'>): DecisionLoggerOptions {
  return { dataDir: config.dataDir, ...config.logger };
}

export function retentionPolicyFor(config: Pick<StoreConfig, 'retention'>): RetentionPolicy {
  return { maxAgeMs: Math.round(config.retention.maxAgeDays * 86_400_000), maxDecisions: config.retention.maxDecisions };
}
