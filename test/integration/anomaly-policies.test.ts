/**
 * Every anomaly kind under every policy, on the income example served through its pipeline:
 * a record that cannot be encoded (missing field, wrong type, NaN) is refused with 422 under
 * any policy; the others are served and flagged (flag), refused with 422 naming the field
 * (reject), or served unflagged (off). Refusals are logged with their reason.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildAnomalyProfile } from '../../src/anomaly/profile.js';
import { checkTabularSpec } from '../../src/preprocessing/tabular.js';
import { getJson, startServer } from '../helpers/server.js';
import { incomeFeatures, waitFor } from '../helpers/v2.js';

const ROOT = join(import.meta.dirname, '../..');
const INCOME = join(ROOT, 'examples/models/income');
const WIDTH = 91;

/** The first row of adult.test, as a client sends it. */
const BASE: Record<string, unknown> = { age: 25, workclass: 'Private', fnlwgt: 226802, education: '11th', 'education-num': 7, 'marital-status': 'Never-married', occupation: 'Machine-op-inspct', relationship: 'Own-child', race: 'Black', sex: 'Male', 'capital-gain': 0, 'capital-loss': 0, 'hours-per-week': 40, 'native-country': 'United-States' };
const without = (k: string): Record<string, unknown> => Object.fromEntries(Object.entries(BASE).filter(([key]) => key !== k));

/** [kind, the record, the field named, whether the record can be encoded at all]. */
const KINDS: [string, Record<string, unknown>, string | undefined, boolean][] = [
  ['out_of_range', { ...BASE, age: 150 }, 'age', false],
  ['unseen_category', { ...BASE, workclass: 'Martian' }, 'workclass', false],
  ['unknown_field', { ...BASE, 'favourite-colour': 'blue' }, 'favourite-colour', false],
  // Every field within its training range and category list; jointly far from the training rows
  // (a 17-year-old widowed husband, female, from the rarest country): found on the profile below.
  ['ood', { ...BASE, age: 17, 'marital-status': 'Widowed', relationship: 'Husband', sex: 'Female', 'native-country': 'Holand-Netherlands' }, undefined, false],
  ['missing_field', without('sex'), 'sex', true],
  ['wrong_type', { ...BASE, 'hours-per-week': 'forty' }, 'hours-per-week', true],
  ['non_finite', { ...BASE, age: 'NaN' }, 'age', true],
];

function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, json: await r.json() }));
}

test('each anomaly kind under each policy: flag serves and names it, reject refuses naming it, off serves; unencodable records are refused under all three and logged', async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-policies-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  const spec = checkTabularSpec(JSON.parse(readFileSync(join(INCOME, 'preprocessing.json'), 'utf8')), 'preprocessing.json');
  const rows = incomeFeatures().subarray(1000 * WIDTH);
  const profile = buildAnomalyProfile(rows, rows.length / WIDTH, WIDTH, { input: 'features', spec });
  for (const policy of ['flag', 'reject', 'off']) {
    cpSync(INCOME, join(repo, policy), { recursive: true });
    writeFileSync(join(repo, policy, '1', 'anomaly.profile.json'), JSON.stringify(profile));
    writeFileSync(join(repo, policy, 'berth.yaml'), `anomaly:\n  policy: ${policy}\n`);
  }
  const s = await startServer({ repo });
  t.after(() => s.close());

  assert.equal((await post(`${s.url}/v1/models/flag:predict`, { instances: [BASE] })).json.predictions[0].flags, undefined, 'the base record is not flagged');
  for (const policy of ['flag', 'reject', 'off']) {
    for (const [kind, record, field, blocking] of KINDS) {
      const id = `${policy}-${kind}`;
      const r = await post(`${s.url}/v1/models/${policy}:predict`, { id, instances: [record] });
      const what = `${policy} / ${kind}: ${JSON.stringify(r.json).slice(0, 300)}`;
      if (blocking) {
        assert.equal(r.status, 422, what);
        assert.equal(r.json.code, 'BERTH_ERR_INVALID_RECORD', what);
        assert.ok(r.json.error.includes(`'${field}'`), what);
      } else if (policy === 'flag') {
        assert.equal(r.status, 200, what);
        const flags = r.json.predictions[0].flags as { kind: string; field?: string }[];
        assert.ok(flags.some((f) => f.kind === kind && f.field === field), what);
      } else if (policy === 'reject') {
        assert.equal(r.status, 422, what);
        assert.equal(r.json.code, 'BERTH_ERR_ANOMALY_REJECTED', what);
        assert.ok(field === undefined ? /unlike the training data/.test(r.json.error) : r.json.error.includes(`'${field}'`), what);
      } else {
        assert.equal(r.status, 200, what);
        assert.equal(r.json.predictions[0].flags, undefined, what);
      }
      if (r.status === 422) {
        const logged = await waitFor(`${id} logged`, async () => ((await getJson(`${s.url}/api/predictions?model=${policy}&id=${id}`)).json.predictions as any[])[0]);
        assert.equal(logged.outcome, 'invalid', what);
        assert.equal(logged.detail.reason.code, r.json.code, what);
        assert.deepEqual(logged.detail.record, JSON.parse(JSON.stringify(record)), 'the raw record is logged as sent');
      }
    }
  }
});
