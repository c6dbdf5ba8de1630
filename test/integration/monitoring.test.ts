/**
 * Live monitoring through the real server: the `income` example (with its reference profile)
 * on loopback, decisions logged to SQLite in a temporary data directory, ground truth sent
 * back through the feedback endpoint, and an Alertmanager-style webhook receiver on
 * loopback. Checks live accuracy against the accuracy computed here from the responses,
 * the feedback endpoint's answers to unknown ids and bad bodies, the decision-log query API,
 * drift on shifted traffic (age only), the gauges, and alerts firing to the webhook.
 * The monitor's evaluation is driven with monitor.tick() so nothing waits on its timer.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readIncomeRows, type IncomeRows } from '../e2e/load.js';
import { EXAMPLES, ROOT, getJson, postJson, startServer, type TestServer } from '../helpers/server.js';
import { metricValue } from '../helpers/metrics.js';

interface Answer {
  id: string;
  /** Row of the Adult test split it came from. */
  row: number;
  /** argmax of the returned probabilities. */
  predicted: number;
}

/** Sends rows `from`..`from+count` one request each, `concurrency` at a time; returns the answers in row order. */
async function infer(server: TestServer, rows: IncomeRows, prefix: string, from: number, count: number, shift?: (row: Float32Array) => void, concurrency = 8): Promise<Answer[]> {
  const answers: Answer[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const k = next++;
      const row = from + k;
      const data = rows.features.slice(row * rows.width, (row + 1) * rows.width);
      shift?.(data);
      const id = `${prefix}-${row}`;
      const res = await postJson(`${server.url}/v2/models/income/infer`, { id, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, rows.width], data: Array.from(data) }] });
      assert.equal(res.status, 200, JSON.stringify(res.json));
      assert.equal(res.json.id, id);
      const probs = (res.json.outputs as { name: string; data: number[] }[]).find((o) => o.data.length === 2)!.data;
      answers[k] = { id, row, predicted: probs[1]! > probs[0]! ? 1 : 0 };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return answers;
}

