/**
 * `berth demo` against a real server: it runs to the end (its first progress line used to
 * crash on the null accuracy /api/quality reports before any label), every answer gets its
 * delayed label, and the shifted traffic reaches the drift window.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, ROOT, getJson, startServer } from '../helpers/server.js';

test('berth demo: runs to the end, labels every answer, and its shift shows as drift on age', { timeout: 60_000 }, async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-demo-repo-'));
  cpSync(join(EXAMPLES, 'income'), join(repo, 'income'), { recursive: true });
  const server = await startServer({ repo, config: { monitoring: { evaluationIntervalMs: 250, driftWindowSeconds: 1, driftMinRows: 50 } } });
  t.after(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  const child = spawn(process.execPath, [
    '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'demo', '--url', server.url, '--examples', join(ROOT, 'examples'),
    '--rate', '50', '--duration', '5', '--shift-after', '2', '--feedback-delay', '1',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, `exit code; stderr: ${err}\nstdout: ${out}`);
  assert.match(out, /^ {3}0 s normal {3}sent \d+ {2}failed 0 {2}labels 0 {2}accuracy — \(estimate/m, 'the first progress line, before any label');
  assert.match(out, /traffic shifts now/);
  const done = /done: (\d+) answered, 0 failed, (\d+) labels attached;/.exec(out);
  assert.ok(done !== null, out);
  const answered = Number(done[1]);
  assert.ok(answered >= 200, `answered ${answered}`);
  assert.equal(Number(done[2]), answered, 'the labels still due when the traffic stopped are sent before the demo exits');

  await server.app.monitor!.tick();
  const quality = (await getJson(`${server.url}/api/quality?model=income`)).json.quality;
  assert.equal(quality.labelled, answered);
  assert.equal(quality.classification.count, answered, 'one-row requests: every label counts');
  const drift = (await getJson(`${server.url}/api/drift?model=income`)).json.drift;
  assert.ok(drift.report?.verdict.driftedFeatures.includes('age'), JSON.stringify(drift.report?.verdict));
});
