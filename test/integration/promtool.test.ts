import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logging/logger.js';
import { buildApp } from '../../src/server/app.js';
import { EXAMPLES, makeRepository, postJson } from '../helpers/server.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

// Lint findings promtool reports on prom-client's default Node.js metrics (gauges named
// *_total by prom-client); the issue allows filtering these. Parse errors are never filtered.
const ALLOWED_LINT = /^nodejs_[a-z_]+_total non-counter metrics should not have "_total" suffix$/;

test('a live /metrics scrape passes promtool check metrics (Prometheus\' own parser and linter)', async (t) => {
  const repo = makeRepository([{ name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') }]);
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-data-'));
  const config = loadConfig({ env: {}, flags: { server: { host: '127.0.0.1', port: 0 }, repository: { path: repo, pollIntervalMs: 0 }, runtime: { workers: 1 }, store: { dataDir } } });
  const app = buildApp(config, { logger: silentLogger(), defaultMetrics: true });
  t.after(async () => {
    await app.close();
    rmSync(repo, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  const url = await app.listen();
  await app.modelsLoaded;
  const body = JSON.parse(readFileSync(join(EXAMPLES, '../requests/income.json'), 'utf8'));
  assert.equal((await postJson(`${url}/v2/models/income/infer`, body)).status, 200);
  assert.equal((await postJson(`${url}/v2/models/income/infer`, { inputs: [] })).status, 400);

  const scrape = await (await fetch(`${url}/metrics`)).text();
  // The example request carries 2 rows: one batch of 2.
  for (const line of ['berth_inference_requests_total{model="income",version="1",outcome="success"} 1', 'berth_inference_requests_total{model="income",version="1",outcome="invalid"} 1', 'berth_inference_batch_size_sum{model="income",version="1"} 2', 'berth_inference_batch_size_count{model="income",version="1"} 1']) {
    assert.ok(scrape.includes(line), `scrape lacks: ${line}`);
  }

  const r = spawnSync('promtool', ['check', 'metrics'], { input: scrape, encoding: 'utf8' });
  assert.equal(r.error, undefined, `promtool could not run (Debian package prometheus): ${String(r.error)}`);
  const findings = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const unexpected = findings.filter((l) => !ALLOWED_LINT.test(l));
  assert.deepEqual(unexpected, [], `promtool findings:\n${findings.join('\n')}`);
  // Exit 0 (clean) or 3 (lint findings only, all of them allowed above); 1 would be a parse error.
  assert.ok(r.status === 0 || r.status === 3, `promtool exit ${r.status}`);
});
