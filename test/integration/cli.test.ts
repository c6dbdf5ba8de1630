import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { EXAMPLES, ROOT, makeRepository } from '../helpers/server.js';

const MAIN = join(ROOT, 'src/cli/main.ts');
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', env: { ...process.env, BERTH_PORT: '' } });

test('berth serve: bad flags and a missing repository exit 2 with a message naming the problem', () => {
  const badPort = run('serve', '--repository', 'x', '--port', 'eighty');
  assert.equal(badPort.status, 2);
  assert.match(badPort.stderr, /--port must be an integer, got 'eighty'/);
  const badLevel = run('serve', '--log-level', 'loud');
  assert.equal(badLevel.status, 2);
  assert.match(badLevel.stderr, /--log-level must be one of/);
  const noRepo = run('serve', '--repository', '/nonexistent/berth-repo', '--port', '0');
  assert.equal(noRepo.status, 2);
  assert.match(noRepo.stderr, /model repository '\/nonexistent\/berth-repo' is not a directory/);
  const unknown = run('serve', '--frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown option '--frobnicate'/);
});

test('berth serve: starts, serves a model, and stops cleanly on SIGTERM with the decision in --data-dir', async (t) => {
  const repo = makeRepository([{ name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') }]);
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-data-'));
  t.after(() => {
    rmSync(repo, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--repository', repo, '--host', '127.0.0.1', '--port', '0', '--workers', '1', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within 20 s:\n${out}`)), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Berth listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  let ready = 503;
  for (let i = 0; i < 100 && ready !== 200; i++) {
    ready = (await fetch(`${address}/v2/health/ready`)).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ready, 200);
  const res = await fetch(`${address}/v2/models/income/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'cli-decision-1', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 91], data: new Array(91).fill(0) }] }) });
  assert.equal(res.status, 200);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  // Shutdown writes what the logger still held: the decision is in the SQLite file of --data-dir.
  const db = new Database(join(dataDir, 'decisions.db'), { readonly: true });
  t.after(() => db.close());
  const row = db.prepare('SELECT model, version FROM decisions WHERE id = ?').get('cli-decision-1');
  assert.deepEqual({ ...(row as object) }, { model: 'income', version: '1' });
  assert.match(out, /"msg":"model version loaded"/);
  assert.match(out, /"msg":"shutting down"/);
});
