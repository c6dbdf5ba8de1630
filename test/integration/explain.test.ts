/**
 * Explanations of income decisions on raw fields (exact Shapley over the 12 fields the model
 * uses, background: the shipped explain.background.json). Checked against what must hold:
 * efficiency (Σφ = f(x) − E[f]), f(x) equal to the served probability, E[f] equal to the
 * mean served probability of the background records (predicted separately), the same answer
 * from V1 :explain, V2 /explain with content type "pd" and V2 with the encoded tensor; and
 * refusals that say why.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServer } from '../helpers/server.js';
import { infer, outputValues } from '../helpers/v2.js';
import { TabularTransformer } from '../../src/pipeline/tabular.js';
import { checkTabularSpec } from '../../src/preprocessing/tabular.js';
import { coalitionValues, shapleyFromCoalitions } from '../../src/explain/shapley.js';

const ROOT = join(import.meta.dirname, '../..');
const records = (JSON.parse(readFileSync(join(ROOT, 'examples/requests/income-records.json'), 'utf8')) as { instances: Record<string, unknown>[] }).instances;
const background = (JSON.parse(readFileSync(join(ROOT, 'examples/models/income/1/explain.background.json'), 'utf8')) as { records: Record<string, unknown>[] }).records;

function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json() }));
}

test('exact Shapley explanations on raw fields: efficient, f(x) is the served probability, E[f] the background\'s mean, the same through V1 and V2', async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-explain-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  for (const m of ['income', 'digits']) cpSync(join(ROOT, 'examples/models', m), join(repo, m), { recursive: true });
  const s = await startServer({ repo });
  t.after(() => s.close());

  const r = await post(`${s.url}/v1/models/income:explain`, { id: 'why', instances: records });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const bg = await post(`${s.url}/v1/models/income:predict`, { instances: background });
  const meanP = (bg.json.predictions as any[]).reduce((a, p) => a + p.probability, 0) / background.length;
  for (const [i, e] of (r.json.explanations as any[]).entries()) {
    assert.deepEqual(e.output, { name: 'probabilities', class: '>50K' });
    assert.equal(e.method, 'exact');
    assert.equal(e.coalitions, 2 ** 12);
    assert.equal(e.background, background.length);
    // Within float32 rounding, not equal: the coalitions run in batches of another size, and GEMM kernels may sum in another order.
    assert.ok(Math.abs(e.value - e.prediction.probability) < 1e-6, `f(x) ${e.value} is the served probability ${e.prediction.probability}`);
    assert.ok(Math.abs(e.base_value - meanP) < 1e-6, `E[f] ${e.base_value} vs the background's mean prediction ${meanP}`);
    const sum = (e.attributions as any[]).reduce((a, x) => a + x.contribution, 0);
    assert.ok(Math.abs(sum - (e.value - e.base_value)) < 1e-9, `row ${i}: Σφ = ${sum}, f(x) − E[f] = ${e.value - e.base_value}`);
    assert.equal(e.attributions.length, 12, 'one attribution per raw field the model uses (one-hot columns move together)');
    assert.equal(e.attributions.find((a: any) => a.feature === 'age').value, records[i]!.age);
    const sorted = (e.attributions as any[]).map((a) => Math.abs(a.contribution));
    assert.deepEqual(sorted, [...sorted].sort((a, b) => b - a), 'largest first');
    // Reasons: the largest attributions in the decision's direction (approved: raised P(>50K); rejected: lowered it), in words.
    const approved = e.prediction.outcome === 'approved';
    const expected = (e.attributions as any[]).filter((a) => (approved ? a.contribution > 0 : a.contribution < 0)).slice(0, 3);
    assert.deepEqual((e.reasons as any[]).map((x) => x.feature), expected.map((a) => a.feature), `row ${i} (${e.prediction.outcome}) reasons`);
    for (const x of e.reasons as any[]) {
      assert.match(x.text, new RegExp(`^${x.feature} ${String(x.value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (higher than|lower than|near the middle|shared by)[^;]*reference records?; ${approved ? 'raised' : 'lowered'} P\\(>50K\\) by `), x.text);
    }
  }
  assert.equal(r.json.explanations[0].id, 'why/0');
  // A rejected applicant's counterfactual changes only actionable fields (berth.yaml explain.immutable) and is approved when served.
  const rejected = (r.json.explanations as any[]).filter((x) => x.prediction.outcome === 'rejected');
  assert.ok(rejected.length > 0, 'the fixture has a rejected applicant');
  for (const e of rejected) {
    const cf = e.counterfactual;
    assert.ok(cf !== undefined && cf.changes.length > 0, JSON.stringify(e));
    for (const c of cf.changes) assert.ok(!['age', 'sex', 'race', 'native-country', 'marital-status', 'relationship'].includes(c.feature), c.feature);
    const changed = { ...records[Number(e.id.split('/')[1])], ...Object.fromEntries(cf.changes.map((c: any) => [c.feature, c.to])) };
    const served = await post(`${s.url}/v1/models/income:predict`, { instances: [changed] });
    // The search ran the record in a larger batch: its probability is the served one within float32 rounding, and the outcome follows unless it sits on the threshold.
    const p = served.json.predictions[0].probability;
    assert.ok(cf.probability >= 0.5 && Math.abs(p - cf.probability) < 1e-5, `served ${p}, search ${cf.probability}`);
    if (Math.abs(cf.probability - 0.5) > 1e-5) assert.equal(served.json.predictions[0].outcome, 'approved', 'the counterfactual record is approved when served');
  }

  // V2: "pd" columns and the encoded tensor give the same attributions.
  const one = records[0]!;
  const pd = await infer(`${s.url}/v2/models/income/explain`, { parameters: { content_type: 'pd' }, inputs: Object.entries(one).map(([k, v]) => ({ name: k, datatype: typeof v === 'number' ? 'INT64' : 'BYTES', shape: [1], data: [v] })) });
  assert.equal(pd.status, 200, JSON.stringify(pd.json));
  const byFeature = (e: any) => Object.fromEntries((e.attributions as any[]).map((a) => [a.feature, a.contribution]));
  assert.deepEqual(byFeature(pd.json.parameters.explanations[0]), byFeature(r.json.explanations[0]));
  // The same row encoded by the client, as a tensor: the same attributions (the raw values are then unknown).
  const spec = checkTabularSpec(JSON.parse(readFileSync(join(ROOT, 'examples/models/income/preprocessing.json'), 'utf8')), 'preprocessing.json');
  const features = new TabularTransformer(spec, 'h').encode([one]).inputs[0]!;
  const tensor = await infer(`${s.url}/v2/models/income/explain`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 91], data: Array.from(features.data as Float32Array) }] });
  assert.equal(tensor.status, 200, JSON.stringify(tensor.json));
  assert.deepEqual(byFeature(tensor.json.parameters.explanations[0]), byFeature(r.json.explanations[0]), 'tensor request');
  const withInfer = await infer(`${s.url}/v2/models/income/infer`, { parameters: { content_type: 'pd', explain: true }, inputs: Object.entries(one).map(([k, v]) => ({ name: k, datatype: typeof v === 'number' ? 'INT64' : 'BYTES', shape: [1], data: [v] })) });
  assert.deepEqual(byFeature(withInfer.json.parameters.explanations[0]), byFeature(r.json.explanations[0]), 'parameters.explain on infer');
  assert.deepEqual(outputValues(withInfer, 'probabilities'), outputValues(pd, 'probabilities'));

  // Every coalition checked, not only the ends: the same Shapley values from all 4,096 × 16
  // rows built here in full (no shared rows) and run by ONNX Runtime in this process.
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(join(ROOT, 'examples/models/income/1/model.onnx'));
  t.after(() => session.release());
  const x = features.data as Float32Array;
  const bgRows = new TabularTransformer(spec, 'h').encode(background).inputs[0]!.data as Float32Array;
  const m = spec.features.length;
  const rows = new Float32Array((1 << m) * background.length * 91);
  for (let mask = 0; mask < 1 << m; mask++) {
    for (let j = 0; j < background.length; j++) {
      const at = (mask * background.length + j) * 91;
      rows.set(bgRows.subarray(j * 91, (j + 1) * 91), at);
      spec.features.forEach((f, i) => { if ((mask >> i) & 1) rows.set(x.subarray(f.offset, f.offset + f.width), at + f.offset); });
    }
  }
  const probs = (await session.run({ features: new ort.Tensor('float32', rows, [rows.length / 91, 91]) })).probabilities!.data as Float32Array;
  const scores = Float64Array.from({ length: rows.length / 91 }, (_, r) => probs[r * 2 + 1]!);
  const full = shapleyFromCoalitions(coalitionValues(scores, m, background.length), m);
  const served = byFeature(r.json.explanations[0]);
  spec.features.forEach((f, i) => assert.ok(Math.abs(full[i]! - served[f.column]!) < 1e-6, `${f.column}: served ${served[f.column]}, from every row ${full[i]}`));

  // Refusals that say why.
  const digits = await post(`${s.url}/v1/models/digits:explain`, { instances: [{ pixels: new Array(64).fill(0) }] });
  assert.equal(digits.status, 422);
  assert.equal(digits.json.code, 'BERTH_ERR_EXPLAIN_UNAVAILABLE');
  assert.match(digits.json.error, /tabular preprocessing spec/);
  const many = await post(`${s.url}/v1/models/income:explain`, { instances: new Array(9).fill(one) });
  assert.equal(many.status, 400);
  assert.match(many.json.error, /^instances: 9 rows to explain, at most 8/);
});
