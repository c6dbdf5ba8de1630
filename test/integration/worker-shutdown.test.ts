/**
 * Regression: closing the worker pool while its workers were still starting ONNX Runtime
 * aborted the whole process ("terminate called after throwing an instance of
 * 'Napi::Error'"): the pool terminated threads that ONNX Runtime was about to call back
 * into. Seen once in CI as a crashed e2e test file (a server over an empty repository, closed
 * right after it started). The pool now asks workers to exit. Run in a child process, since
 * the failure is an abort, not an exception.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/server.js';

// Compiled JavaScript, as `npm start` runs it: under tsx a worker spends its first ~0.6 s
// loading the TypeScript hooks, which hides the window in which ONNX Runtime starts up.
// Built inside the repository (git-ignored .tmp/) so node_modules resolve.
const script = (build: string): string => `
import { WorkerPool } from ${JSON.stringify(join(build, 'runtime/worker-pool.js'))};
for (let i = 0; i < 40; i++) {
  const pool = new WorkerPool({ size: 2 });
  await new Promise((r) => setTimeout(r, 20 + (i % 10) * 15));
  await pool.close();
}
console.log('closed 40 pools');
`;

test('closing a worker pool while its workers start ONNX Runtime does not abort the process', { timeout: 120_000 }, (t) => {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const build = mkdtempSync(join(ROOT, '.tmp', 'worker-shutdown-'));
  t.after(() => rmSync(build, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', build, '--incremental', 'false'], { cwd: ROOT });
  // A script file: run as `node -e` the loop did not hit the window (measured: no abort in 40 closes).
  writeFileSync(join(build, 'close-loop.mjs'), script(build));
  const res = spawnSync(process.execPath, [join(build, 'close-loop.mjs')], { encoding: 'utf8', cwd: ROOT });
  assert.equal(res.signal, null, `aborted: ${res.stderr}`);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /closed 40 pools/);
});
