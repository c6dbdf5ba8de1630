/**
 * @module bench/lib/server-main
 * Child-process entry: the Berth server under test. Builds the app exactly as `berth serve`
 * does (loadConfig + buildApp, default process metrics on, logging silent) over the given
 * repository, listens on 127.0.0.1 port 0, waits for the models, and prints
 * `LISTENING <url>` on stdout. Exits cleanly (so `--cpu-prof` files get written) on
 * SIGTERM/SIGINT or when the parent closes stdin.
 *
 * Usage: node --import tsx bench/lib/server-main.ts <repository> [<src dir>] [--no-decision-log]
 * With a src dir the server is built from that copy of src/ instead (A/B experiments with
 * a change to the server, without touching the working tree). The decision log (on, as in
 * `berth serve`) writes to SQLite in a temporary data directory removed at exit;
 * --no-decision-log switches it off, for the logging on ÷ off comparison.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const decisionLog = !process.argv.includes('--no-decision-log');
const [repository, srcDir] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (repository === undefined) {
  process.stderr.write('usage: server-main.ts <repository> [<src dir>] [--no-decision-log]\n');
  process.exit(2);
}
const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-data-'));
const from = (path: string): string => (srcDir === undefined ? `../../src/${path}` : pathToFileURL(join(srcDir, path)).href);
const { loadConfig } = (await import(from('config/load.ts'))) as typeof import('../../src/config/load.js');
const { createLogger } = (await import(from('logging/logger.ts'))) as typeof import('../../src/logging/logger.js');
const { buildApp } = (await import(from('server/app.ts'))) as typeof import('../../src/server/app.js');

const config = loadConfig({
  env: {},
  flags: {
    server: { host: '127.0.0.1', port: 0 },
    // No re-scans during a measurement.
    repository: { path: repository, pollIntervalMs: 0 },
    logging: { level: 'silent' },
    store: { enabled: decisionLog, dataDir },
  },
});
const app = buildApp(config, { logger: createLogger('silent') });
const url = await app.listen();
await app.modelsLoaded;
const notReady = app.manager.index().filter((e) => e.state !== 'READY');
if (notReady.length > 0) {
  process.stderr.write(`models not ready: ${JSON.stringify(notReady)}\n`);
  process.exit(1);
}
process.stdout.write(`LISTENING ${url} workers=${config.runtime.workers}\n`);

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  app.close().then(
    () => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`close failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
