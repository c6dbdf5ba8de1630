/**
 * @module cli/serve
 * `berth serve --repository DIR [--host] [--port] [--config FILE] ...`: loads the
 * configuration, builds the app, listens, and shuts down cleanly on SIGINT/SIGTERM.
 */
import { statSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/load.js';
import { BerthError, messageOf } from '../errors.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../logging/logger.js';
import { buildApp } from '../server/app.js';

export function parseIntOption(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be an integer, got '${value}'`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

interface ServeFlags {
  repository?: string;
  host?: string;
  port?: number;
  config?: string;
  workers?: number;
  pollIntervalMs?: number;
  logLevel?: string;
  repositoryApi?: boolean;
  dataDir?: string;
  storeUrl?: string;
  decisionLog?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  insecure?: boolean;
  maxConnections?: number;
}

export function flagsToConfig(f: ServeFlags): Record<string, unknown> {
  const server: Record<string, unknown> = {};
  const repository: Record<string, unknown> = {};
  const out: Record<string, unknown> = { server, repository };
  if (f.host !== undefined) server.host = f.host;
  if (f.port !== undefined) server.port = f.port;
  if (f.maxConnections !== undefined) server.maxConnections = f.maxConnections;
  if (f.tlsCert !== undefined || f.tlsKey !== undefined) server.tls = { ...(f.tlsCert === undefined ? {} : { cert: f.tlsCert }), ...(f.tlsKey === undefined ? {} : { key: f.tlsKey }) };
  if (f.insecure === true) out.auth = { insecure: true };
  if (f.repository !== undefined) repository.path = f.repository;
  if (f.pollIntervalMs !== undefined) repository.pollIntervalMs = f.pollIntervalMs;
  if (f.repositoryApi === false) repository.api = { enabled: false };
  if (f.workers !== undefined) out.runtime = { workers: f.workers };
  if (f.logLevel !== undefined) out.logging = { level: f.logLevel };
  const store: Record<string, unknown> = {};
  if (f.dataDir !== undefined) store.dataDir = f.dataDir;
  if (f.storeUrl !== undefined) store.url = f.storeUrl;
  if (f.decisionLog === false) store.enabled = false;
  if (Object.keys(store).length > 0) out.store = store;
  return out;
}

async function serve(flags: ServeFlags): Promise<void> {
  const config = loadConfig({ ...(flags.config === undefined ? {} : { file: flags.config }), env: process.env, flags: flagsToConfig(flags) });
  let isDir = false;
  try {
    isDir = statSync(config.repository.path).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new BerthError('BERTH_ERR_CONFIG', `model repository '${config.repository.path}' is not a directory (expected <repository>/<model>/<version>/model.onnx)`);

  const logger = createLogger(config.logging.level as LogLevel);
  const app = buildApp(config, { logger });
  const address = await app.listen();
  logger.info({ address, repository: config.repository.path, workers: config.runtime.workers }, `Berth listening on ${address}`);
  app.modelsLoaded.then(
    () => logger.info({ models: app.manager.index() }, 'models loaded'),
    () => undefined,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: messageOf(err) }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Serve every model in a model repository over the Open Inference Protocol (KServe V2) REST API')
    .option('-r, --repository <dir>', 'model repository: <dir>/<model>/<version>/model.onnx')
    .option('--host <address>', 'address to listen on (default 127.0.0.1; beyond loopback needs API tokens or --insecure)')
    .option('-p, --port <port>', 'port to listen on (default 8000)', parseIntOption('--port', 0, 65535))
    .option('-c, --config <file>', 'configuration file (YAML or JSON); see docs/config.md')
    .option('--workers <n>', 'inference worker threads (default: number of CPUs)', parseIntOption('--workers', 1, 256))
    .option('--poll-interval-ms <ms>', 'repository re-scan interval, 0 = off (default 5000)', parseIntOption('--poll-interval-ms', 0, 86_400_000))
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')}`, (v: string) => {
      if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new InvalidArgumentError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
      return v;
    })
    .option('--no-repository-api', 'switch off the repository load/unload endpoints')
    .option('--data-dir <dir>', 'data directory: the SQLite decision log and the spool (default ./berth-data)')
    .option('--store-url <url>', 'decision store: postgres://user:pass@host:port/db[?schema=name] or sqlite:///path.db (default SQLite in --data-dir)')
    .option('--no-decision-log', 'do not log decisions (no feedback, live accuracy or /api/predictions)')
    .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--insecure', 'allow listening beyond loopback without API tokens (every route but repository load/unload open)')
    .option('--max-connections <n>', 'open connections accepted, more are closed (default: no limit)', parseIntOption('--max-connections', 1, 1_000_000))
    .action(async (flags: ServeFlags) => {
      try {
        await serve(flags);
      } catch (err) {
        process.stderr.write(`berth serve: ${messageOf(err)}\n`);
        process.exitCode = 2;
      }
    });
}
