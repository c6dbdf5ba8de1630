/**
 * Live fairness on the income example (berth.yaml monitoring.sensitive: [sex, race]): the
 * served decisions' selection rates by group, exported as berth_fairness_* gauges, equal the
 * rates counted from the responses themselves; the groups are stored with each decision; an
 * attribute the model does not take comes from parameters.context.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { recordFromCsv } from '../../src/anomaly/reference.js';
import { parseSimpleCsv, readTabularSpec } from '../../src/preprocessing/tabular.js';
import { metricValue } from '../helpers/metrics.js';
import { startServer } from '../helpers/server.js';

const ROOT = join(import.meta.dirname, '../..');
const spec = readTabularSpec(join(ROOT, 'examples/models/income/preprocessing.json'));
const labelled = parseSimpleCsv(gunzipSync(readFileSync(join(ROOT, 'examples/data/adult/adult.test.gz'))).toString('utf8'), spec)
  .slice(0, 320)
  .map((r) => recordFromCsv(r, spec));
const rows = labelled.map(({ income: _label, ...rest }) => rest);
// The test split writes its labels with a trailing dot ('>50K.').
const labels = labelled.map((r) => String(r.income).replace(/\.$/, ''));

function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json() }));
}

test('selection rates by sex and race: the gauges equal the rates counted from the answers; groups are stored with each decision; parameters.context supplies an attribute the model does not take', async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-fairness-live-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  cpSync(join(ROOT, 'examples/models/income'), join(repo, 'income'), { recursive: true });
  const yaml = join(repo, 'income/berth.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replace('sensitive: [sex, race]', 'sensitive: [sex, race, region]'));
  const s = await startServer({ repo, config: { monitoring: { evaluationIntervalMs: 3_600_000 } } });
  t.after(() => s.close());

  const tally = new Map<string, { n: number; approved: number }>();
  const count = (key: string, approved: boolean): void => {
    const c = tally.get(key) ?? { n: 0, approved: 0 };
    c.n++;
    if (approved) c.approved++;
    tally.set(key, c);
  };
  for (let i = 0; i < rows.length; i += 32) {
    const batch = rows.slice(i, i + 32);
    const region = i % 64 === 0 ? 'north' : 'south';
    const r = await post(`${s.url}/v1/models/income:predict`, { id: `b${i}`, instances: batch, parameters: { context: { region } } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    (r.json.predictions as any[]).forEach((p, k) => {
      const approved = p.outcome === 'approved';
      count(`sex=${String(batch[k]!.sex)}`, approved);
      count(`race=${String(batch[k]!.race)}`, approved);
      count(`region=${region}`, approved);
    });
  }
  assert.ok((tally.get('sex=Male')?.approved ?? 0) > 0 && (tally.get('sex=Female')?.n ?? 0) >= 30, 'the fixture has approved men and at least 30 women');

  const samples = await s.app.monitor!.tick();
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const rates: Record<string, number> = {};
  for (const [key, c] of tally) {
    const [attribute, group] = key.split('=') as [string, string];
    const labels = { model: 'income', version: '1', attribute, group };
    assert.equal(metricValue(text, 'berth_fairness_group_decisions', labels), c.n, key);
    assert.equal(metricValue(text, 'berth_fairness_selection_rate', labels), c.approved / c.n, key);
    if (c.n >= 30) rates[key] = c.approved / c.n;
  }
  for (const attribute of ['sex', 'race', 'region']) {
    const counted = Object.entries(rates).filter(([k]) => k.startsWith(`${attribute}=`)).map(([, v]) => v);
    if (counted.length < 2) continue;
    const ratio = metricValue(text, 'berth_fairness_demographic_parity_ratio', { model: 'income', version: '1', attribute });
    assert.ok(ratio !== undefined && Math.abs(ratio - Math.min(...counted) / Math.max(...counted)) < 1e-12, `${attribute}: ${ratio}`);
  }

  // The alert signal is the worst attribute's ratio (FairnessDisparity fires below 0.8).
  const ratios = ['sex', 'race', 'region'].map((attribute) => metricValue(text, 'berth_fairness_demographic_parity_ratio', { model: 'income', version: '1', attribute })).filter((v): v is number => v !== undefined);
  assert.ok(ratios.length >= 2, 'sex and region have two groups of 30 or more');
  assert.equal(samples.find((x) => x.signal === 'fairness_parity_ratio' && x.model === 'income')?.value, Math.min(...ratios));

  // Labels arrive: accuracy, TPR and FPR by sex over the labelled decisions, as counted here.
  const predicted: string[] = [];
  for (let i = 0; i < rows.length; i += 32) {
    const r = await post(`${s.url}/v2/models/income/feedback`, { feedback: rows.slice(i, i + 32).map((_, k) => ({ id: `b${i}/${k}`, label: labels[i + k] })) });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  }
  const stored = (await (await fetch(`${s.url}/api/predictions?model=income&limit=1000`)).json() as { predictions: any[] }).predictions;
  for (const d of stored) predicted[Number(d.id.slice(1).split('/')[0]) + Number(d.id.split('/')[1])] = d.prediction.label;
  await s.app.monitor!.tick();
  const after = await (await fetch(`${s.url}/metrics`)).text();
  for (const sex of ['Male', 'Female']) {
    const idx = rows.map((r, i) => (r.sex === sex ? i : -1)).filter((i) => i >= 0);
    const pos = idx.filter((i) => labels[i] === '>50K');
    const neg = idx.filter((i) => labels[i] !== '>50K');
    const expected = {
      accuracy: idx.filter((i) => predicted[i] === labels[i]).length / idx.length,
      true_positive_rate: pos.filter((i) => predicted[i] === '>50K').length / pos.length,
      false_positive_rate: neg.filter((i) => predicted[i] === '>50K').length / neg.length,
    };
    assert.ok(pos.length > 0 && neg.length > 0, `${sex}: the fixture has both labels`);
    for (const [metric, v] of Object.entries(expected)) {
      assert.equal(metricValue(after, 'berth_fairness_group_quality', { model: 'income', version: '1', attribute: 'sex', group: sex, metric }), v, `${sex} ${metric}`);
    }
  }
  assert.ok(metricValue(after, 'berth_fairness_equalized_odds_difference', { model: 'income', version: '1', attribute: 'sex' }) !== undefined);

  await s.app.decisionLog!.flush();
  const logged = (await (await fetch(`${s.url}/api/predictions?model=income&id=b0/3`)).json() as { predictions: any[] }).predictions[0];
  assert.deepEqual(logged.detail.context, { sex: String(rows[3]!.sex), race: String(rows[3]!.race), region: 'north' });

  // A context that is not an object of scalars, or another parameter, is refused naming the field.
  const nested = await post(`${s.url}/v1/models/income:predict`, { instances: rows.slice(0, 1), parameters: { context: { region: ['north'] } } });
  assert.equal(nested.status, 400);
  assert.match(nested.json.error, /^parameters\.context\.region: expected a string, finite number or boolean/);
  const other = await post(`${s.url}/v1/models/income:predict`, { instances: rows.slice(0, 1), parameters: { explain: true } });
  assert.equal(other.status, 400);
  assert.match(other.json.error, /^parameters\.explain: not a predict parameter/);
});
