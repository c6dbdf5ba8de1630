/**
 * Issue 10, items 1 and 2, through the real server: the income example as shipped
 * (probabilities, with its calibration), and the same network with its Softmax removed so
 * it answers logits — once with no configuration (the estimate and the AUC must say they
 * are unavailable, not report 1.72), once with `monitoring.scoreKind: logits` (softmax
 * applied; the live AUC ranks by the positive class's probability). Labels go back through
 * the feedback endpoint; the estimate over the labelled decisions must cover the same
 * decisions as the live figures.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readModel, writeModel } from '../../src/onnx/index.js';
import { CALIBRATION_FILE } from '../../src/monitoring/calibration.js';
import { buildCalibration } from '../../src/monitoring/reference.js';
import { rocAuc } from '../../src/monitoring/quality.js';
import { readIncomeRows, type IncomeRows } from '../e2e/load.js';
import { EXAMPLES, ROOT, getJson, postJson, startServer, type TestServer } from '../helpers/server.js';
import { metricValue } from '../helpers/metrics.js';

/** The income network without its final Softmax: output `logits` [batch, 2], label from the same ArgMax. */
function writeLogitsModel(path: string): void {
  const model = readModel(join(EXAMPLES, 'income/1/model.onnx'));
  const graph = model.graph!;
  const softmax = graph.node!.find((n) => n.opType === 'Softmax')!;
  const logits = softmax.input![0]!;
  graph.node = graph.node!.filter((n) => n !== softmax);
  for (const n of graph.node) n.output = n.output!.map((o) => (o === logits ? 'logits' : o));
  for (const n of graph.node) n.input = n.input!.map((i) => (i === logits ? 'logits' : i));
  graph.output = graph.output!.map((o) => (o.name === 'probabilities' ? { ...o, name: 'logits' } : o));
  writeModel(path, model);
}

interface Answer {
  id: string;
  row: number;
  scores: number[];
}

async function infer(server: TestServer, model: string, rows: IncomeRows, from: number, count: number): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let start = 0; start < count; start += 16) {
    const batch = await Promise.all(Array.from({ length: Math.min(16, count - start) }, async (_, k) => {
      const row = from + start + k;
      const id = `${model}-${row}`;
      const res = await postJson(`${server.url}/v2/models/${model}/infer`, { id, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, rows.width], data: Array.from(rows.features.subarray(row * rows.width, (row + 1) * rows.width)) }] });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      const scores = (res.json.outputs as { name: string; data: number[] }[]).find((o) => o.name !== 'label')!.data;
      return { id, row, scores };
    }));
    out.push(...batch);
  }
  return out;
}