/** A webhook receiver on loopback collecting Alertmanager payloads. */
async function webhookReceiver(): Promise<{ url: string; payloads: any[]; close(): Promise<void> }> {
  const payloads: any[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      payloads.push(JSON.parse(body));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    payloads,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('live monitoring end to end: feedback, accuracy, the decision log API, drift, gauges and alerts to a webhook', { timeout: 120_000 }, async (t) => {
  const rows = readIncomeRows(ROOT);
  const hook = await webhookReceiver();
  t.after(() => hook.close());
  const repo = mkdtempSync(join(tmpdir(), 'berth-monitoring-repo-'));
  cpSync(join(EXAMPLES, 'income'), join(repo, 'income'), { recursive: true });
  const server = await startServer({
    repo,
    config: {
      // Evaluations come from monitor.tick() below; the timer stays out of the way.
      monitoring: { evaluationIntervalMs: 3_600_000, driftWindowSeconds: 1, driftMinRows: 100, minLabelled: 20 },
      alerting: { webhooks: [{ url: hook.url, initialBackoffMs: 10 }] },
      models: { alerts: [
        { name: 'AccuracyDrop', for: '0s' },
        { name: 'DataDrift', for: '0s' },
        // The defaults' latency and memory rules could fire on a busy machine; this test looks at the two above.
        { name: 'HighLatency', enabled: false },
        { name: 'HighMemory', enabled: false },
      ] },
    },
  });
  t.after(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });
  const monitor = server.app.monitor!;
  const u = server.url;

  const models = await getJson(`${u}/api/models`);
  const income = models.json.models.find((m: { name: string }) => m.name === 'income').versions[0];
  assert.equal(income.task, 'classification');
  assert.equal(income.drift, true, 'the reference profile shipped with the example is used');
  const classes: string[] = income.classes;
  assert.equal(classes.length, 2);

  // --- unshifted traffic, labelled at once (the decision may still be in the logger's buffer) ---
  const before = await infer(server, rows, 'calm', 0, 300);
  for (const a of before.slice(0, 10)) {
    const res = await postJson(`${u}/v2/models/income/feedback`, { id: a.id, label: rows.labels[a.row] });
    assert.deepEqual([res.status, res.json], [200, { attached: 1 }], `feedback right after the answer for ${a.id}`);
  }
  // The rest as one batch, labels given as class names this time.
  const batch = before.slice(10, 200).map((a) => ({ id: a.id, label: classes[rows.labels[a.row]!] }));
  assert.deepEqual((await postJson(`${u}/v2/models/income/feedback`, { feedback: batch })).json, { attached: 190 });

  const labelled = before.slice(0, 200);
  const expectedAccuracy = labelled.filter((a) => a.predicted === rows.labels[a.row]).length / labelled.length;
  await monitor.tick();
  const q1 = (await getJson(`${u}/api/quality?model=income`)).json.quality;
  assert.equal(q1.labelled, 200);
  assert.equal(q1.classification.count, 200);
  assert.ok(Math.abs(q1.classification.accuracy - expectedAccuracy) < 1e-12, `live accuracy ${q1.classification.accuracy} = accuracy of the responses ${expectedAccuracy}`);
  assert.ok(q1.estimatedAccuracy > 0.5 && q1.estimatedAccuracy <= 1, 'the confidence-based estimate is there, in range');
  assert.ok(Math.abs(q1.validatedAccuracy - 0.856) < 0.001, 'validated accuracy from the model metadata');

  // --- feedback errors: nothing attached silently, every problem named ---
  const unknown = await postJson(`${u}/v2/models/income/feedback`, { id: 'never-served', label: 1 });
  assert.equal(unknown.status, 404);
  assert.deepEqual(unknown.json.unknown, ['never-served']);
  assert.equal(unknown.json.code, 'BERTH_ERR_DECISION_NOT_FOUND');
  assert.match(unknown.json.error, /never-served/);
  const mixed = await postJson(`${u}/v2/models/income/feedback`, { feedback: [{ id: before[250]!.id, label: 0 }, { id: 'nope', label: 0 }] });
  assert.equal(mixed.status, 404);
  assert.equal(mixed.json.attached, 1);
  assert.deepEqual(mixed.json.unknown, ['nope']);
  const bad: [unknown, RegExp][] = [
    ['{"id": "x", ', /JSON/i],
    [{ label: 1 }, /id/],
    [{ id: before[0]!.id }, /label/],
    [{ id: before[0]!.id, label: { a: 1 } }, /label/],
    [{ feedback: [] }, /feedback/],
    [{ feedback: [{ id: before[0]!.id, label: 1 }, { id: 7, label: 1 }] }, /feedback\[1\]/],
  ];
  for (const [body, message] of bad) {
    const res = await postJson(`${u}/v2/models/income/feedback`, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.json.error, message, JSON.stringify(body));
  }
  const noModel = await postJson(`${u}/v2/models/nosuch/feedback`, { id: 'a', label: 1 });
  assert.deepEqual([noModel.status, noModel.json.code], [404, 'BERTH_ERR_MODEL_NOT_FOUND']);
  const noVersion = await getJson(`${u}/api/quality?model=income&version=9`);
  assert.deepEqual([noVersion.status, noVersion.json.code], [404, 'BERTH_ERR_VERSION_NOT_FOUND']);

  // --- the decision log query API ---
  const latest = await getJson(`${u}/api/predictions?model=income&limit=5`);
  assert.equal(latest.status, 200);
  assert.equal(latest.json.predictions.length, 5);
  const p = latest.json.predictions[0];
  for (const field of ['id', 'time', 'model', 'version', 'inputs', 'inputsHash', 'outputs', 'latencyMs', 'batchSize', 'outcome']) assert.ok(field in p, `a prediction has ${field}`);
  const times = latest.json.predictions.map((d: { time: number }) => d.time);
  assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  const one = await getJson(`${u}/api/predictions?model=income&id=${before[3]!.id}`);
  assert.equal(one.json.predictions.length, 1);
  // Class indices are stored as the class names the monitor compares with predictions.
  assert.equal(one.json.predictions[0].label, classes[rows.labels[before[3]!.row]!], 'the label attached by feedback comes back with the decision');
  assert.equal(one.json.predictions[0].inputs[0].data.length, rows.width);
  assert.ok(Math.abs(one.json.predictions[0].inputs[0].data[0] - rows.features[before[3]!.row * rows.width]!) < 1e-6);
  // since is inclusive, until exclusive.
  const at = one.json.predictions[0].time as number;
  const inWindow = async (since: number, until: number): Promise<boolean> =>
    (await getJson(`${u}/api/predictions?model=income&since=${since}&until=${until}&limit=10000`)).json.predictions.some((d: { id: string }) => d.id === before[3]!.id);
  assert.equal(await inWindow(at, at + 1), true, 'since = time includes it');
  assert.equal(await inWindow(at - 1000, at), false, 'until = time excludes it');
  assert.equal(await inWindow(at + 1, at + 1000), false, 'since after it excludes it');
  assert.equal((await getJson(`${u}/api/predictions?model=income&labelled=true&limit=10000`)).json.predictions.length, 201);
  for (const q of ['limit=0', 'limit=abc', 'since=yesterday', 'labelled=maybe']) {
    const res = await getJson(`${u}/api/predictions?model=income&${q}`);
    assert.equal(res.status, 400, q);
    assert.match(res.json.error, new RegExp(q.split('=')[0]!), q);
  }
  assert.equal((await getJson(`${u}/api/predictions?model=nosuch`)).status, 404);

  // No drift and no alert yet: the traffic looks like the reference data.
  await new Promise((r) => setTimeout(r, 1100));
  await monitor.tick();
  const calm = (await getJson(`${u}/api/drift?model=income`)).json.drift;
  assert.equal(calm.report.verdict.drift, false, `unshifted traffic: ${calm.report.verdict.driftedFeatures}`);
  assert.deepEqual((await getJson(`${u}/api/alerts`)).json.alerts.filter((a: { status?: string; state?: string }) => (a.state ?? a.status) === 'firing'), []);

  // --- shifted traffic: older applicants (standardised age + 1.2), the world's labels flipped ---
  const after = await infer(server, rows, 'shifted', 1000, 400, (row) => { row[0] = row[0]! + 1.2; });
  const flipped = after.map((a) => ({ id: a.id, label: 1 - rows.labels[a.row]! }));
  assert.deepEqual((await postJson(`${u}/v2/models/income/feedback`, { feedback: flipped })).json, { attached: 400 });
  await new Promise((r) => setTimeout(r, 1100));
  await monitor.tick();

  const drift = (await getJson(`${u}/api/drift?model=income`)).json.drift;
  assert.equal(drift.report.verdict.drift, true);
  assert.deepEqual(drift.report.verdict.driftedFeatures, ['age'], 'age drifts and nothing else');
  // Every label sent: the 200 true ones, before[250] labelled 0 by the mixed batch, the 400 flipped ones.
  const sent: [Answer, number][] = [
    ...labelled.map((a): [Answer, number] => [a, rows.labels[a.row]!]),
    [before[250]!, 0],
    ...after.map((a): [Answer, number] => [a, 1 - rows.labels[a.row]!]),
  ];
  const expected = sent.filter(([a, label]) => a.predicted === label).length / sent.length;
  const q2 = (await getJson(`${u}/api/quality?model=income`)).json.quality;
  assert.equal(q2.labelled, 601);
  assert.ok(Math.abs(q2.classification.accuracy - expected) < 1e-12, `${q2.classification.accuracy} vs ${expected}`);

  await server.app.decisionLog!.flush();
  const metrics = await (await fetch(`${u}/metrics`)).text();
  const v = { model: 'income', version: '1' };
  assert.equal(metricValue(metrics, 'berth_drift_detected', { ...v, feature: '' }), 1);
  assert.equal(metricValue(metrics, 'berth_drift_detected', { ...v, feature: 'age' }), 1);
  assert.equal(metricValue(metrics, 'berth_drift_detected', { ...v, feature: 'education-num' }), 0);
  assert.ok(Math.abs(metricValue(metrics, 'berth_model_quality', { ...v, metric: 'accuracy' })! - expected) < 1e-9);
  assert.equal(metricValue(metrics, 'berth_model_labelled_decisions', v), 601);
  assert.equal(metricValue(metrics, 'berth_feedback_total', { model: 'income', outcome: 'attached' }), 601);
  assert.equal(metricValue(metrics, 'berth_feedback_total', { model: 'income', outcome: 'unknown' }), 2);
  assert.match(metrics, /^berth_decisions_logged_total 700$/m, 'every decision written to the store');
  assert.match(metrics, /^berth_decisions_dropped_total\{reason="buffer_full"\} 0$/m);

  // --- the alerts fire and reach the webhook in Alertmanager's format ---
  const firing = await until('AccuracyDrop and DataDrift at the webhook', async () => {
    const names = new Map<string, any>();
    for (const payload of hook.payloads) for (const a of payload.alerts) if (a.status === 'firing') names.set(a.labels.alertname, { payload, alert: a });
    return names.has('AccuracyDrop') && names.has('DataDrift') ? names : undefined;
  });
  const { payload, alert } = firing.get('AccuracyDrop');
  assert.equal(payload.version, '4');
  assert.equal(payload.status, 'firing');
  assert.equal(alert.labels.model, 'income');
  assert.equal(alert.labels.version, '1');
  assert.equal(alert.labels.severity, 'critical');
  assert.match(alert.annotations.summary, /below its validated value/);
  assert.equal(alert.endsAt, '0001-01-01T00:00:00Z');
  assert.match(alert.fingerprint, /^[0-9a-f]{16}$/);
  const listed = (await getJson(`${u}/api/alerts`)).json.alerts.map((a: { labels: { alertname: string } }) => a.labels.alertname);
  assert.ok(listed.includes('AccuracyDrop') && listed.includes('DataDrift'), listed.join(', '));
});

test('above driftMaxRowsPerSecond the drift window keeps a sample of the rows, and still finds the drift', { timeout: 60_000 }, async (t) => {
  const rows = readIncomeRows(ROOT);
  const repo = mkdtempSync(join(tmpdir(), 'berth-monitoring-repo-'));
  cpSync(join(EXAMPLES, 'income'), join(repo, 'income'), { recursive: true });
  const server = await startServer({
    repo,
    config: { monitoring: { evaluationIntervalMs: 3_600_000, driftWindowSeconds: 1, driftMinRows: 50, driftMaxRowsPerSecond: 40 } },
  });
  t.after(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });
  // Shifted traffic for 3 s, several hundred rows a second.
  let served = 0;
  const end = Date.now() + 3000;
  while (Date.now() < end) {
    await infer(server, rows, `s${served}`, served % 10_000, 50, (row) => { row[0] = row[0]! + 1.2; });
    served += 50;
  }
  await server.app.monitor!.tick(); // folds in what is pending (the window is older than 1 s)
  const snap = (await getJson(`${server.url}/api/drift?model=income`)).json.drift;
  const kept = snap.report.current.rows as number;
  assert.ok(served > 300, `${served} rows served`);
  // The first second is kept whole (no rate known yet), later ones about 40 rows each; how many
  // rows a second this machine serves depends on its load, so only "some were left out" is
  // certain (regression: kept < served / 2 failed on a loaded machine, 321 of 600).
  assert.ok(kept < served && kept >= 50, `kept ${kept} of ${served}`);
  assert.ok(Math.abs(snap.sampleRate - kept / served) < 1e-9 && snap.sampleRate < 1);
  // The shifted column is found. How many rows are kept depends on the machine's speed, and on a
  // small kept sample one of the 11 unshifted columns may pass its test by chance (regression:
  // a clean-clone CI run also flagged 'occupation'), so no other column is required to stay quiet.
  assert.ok((snap.report.verdict.driftedFeatures as string[]).includes('age'), JSON.stringify(snap.report.verdict.driftedFeatures));
});

