/**
 * The decision path on the income example: raw records through the version's pipeline
 * (KServe V1 rows and columns, V2 with content_type "pd") give exactly what the rows
 * encoded by the training script (examples/data/adult/test-encoded.f32.gz, written by
 * train.py in Python) give as tensors; the anomaly layer flags, rejects or stays silent per
 * policy; every row of a batched request is its own decision that feedback labels alone;
 * refused requests are logged with their reason.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildAnomalyProfile } from '../../src/anomaly/profile.js';
import { checkTabularSpec } from '../../src/preprocessing/tabular.js';
import { getJson, startServer, type TestServer } from '../helpers/server.js';
import { digitsImages, incomeFeatures, infer, metricSum, outputValues, scrape, waitFor } from '../helpers/v2.js';

const ROOT = join(import.meta.dirname, '../..');
const INCOME = join(ROOT, 'examples/models/income');
const WIDTH = 91;
const COLUMNS = ['age', 'workclass', 'fnlwgt', 'education', 'education-num', 'marital-status', 'occupation', 'relationship', 'race', 'sex', 'capital-gain', 'capital-loss', 'hours-per-week', 'native-country'];
const NUMERIC = new Set(['age', 'fnlwgt', 'education-num', 'capital-gain', 'capital-loss', 'hours-per-week']);

/** The first `n` Adult test rows as a client would send them (numbers as numbers, a missing value as ""). */
function testRecords(n: number): Record<string, unknown>[] {
  const lines = gunzipSync(readFileSync(join(ROOT, 'examples/data/adult/adult.test.gz'))).toString('utf8').split('\n');
  return lines.filter((l) => l.trim() !== '' && !l.startsWith('|')).slice(0, n).map((line) => {
    const fields = line.split(',').map((f) => f.trim());
    return Object.fromEntries(COLUMNS.map((c, i) => [c, NUMERIC.has(c) ? Number(fields[i]) : fields[i]]));
  });
}

function post(url: string, body: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json(), headers: r.headers }));
}

/** A repository with the income example three times, one per anomaly policy, each with an anomaly profile. */
function makeRepo(): string {
  const repo = mkdtempSync(join(tmpdir(), 'berth-decision-'));
  const spec = checkTabularSpec(JSON.parse(readFileSync(join(INCOME, 'preprocessing.json'), 'utf8')), 'preprocessing.json');
  // The profile from test rows 1000.. (the requests use rows 0..23): what `berth reference` writes from training rows.
  const all = incomeFeatures();
  const rows = all.subarray(1000 * WIDTH);
  const profile = buildAnomalyProfile(rows, rows.length / WIDTH, WIDTH, { input: 'features', spec });
  for (const [name, policy] of [['income', 'flag'], ['income-reject', 'reject'], ['income-off', 'off']] as const) {
    cpSync(INCOME, join(repo, name), { recursive: true });
    writeFileSync(join(repo, name, '1', 'anomaly.profile.json'), JSON.stringify(profile));
    writeFileSync(join(repo, name, 'berth.yaml'), `decision:\n  threshold: 0.5\n  positiveOutcome: approved\n  negativeOutcome: rejected\nanomaly:\n  policy: ${policy}\n`);
  }
  return repo;
}

async function withServer(t: { after(fn: () => unknown): void }): Promise<TestServer> {
  const repo = makeRepo();
  const s = await startServer({ repo });
  t.after(async () => {
    await s.close();
    rmSync(repo, { recursive: true, force: true });
  });
  return s;
}

async function stored(s: TestServer, model: string, id: string): Promise<any> {
  return waitFor(`decision ${id} stored`, async () => ((await getJson(`${s.url}/api/predictions?model=${model}&id=${encodeURIComponent(id)}`)).json.predictions as any[])[0]);
}

