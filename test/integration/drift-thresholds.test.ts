/**
 * Issue 10, item 5, live: per-column drift thresholds from the model's berth.yaml
 * (`monitoring.driftThresholds`, the snippet drift reports print) reach the live drift
 * window, and a threshold naming a column the reference profile does not have switches
 * live drift off with a reason that says where the name came from.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readIncomeRows } from '../e2e/load.js';
import { EXAMPLES, ROOT, getJson, postJson, startServer } from '../helpers/server.js';

test('monitoring.driftThresholds in berth.yaml set live drift thresholds; an unknown column is named', { timeout: 60_000 }, async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-thresholds-'));
  for (const name of ['tuned', 'typo']) cpSync(join(EXAMPLES, 'income'), join(repo, name), { recursive: true });
  writeFileSync(join(repo, 'tuned', 'berth.yaml'), 'monitoring:\n  driftThresholds:\n    "age": { effectMetric: wasserstein, effect: 5 }\n    "sex": { alpha: 0.01 }\n');
  writeFileSync(join(repo, 'typo', 'berth.yaml'), 'monitoring:\n  driftThresholds:\n    "agee": { effect: 0.2 }\n');
  const server = await startServer({ repo, config: { monitoring: { evaluationIntervalMs: 3_600_000, driftWindowSeconds: 1, driftMinRows: 10 } } });
  t.after(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });
  const drift = async (m: string) => (await getJson(`${server.url}/api/drift?model=${m}`)).json.drift;
  // Opening a window happens in the drift worker: wait for the refusal.
  while ((await drift('typo')).enabled) await new Promise((r) => setTimeout(r, 20));
  assert.match((await drift('typo')).reason, /^monitoring\.driftThresholds in the model's berth\.yaml: columns\.agee: no such column in the reference profile/);

  const rows = readIncomeRows(ROOT);
  const res = await postJson(`${server.url}/v2/models/tuned/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [32, rows.width], data: Array.from(rows.features.subarray(0, 32 * rows.width)) }] });
  assert.equal(res.status, 200);
  // The window closes at the first evaluation at least driftWindowSeconds after it opened.
  while ((await drift('tuned')).report === undefined) {
    await new Promise((r) => setTimeout(r, 100));
    await server.app.monitor!.tick();
  }
  const report = (await drift('tuned')).report;
  const age = report.features.find((f: { name: string }) => f.name === 'age');
  assert.deepEqual([age.effect.metric, age.effect.threshold], ['wasserstein', 5]);
  assert.equal(report.features.find((f: { name: string }) => f.name === 'sex').test.alpha, 0.01);
  assert.equal(report.features.find((f: { name: string }) => f.name === 'education-num').test.alpha, 0.05);
});
