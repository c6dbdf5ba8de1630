/**
 * @module store/create-store
 * Makes a PredictionStore from a target: `{ kind: 'sqlite', path }`, `{ kind: 'postgres',
 * url }`, or the URL form (`sqlite:///abs/path.db`, `sqlite:relative/path.db`,
 * `postgres://user:pass@host:5432/db?schema=berth`). The store is not initialized: call
 * `init()`, or hand it to a DecisionLogger whose start() does.
 */
import { isAbsolute, resolve } from 'node:path';
import { BerthError } from '../errors.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { PredictionStore, ReadLimits } from './store.js';

/** Options for either kind of store. */
export interface StoreOptions {
  /** Commits flushed to disk before they return (SQLite synchronous=FULL, PostgreSQL synchronous_commit=on): store.durability sync. */
  durableCommits?: boolean;
  reads?: Partial<ReadLimits>;
}

export type StoreTarget =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; schema?: string; maxConnections?: number };

/** Parses a store URL; a relative SQLite path is resolved against `cwd`. */
export function parseStoreUrl(url: string, cwd: string = process.cwd()): StoreTarget {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new BerthError('BERTH_ERR_STORE_CONFIG', `store url '${redact(url)}' is not a valid URL`);
    }
    const schema = parsed.searchParams.get('schema');
    const max = parsed.searchParams.get('maxConnections');
    parsed.searchParams.delete('schema');
    parsed.searchParams.delete('maxConnections');
    const target: StoreTarget = { kind: 'postgres', url: parsed.toString() };
    if (schema !== null) target.schema = schema;
    if (max !== null) {
      const n = Number(max);
      if (!Number.isInteger(n) || n < 1) throw new BerthError('BERTH_ERR_STORE_CONFIG', `store url: maxConnections must be a positive integer, got '${max}'`);
      target.maxConnections = n;
    }
    return target;
  }
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    let path: string;
    if (rest.startsWith('///')) path = rest.slice(2);
    else if (rest.startsWith('//')) throw new BerthError('BERTH_ERR_STORE_CONFIG', `store url '${url}': use sqlite:///absolute/path.db or sqlite:relative/path.db (sqlite:// has no host)`);
    else path = rest;
    if (path === '' || path === '/') throw new BerthError('BERTH_ERR_STORE_CONFIG', `store url '${url}' names no database file`);
    return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  throw new BerthError('BERTH_ERR_STORE_CONFIG', `store url '${redact(url)}': expected postgres://…, postgresql://… or sqlite:…`);
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

export function createStore(target: StoreTarget | string, options: StoreOptions = {}): PredictionStore {
  const t = typeof target === 'string' ? parseStoreUrl(target) : target;
  const reads = options.reads === undefined ? {} : { reads: options.reads };
  if (t.kind === 'sqlite') return new SqliteStore({ path: t.path, synchronous: options.durableCommits === true ? 'FULL' : 'NORMAL', ...reads });
  if (t.kind === 'postgres') {
    return new PostgresStore({
      url: t.url,
      ...(t.schema === undefined ? {} : { schema: t.schema }),
      ...(t.maxConnections === undefined ? {} : { maxConnections: t.maxConnections }),
      synchronousCommit: options.durableCommits === true,
      ...reads,
    });
  }
  throw new BerthError('BERTH_ERR_STORE_CONFIG', `store kind '${String((t as { kind: unknown }).kind)}': expected 'sqlite' or 'postgres'`);
}