test('raw records in V1 rows, V1 columns and V2 "pd" give exactly the outputs of the rows train.py encoded, sent as a tensor', async (t) => {
  const s = await withServer(t);
  const n = 24;
  const records = testRecords(n);
  const encoded = Array.from(incomeFeatures().subarray(0, n * WIDTH));
  const tensor = await infer(`${s.url}/v2/models/income/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [n, WIDTH], data: encoded }] });
  assert.equal(tensor.status, 200, JSON.stringify(tensor.json));
  const expected = outputValues(tensor, 'probabilities') as number[];

  const rows = await post(`${s.url}/v1/models/income:predict`, { instances: records });
  assert.equal(rows.status, 200, JSON.stringify(rows.json));
  const columns = await post(`${s.url}/v1/models/income/versions/1:predict`, { inputs: Object.fromEntries(COLUMNS.map((c) => [c, records.map((r) => r[c])])) });
  assert.equal(columns.status, 200, JSON.stringify(columns.json));
  const pd = await infer(`${s.url}/v2/models/income/infer`, {
    parameters: { content_type: 'pd' },
    inputs: COLUMNS.map((c) => ({ name: c, datatype: NUMERIC.has(c) ? 'INT64' : 'BYTES', shape: [n], data: records.map((r) => r[c]) })),
  });
  assert.equal(pd.status, 200, JSON.stringify(pd.json));
  assert.deepEqual(outputValues(pd, 'probabilities'), expected, 'V2 "pd" outputs');
  for (const [what, r] of [['V1 rows', rows], ['V1 columns', columns]] as const) {
    const got = (r.json.predictions as any[]).flatMap((p) => [p.probabilities['<=50K'], p.probabilities['>50K']]);
    assert.deepEqual(got, expected, what);
  }
  // The decision a person reads: class, positive-class probability, outcome by the configured threshold.
  (rows.json.predictions as any[]).forEach((p, i) => {
    assert.equal(p.probability, expected[2 * i + 1]);
    assert.equal(p.class, expected[2 * i + 1]! >= 0.5 ? '>50K' : '<=50K');
    assert.equal(p.outcome, expected[2 * i + 1]! >= 0.5 ? 'approved' : 'rejected');
    assert.equal(p.adverse, p.outcome === 'rejected');
  });
  assert.deepEqual((pd.json.parameters.decisions as any[]).map((d) => d.outcome), (rows.json.predictions as any[]).map((p) => p.outcome));
  // The metadata says what a record holds.
  const meta = await getJson(`${s.url}/v1/models/income/metadata`);
  assert.equal(meta.json.takes, 'records');
  assert.ok((meta.json.fields as any[]).some((f) => f.name === 'workclass' && f.categories.includes('State-gov')));
  const status = await getJson(`${s.url}/v1/models/income`);
  assert.deepEqual(status.json.model_version_status, [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }]);
});

test('anomaly policy flag: each field-level kind is flagged on a served row, named in the response, logged and counted; rows that cannot be encoded are refused and logged', async (t) => {
  const s = await withServer(t);
  const [base] = testRecords(1) as [Record<string, unknown>];
  const cases: [string, string, Record<string, unknown>][] = [
    ['out_of_range', 'age', { ...base, age: 150 }],
    ['unseen_category', 'workclass', { ...base, workclass: 'Martian' }],
    ['unknown_field', 'favourite-colour', { ...base, 'favourite-colour': 'blue' }],
  ];
  const r = await post(`${s.url}/v1/models/income:predict`, { id: 'edge', instances: [base, ...cases.map((c) => c[2])] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const predictions = r.json.predictions as any[];
  assert.equal(predictions[0].flags, undefined, 'a test row as it is: no flag');
  cases.forEach(([kind, field], i) => {
    const flags = predictions[i + 1].flags as any[];
    assert.ok(flags.some((f) => f.kind === kind && f.field === field), `${kind} on ${field}: ${JSON.stringify(flags)}`);
  });
  // A tensor request is checked in input space: 1e30 in a feature is out of the training range.
  const huge = Array.from(incomeFeatures().subarray(0, WIDTH));
  huge[3] = 1e30;
  const tensor = await infer(`${s.url}/v2/models/income/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, WIDTH], data: huge }] });
  assert.equal(tensor.status, 200);
  assert.ok((tensor.json.parameters.anomalies as any[]).some((f) => f.kind === 'out_of_range' && f.field === 'features[3]'), JSON.stringify(tensor.json.parameters));

  // Each row is its own decision, with its flags, raw record and pipeline hash.
  const row1 = await stored(s, 'income', 'edge/1');
  assert.deepEqual(row1.flags, ['out_of_range:age']);
  assert.equal(row1.detail.record.age, 150);
  assert.equal(row1.detail.pipeline.hash, JSON.parse(readFileSync(join(INCOME, 'preprocessing.json'), 'utf8')).hash ?? row1.detail.pipeline.hash);
  assert.match(row1.detail.pipeline.hash, /^[0-9a-f]{64}$/);
  assert.equal(row1.detail.requestId, 'edge');
  assert.equal(row1.detail.decision.outcome, predictions[1].outcome);

  // Records that cannot be encoded: 422 naming every field, whatever the policy; logged with the reason.
  const broken = await post(`${s.url}/v1/models/income:predict`, { id: 'broken', instances: [{ ...base, age: 'NaN' }, { ...base, 'hours-per-week': 'forty' }, Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'sex'))] });
  assert.equal(broken.status, 422);
  assert.equal(broken.json.code, 'BERTH_ERR_INVALID_RECORD');
  for (const part of ["row 0: 'age' is \"NaN\"", "row 1: 'hours-per-week' is \"forty\"", "row 2: 'sex' is missing"]) assert.ok(broken.json.error.includes(part), `${part} in ${broken.json.error}`);
  const refused = await stored(s, 'income', 'broken/0');
  assert.equal(refused.outcome, 'invalid');
  assert.equal(refused.detail.reason.code, 'BERTH_ERR_INVALID_RECORD');
  assert.deepEqual(refused.outputs, []);

  // The AnomalyRate alert's signal: flagged rows ÷ checked rows in the window (7 of the 8 rows checked here).
  const signals = await s.app.monitor!.tick();
  const rate = signals.find((x) => x.signal === 'anomaly_rate' && x.model === 'income');
  assert.ok(rate !== undefined && rate.value > 0.3 && rate.value <= 1, JSON.stringify(rate));
  const samples = await scrape(s.url);
  assert.ok(metricSum(samples, 'berth_anomaly_rows_total', { model: 'income', flagged: 'false' }) >= 1);
  assert.ok(metricSum(samples, 'berth_anomaly_rows_total', { model: 'income', flagged: 'true' }) >= 7);
  for (const kind of ['out_of_range', 'unseen_category', 'unknown_field', 'non_finite', 'wrong_type', 'missing_field']) {
    assert.ok(metricSum(samples, 'berth_anomalies_total', { model: 'income', kind }) >= 1, `berth_anomalies_total{kind="${kind}"}`);
  }
});