test('regression: logits are never read as probabilities; with scoreKind: logits the estimate is calibrated and the AUC ranks by the positive class probability', { timeout: 120_000 }, async (t) => {
  const rows = readIncomeRows(ROOT);
  const repo = mkdtempSync(join(tmpdir(), 'berth-estimate-'));
  cpSync(join(EXAMPLES, 'income'), join(repo, 'income'), { recursive: true });
  for (const name of ['logits', 'logits-configured']) {
    mkdirSync(join(repo, name, '1'), { recursive: true });
    writeLogitsModel(join(repo, name, '1', 'model.onnx'));
  }
  writeFileSync(join(repo, 'logits-configured', 'berth.yaml'), 'monitoring:\n  scoreKind: logits\n');
  // The configured model's calibration, as berth reference makes it: on 2,000 labelled held-out rows.
  const calibration = await buildCalibration(join(repo, 'logits-configured', '1', 'model.onnx'), {
    features: rows.features.subarray(8000 * rows.width, 10_000 * rows.width), count: 2000, labels: Int32Array.from(rows.labels.subarray(8000, 10_000)), source: 'adult.test rows 8000–9999',
  }, { monitoring: { scoreKind: 'logits' } });
  assert.equal(calibration.scoreKind, 'logits');
  writeFileSync(join(repo, 'logits-configured', '1', CALIBRATION_FILE), JSON.stringify(calibration));

  const server = await startServer({ repo, config: { monitoring: { evaluationIntervalMs: 3_600_000 } } });
  t.after(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });
  const n = 240;
  for (const model of ['income', 'logits', 'logits-configured']) {
    const answers = await infer(server, model, rows, 0, n);
    const feedback = answers.map((a) => ({ id: a.id, label: rows.labels[a.row]! }));
    assert.deepEqual((await postJson(`${server.url}/v2/models/${model}/feedback`, { feedback })).json, { attached: n });
  }
  await server.app.monitor!.tick();
  const quality = async (model: string) => (await getJson(`${server.url}/api/quality?model=${model}`)).json.quality;
  const metrics = await (await fetch(`${server.url}/metrics`)).text();

  // Shipped example: probabilities, calibrated; estimate and realised over the same 240 decisions.
  const income = await quality('income');
  assert.equal(income.estimate.available, true, income.estimate.reason);
  assert.match(income.estimate.caveat, /cannot see concept shift/);
  assert.match(income.estimate.method, /isotonic regression on 8000 labelled reference rows/);
  assert.equal(income.estimate.labelled.rows, income.classification.count);
  assert.equal(income.classification.count, n);
  for (const k of ['accuracy', 'precision', 'recall', 'f1', 'auc']) {
    const e = income.estimate.labelled[k];
    assert.ok(e.low <= e.value && e.value <= e.high && e.high - e.low < 0.5, `${k}: ${JSON.stringify(e)}`);
  }
  assert.equal(income.estimate.recent.rows, n);
  assert.ok(metricValue(metrics, 'berth_model_quality', { model: 'income', metric: 'estimated_f1' }) !== undefined);

  // Logits without configuration: unavailable, with the reason and the fix; no gauge, no AUC.
  const raw = await quality('logits');
  assert.equal(raw.estimate.available, false);
  assert.match(raw.estimate.reason, /output 'logits' is not class probabilities .*set monitoring\.scoreKind: logits/);
  assert.equal(raw.estimatedAccuracy, undefined);
  assert.equal(raw.estimate.recent, undefined);
  assert.equal(raw.classification.auc, undefined);
  assert.match(raw.aucUnavailable, /not class probabilities/);
  assert.ok(raw.classification.accuracy > 0.7, 'accuracy needs no probabilities');
  assert.equal(metricValue(metrics, 'berth_model_quality', { model: 'logits', metric: 'estimated_accuracy' }), undefined);

  // Logits with scoreKind: logits — softmax applied, estimate available, the AUC of p(>50K).
  const cfg = await quality('logits-configured');
  assert.equal(cfg.estimate.available, true, cfg.estimate.reason);
  assert.ok(cfg.estimatedAccuracy > 0.7 && cfg.estimatedAccuracy <= 1, String(cfg.estimatedAccuracy));
  // The positive class's probability from the logits the server answered with (softmax), ranked against the labels.
  const decisions = (await getJson(`${server.url}/api/predictions?model=logits-configured&labelled=true&limit=10000`)).json.predictions as { outputs: { name: string; data: number[] }[]; label: string }[];
  assert.equal(decisions.length, n);
  const p1 = decisions.map((d) => {
    const [z0, z1] = d.outputs.find((o) => o.name === 'logits')!.data as [number, number];
    return 1 / (1 + Math.exp(z0 - z1));
  });
  const expectedAuc = rocAuc(decisions.map((d) => d.label === '>50K'), p1)!;
  assert.ok(Math.abs(cfg.classification.auc - expectedAuc) < 1e-9, `live AUC ${cfg.classification.auc}, AUC of the softmax probability ${expectedAuc}`);
  // And it is the same as the shipped probabilities model's on the same rows.
  assert.ok(Math.abs(cfg.classification.auc - income.classification.auc) < 1e-6, `${cfg.classification.auc} vs ${income.classification.auc}`);
  assert.ok(metricValue(metrics, 'berth_model_quality', { model: 'logits-configured', metric: 'estimated_auc' }) !== undefined);
});
