/**
 * Explanations in the decision log (explain/decision-explainer): with the income example's
 * `explain.log: adverse`, every rejected applicant's logged decision gets its explanation
 * (attributions, reasons, counterfactual) attached after the response, approved ones none;
 * an explainer that is behind skips and counts instead of queueing without bound; policy
 * `off` explains nothing. Checked on the real server, store and model.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { metricValue } from '../helpers/metrics.js';

const ROOT = join(import.meta.dirname, '../..');
const background = (JSON.parse(readFileSync(join(ROOT, 'examples/models/income/1/explain.background.json'), 'utf8')) as { records: Record<string, unknown>[] }).records;

function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json() }));
}

async function incomeServer(t: TestContext, berthYaml?: (text: string) => string, config?: Record<string, unknown>): Promise<TestServer> {
  const repo = mkdtempSync(join(tmpdir(), 'berth-explain-log-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  cpSync(join(ROOT, 'examples/models/income'), join(repo, 'income'), { recursive: true });
  if (berthYaml !== undefined) {
    const file = join(repo, 'income/berth.yaml');
    writeFileSync(file, berthYaml(readFileSync(file, 'utf8')));
  }
  const s = await startServer({ repo, ...(config === undefined ? {} : { config }) });
  t.after(() => s.close());
  return s;
}

async function logged(s: TestServer): Promise<any[]> {
  await s.app.explainer!.settled();
  await s.app.decisionLog!.flush();
  const r = await fetch(`${s.url}/api/predictions?model=income&limit=1000`);
  return ((await r.json()) as { predictions: any[] }).predictions;
}

async function metrics(s: TestServer): Promise<string> {
  return (await fetch(`${s.url}/metrics`)).text();
}

test('explain.log adverse: each rejected decision is stored with its explanation (efficient, its served probability, reasons and a counterfactual), approved ones without', async (t) => {
  const s = await incomeServer(t);
  const r = await post(`${s.url}/v1/models/income:predict`, { id: 'batch', instances: background.slice(0, 8) });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const outcomes = (r.json.predictions as any[]).map((p) => p.outcome);
  assert.ok(outcomes.includes('rejected') && outcomes.includes('approved'), `the fixture has both outcomes: ${outcomes.join(', ')}`);

  const decisions = await logged(s);
  assert.equal(decisions.length, 8);
  for (const d of decisions) {
    const shown = d.detail.decision;
    if (shown.outcome === 'approved') {
      assert.equal(d.explanation, undefined, `${d.id}: approved decisions are not explained under 'adverse'`);
      continue;
    }
    const e = d.explanation;
    assert.ok(e !== undefined, `${d.id}: a rejected decision has its explanation`);
    assert.equal(e.method, 'exact');
    assert.equal(String(e.version), '1');
    assert.deepEqual(e.output, { name: 'probabilities', class: '>50K' });
    assert.ok(Math.abs(e.value - shown.probability) < 1e-6, `${d.id}: f(x) ${e.value} is the served probability ${shown.probability}`);
    const sum = (e.attributions as any[]).reduce((a: number, x: any) => a + x.contribution, 0);
    assert.ok(Math.abs(sum - (e.value - e.base_value)) < 1e-9, `${d.id}: Σφ = f(x) − E[f]`);
    assert.ok(e.reasons.length > 0 && e.reasons.every((x: any) => x.contribution < 0), `${d.id}: reasons lowered P(>50K)`);
    assert.ok(e.counterfactual !== undefined, `${d.id}: an adverse decision's counterfactual is stored`);
  }
  const rejected = outcomes.filter((o) => o === 'rejected').length;
  const text = await metrics(s);
  assert.equal(metricValue(text, 'berth_explanations_total', { model: 'income', result: 'attached' }), rejected);
  assert.equal(metricValue(text, 'berth_explanations_pending', {}), 0);
});

test('an explainer that is behind skips and counts (queue of 1: one running, one waiting), never holding up the responses', async (t) => {
  const s = await incomeServer(t, undefined, { monitoring: { explainQueueSize: 1 } });
  // Rejected applicants only: the first background records the model rejects.
  const probe = await post(`${s.url}/v1/models/income:predict`, { instances: background });
  const rejected = background.filter((_, i) => probe.json.predictions[i].outcome === 'rejected').slice(0, 6);
  assert.equal(rejected.length, 6, 'the background has 6 rejected applicants');
  await logged(s);
  const before = s.app.explainer!.stats.results;

  // One request: its rows are offered together, so the queue (1) holds one while one runs.
  const r = await post(`${s.url}/v1/models/income:predict`, { id: 'burst', instances: rejected });
  assert.equal(r.status, 200);
  const decisions = (await logged(s)).filter((d) => d.id.startsWith('burst/'));
  const after = s.app.explainer!.stats.results;
  assert.equal(after.attached - before.attached, 2);
  assert.equal(after.skipped - before.skipped, 4);
  assert.equal(decisions.filter((d) => d.explanation !== undefined).length, 2, 'the two explained are stored');
  const text = await metrics(s);
  assert.equal(metricValue(text, 'berth_explanations_total', { model: 'income', result: 'skipped' }), after.skipped);
});

test('explain.log off: nothing is explained or counted', async (t) => {
  const s = await incomeServer(t, (y) => y.replace(/^  log: adverse$/m, '  log: off'));
  const r = await post(`${s.url}/v1/models/income:predict`, { instances: background.slice(0, 8) });
  assert.equal(r.status, 200);
  const decisions = await logged(s);
  assert.equal(decisions.length, 8);
  assert.ok(decisions.every((d) => d.explanation === undefined));
  assert.equal(s.app.explainer!.stats.selected, 0);
});

test('explain.log sampled with logRate 1 explains approved decisions too; an unknown policy refuses the version naming the field', async (t) => {
  const s = await incomeServer(t, (y) => y.replace(/^  log: adverse$/m, '  log: sampled\n  logRate: 1'));
  await post(`${s.url}/v1/models/income:predict`, { instances: background.slice(0, 4) });
  const decisions = await logged(s);
  assert.equal(decisions.length, 4);
  assert.ok(decisions.every((d) => d.explanation !== undefined), 'every decision explained at rate 1');

  const bad = await incomeServer(t, (y) => y.replace(/^  log: adverse$/m, '  log: sometimes'));
  const ready = await fetch(`${bad.url}/v2/models/income/ready`);
  assert.notEqual(ready.status, 200);
  const index = await (await fetch(`${bad.url}/v2/repository/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json() as any[];
  const entry = index.find((m) => m.name === 'income');
  assert.match(entry.reason, /explain\.log: expected one of "off", "adverse", "sampled", "all", got "sometimes"/);
});