test('regression: feedback labels outside the model\'s classes ("rich", 7, -1, 1.5, 1e300) were accepted and counted as wrong predictions', { timeout: 60_000 }, async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-labels-repo-'));
  cpSync(join(EXAMPLES, 'income'), join(repo, 'income'), { recursive: true });
  const server = await startServer({ repo });
  t.after(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });
  const rows = readIncomeRows(ROOT);
  const [a, b, c] = await infer(server, rows, 'lab', 0, 3);
  const u = server.url;
  for (const label of ['rich', 7, -1, 1.5, 1e300, 2, '', '>50 K']) {
    const res = await postJson(`${u}/v2/models/income/feedback`, { id: a!.id, label });
    assert.equal(res.status, 400, `label ${JSON.stringify(label)}: ${JSON.stringify(res.json)}`);
    assert.match(res.json.error, /^body\.label: /, 'names the field');
    if (label !== '') assert.match(res.json.error, /expected one of '<=50K', '>50K' \(or the class index 0–1\)/, 'lists the valid labels');
  }
  const inBatch = await postJson(`${u}/v2/models/income/feedback`, { feedback: [{ id: a!.id, label: 1 }, { id: b!.id, label: 'rich' }] });
  assert.equal(inBatch.status, 400);
  assert.match(inBatch.json.error, /^feedback\[1\]\.label: 'rich' is not a class of model 'income'/);
  // Nothing of a refused request is attached.
  assert.equal((await getJson(`${u}/api/predictions?model=income&labelled=true`)).json.predictions.length, 0);

  // The preprocessing spec's label rule applies first: adult.test's '>50K.' is '>50K'; class indices work too.
  const ok = await postJson(`${u}/v2/models/income/feedback`, { feedback: [{ id: a!.id, label: ' >50K.' }, { id: b!.id, label: '<=50K' }, { id: c!.id, label: 0 }] });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  const labels = new Map(((await getJson(`${u}/api/predictions?model=income&labelled=true`)).json.predictions as { id: string; label: string }[]).map((d) => [d.id, d.label]));
  assert.deepEqual([labels.get(a!.id), labels.get(b!.id), labels.get(c!.id)], ['>50K', '<=50K', '<=50K']);
});