test('anomaly policy reject answers 422 naming the field and value and logs the refusal; policy off serves the row unflagged', async (t) => {
  const s = await withServer(t);
  const [base] = testRecords(1) as [Record<string, unknown>];
  const odd = { ...base, age: 150, workclass: 'Martian' };
  const rejected = await post(`${s.url}/v1/models/income-reject:predict`, { id: 'odd', instances: [odd] });
  assert.equal(rejected.status, 422);
  assert.equal(rejected.json.code, 'BERTH_ERR_ANOMALY_REJECTED');
  assert.match(rejected.json.error, /'age' is 150, outside the training range/);
  assert.match(rejected.json.error, /'workclass' is "Martian"/);
  const logged = await stored(s, 'income-reject', 'odd');
  assert.equal(logged.outcome, 'invalid');
  assert.equal(logged.detail.reason.code, 'BERTH_ERR_ANOMALY_REJECTED');
  assert.deepEqual([...logged.flags].sort(), ['out_of_range:age', 'unseen_category:workclass']);
  assert.equal((await post(`${s.url}/v1/models/income-reject:predict`, { instances: [base] })).status, 200, 'a usual row is served');

  const off = await post(`${s.url}/v1/models/income-off:predict`, { instances: [odd] });
  assert.equal(off.status, 200);
  assert.equal(off.json.predictions[0].flags, undefined);
  assert.equal((await post(`${s.url}/v1/models/income-off:predict`, { instances: [{ ...base, age: 'old' }] })).status, 422, 'a record that cannot be encoded is refused even with the layer off');
});

test('per-row feedback on a batched request: each row is its own decision `<id>/<row>`, labelled alone', async (t) => {
  const s = await withServer(t);
  const records = testRecords(3);
  const r = await post(`${s.url}/v1/models/income:predict`, { id: 'batch-9', instances: records });
  assert.equal(r.status, 200);
  assert.deepEqual((r.json.predictions as any[]).map((p) => p.id), ['batch-9/0', 'batch-9/1', 'batch-9/2']);
  await Promise.all([0, 1, 2].map((i) => stored(s, 'income', `batch-9/${i}`)));
  const fb = await post(`${s.url}/v2/models/income/feedback`, { id: 'batch-9/1', label: '>50K' });
  assert.equal(fb.status, 200, JSON.stringify(fb.json));
  const labels = await Promise.all([0, 1, 2].map(async (i) => (await stored(s, 'income', `batch-9/${i}`)).label ?? null));
  assert.deepEqual(labels, [null, '>50K', null]);
  // A batched tensor request names its rows' decision ids too.
  const tensor = await infer(`${s.url}/v2/models/income/infer`, { id: 'tensor-2', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, WIDTH], data: Array.from(incomeFeatures().subarray(0, 2 * WIDTH)) }] });
  assert.deepEqual(tensor.json.parameters.decision_ids, ['tensor-2/0', 'tensor-2/1']);
  const row = await stored(s, 'income', 'tensor-2/1');
  assert.deepEqual(row.inputs[0].shape, [1, WIDTH]);
  assert.equal(row.prediction.label, outputValues(tensor, 'label')[1] === 1n || outputValues(tensor, 'label')[1] === 1 ? '>50K' : '<=50K');
});

