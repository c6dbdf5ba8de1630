/**
 * @module test/helpers/server
 * Starts a real Berth app on 127.0.0.1 (port 0) over a temporary model repository made
 * from fixture and example models, for integration tests. Everything is closed in `t.after`.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import type { BerthConfig } from '../../src/config/schema.js';
import { silentLogger, type Logger } from '../../src/logging/logger.js';
import { buildApp, type BerthApp } from '../../src/server/app.js';
import { WorkerPool } from '../../src/runtime/worker-pool.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(ROOT, 'test/fixtures/models');
export const EXAMPLES = join(ROOT, 'examples/models');

/** A model to put into the temporary repository. */
export interface RepoModel {
  name: string;
  /** Source .onnx file. */
  file: string;
  versions?: number[];
  /** berth.yaml text. */
  config?: string;
}

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** Makes a temporary repository; returns its path. Removed by the caller (see startServer). */
export function makeRepository(models: RepoModel[]): string {
  const root = mkdtempSync(join(tmpdir(), 'berth-repo-'));
  for (const m of models) addModel(root, m);
  return root;
}

export function addModel(root: string, m: RepoModel): void {
  const dir = join(root, m.name);
  mkdirSync(dir, { recursive: true });
  for (const v of m.versions ?? [1]) {
    mkdirSync(join(dir, String(v)), { recursive: true });
    cpSync(m.file, join(dir, String(v), 'model.onnx'));
  }
  if (m.config !== undefined) writeFileSync(join(dir, 'berth.yaml'), m.config);
}

export interface TestServer {
  app: BerthApp;
  url: string;
  repo: string;
  close(): Promise<void>;
}

export interface StartOptions {
  models?: RepoModel[];
  /** Use this repository directory instead of making one. */
  repo?: string;
  /** Config overrides (shaped like the config file). */
  config?: Record<string, unknown>;
  logger?: Logger;
  /** Wait for the first repository load (default true). */
  waitForModels?: boolean;
  /** Run the session workers from this script instead of the real one (e.g. one that can be made to crash). */
  workerUrl?: URL;
}

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const repo = options.repo ?? makeRepository(options.models ?? []);
  const base: Record<string, unknown> = {
    server: { host: '127.0.0.1', port: 0 },
    repository: { path: repo, pollIntervalMs: 0 },
    runtime: { workers: 2 },
    logging: { level: 'silent' },
  };
  // The decision log goes to a temporary data directory unless the test names one.
  const ownDataDir = (options.config?.store as { dataDir?: string } | undefined)?.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'berth-data-')) : undefined;
  if (ownDataDir !== undefined) base.store = { dataDir: ownDataDir };
  const flags = mergeDeep(base, options.config ?? {});
  const config: Readonly<BerthConfig> = loadConfig({ env: {}, flags });
  const pool = options.workerUrl === undefined ? undefined : new WorkerPool({ size: config.runtime.workers ?? 2, workerUrl: options.workerUrl });
  const app = buildApp(config, { logger: options.logger ?? silentLogger(), defaultMetrics: false, ...(pool === undefined ? {} : { pool }) });
  const url = await app.listen();
  if (options.waitForModels !== false) await app.modelsLoaded;
  return {
    app,
    url,
    repo,
    async close() {
      await app.close();
      await pool?.close();
      if (options.repo === undefined) rmSync(repo, { recursive: true, force: true });
      if (ownDataDir !== undefined) rmSync(ownDataDir, { recursive: true, force: true });
    },
  };
}

function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && cur !== null && typeof cur === 'object' && !Array.isArray(cur)
      ? mergeDeep(cur as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}

/** POST JSON and return status, headers and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

export async function getJson(url: string): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(url);
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}