test('malformed raw-record requests get a 4xx naming the field, and the server keeps serving', async (t) => {
  const s = await withServer(t);
  const [base] = testRecords(1) as [Record<string, unknown>];
  const cases: [string, unknown, number, RegExp][] = [
    ['/v1/models/income:predict', { instances: 'x' }, 400, /^instances: expected an array/],
    ['/v1/models/income:predict', { instances: [] }, 400, /^instances: expected at least one row/],
    ['/v1/models/income:predict', { instances: [base], inputs: {} }, 400, /exactly one of "instances"/],
    ['/v1/models/income:predict', { instances: [7] }, 400, /^instances\[0\]: expected a record object/],
    ['/v1/models/income:predict', { inputs: { age: [1, 2], sex: ['Male'] } }, 400, /^inputs\.sex: 1 values, but inputs\.age has 2/],
    ['/v1/models/income:predict', { instances: [base], signature: 'x' }, 400, /^signature: not a field/],
    ['/v1/models/income:predict', { instances: Array(33).fill(base) }, 400, /33 records, more than the model's max_batch_size 32/],
    ['/v1/models/income:classify', { instances: [base] }, 404, /':classify' is not a V1 verb; use ':predict' or ':explain'/],
    ['/v1/models/nope:predict', { instances: [base] }, 404, /nope/],
    ['/v2/models/income/infer', { parameters: { content_type: 'pd' }, inputs: [{ name: 'age', datatype: 'INT64', shape: [2], data: [1] }] }, 400, /^input 'age'\.data: shape says 2 rows, data has 1 values/],
    ['/v2/models/income/infer', { parameters: { content_type: 'pd' }, inputs: [{ name: 'age', datatype: 'BYTES', shape: [1], data: [39] }] }, 400, /^input 'age'\.data\[0\]: 39 is not a string/],
    ['/v2/models/income/infer', { parameters: { content_type: 'csv' }, inputs: [] }, 400, /^parameters\.content_type: expected "pd"/],
  ];
  for (const [path, body, status, message] of cases) {
    const r = await post(`${s.url}${path}`, body);
    assert.equal(r.status, status, `${path} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(r.json)}`);
    assert.match(r.json.error, message);
  }
  // Bigger than 32 records can need: refused before it is parsed.
  const huge = await fetch(`${s.url}/v1/models/income:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [{ ...base, note: 'x'.repeat(1 << 20) }] }) });
  assert.equal(huge.status, 413);
  assert.equal(((await huge.json()) as { code: string }).code, 'BERTH_ERR_BODY_TOO_LARGE');
  assert.equal((await post(`${s.url}/v1/models/income:predict`, { instances: [base] })).status, 200);
});

test('image spec: digits pixel records through the version\'s pipeline give the outputs of the scaled tensor; a pixel outside [0, 16] is refused', async (t) => {
  const s = await startServer({ repo: (() => {
    const repo = mkdtempSync(join(tmpdir(), 'berth-digits-'));
    cpSync(join(ROOT, 'examples/models/digits'), join(repo, 'digits'), { recursive: true });
    t.after(() => rmSync(repo, { recursive: true, force: true }));
    return repo;
  })() });
  t.after(() => s.close());
  const n = 5;
  const images = digitsImages().subarray(0, n * 64);
  const tensor = await infer(`${s.url}/v2/models/digits/infer`, { inputs: [{ name: 'image', datatype: 'FP32', shape: [n, 1, 8, 8], data: Array.from(images) }] });
  assert.equal(tensor.status, 200);
  // The spec's source values: intensities 0..16 (the test images hold them scaled by 1/16, exactly).
  const records = Array.from({ length: n }, (_, i) => ({ pixels: Array.from(images.subarray(i * 64, (i + 1) * 64), (x) => x * 16) }));
  const r = await post(`${s.url}/v1/models/digits:predict`, { instances: records });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const expected = outputValues(tensor, 'probabilities') as number[];
  assert.deepEqual((r.json.predictions as any[]).flatMap((p) => Object.values(p.probabilities)), expected);
  const bad = await post(`${s.url}/v1/models/digits:predict`, { instances: [{ pixels: records[0]!.pixels.map((x, k) => (k === 9 ? 17 : x)) }, { pixels: [1, 2] }] });
  assert.equal(bad.status, 422);
  assert.match(bad.json.error, /row 0: pixels\[9\] is 17, outside the spec's range \[0, 16\]/);
  assert.match(bad.json.error, /row 1: 'pixels' must hold 64 numbers, got 2/);
});
