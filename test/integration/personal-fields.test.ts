/**
 * Issue 9 item 3 (personal fields): columns a preprocessing spec marks personal are kept out of
 * the decision log in clear — `drop` zeroes their slots in the logged tensor, `hash` does too
 * and logs a keyed hash of the value (HMAC-SHA-256 with the data directory's personal key) per
 * row. The model still sees the real values.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeModel, encodeModel } from '../../src/onnx/codec.js';
import { specHash } from '../../src/preprocessing/spec-hash.js';
import { EXAMPLES, getJson, startServer } from '../helpers/server.js';
import { infer, outputValues, readJson, waitFor } from '../helpers/v2.js';

const INCOME_DIR = join(EXAMPLES, 'income');
type Spec = Record<string, unknown> & { hash?: string; features: { column: string; offset: number; width: number; categories?: string[] }[] };

test('personal fields: hashed or dropped in the decision log, seen by the model', async (t) => {
  // The example spec with sex hashed and race dropped, re-hashed, and the model re-stamped with it.
  const spec = JSON.parse(readFileSync(join(INCOME_DIR, 'preprocessing.json'), 'utf8')) as Spec;
  spec.personal = { sex: 'hash', race: 'drop' };
  delete spec.hash;
  spec.hash = specHash(spec);
  const model = decodeModel(readFileSync(join(INCOME_DIR, '1/model.onnx')));
  model.metadataProps = (model.metadataProps ?? []).map((e) => (e.key === 'berth.preprocessing.hash' ? { key: e.key, value: spec.hash! } : e));
  const dir = mkdtempSync(join(tmpdir(), 'berth-personal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'model.onnx'), encodeModel(model));
  const dataDir = join(dir, 'data');
  const s = await startServer({ models: [{ name: 'income', file: join(dir, 'model.onnx') }], config: { store: { dataDir } } });
  t.after(() => s.close());
  writeFileSync(join(s.repo, 'income/preprocessing.json'), JSON.stringify(spec));
  await fetch(`${s.url}/v2/repository/models/income/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal((await getJson(`${s.url}/v2/models/income`)).json.parameters.preprocessing_hash, spec.hash);

  const body = readJson('examples/requests/income.json') as { inputs: { data: number[] }[] };
  const sent = body.inputs[0]!.data;
  const r = await infer(`${s.url}/v2/models/income/infer`, { ...body, id: 'personal-1' });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  // The model saw the real values: the same answer as with the example spec.
  const plain = await startServer({ models: [{ name: 'income', file: join(INCOME_DIR, '1/model.onnx') }] });
  t.after(() => plain.close());
  const reference = await infer(`${plain.url}/v2/models/income/infer`, body);
  assert.deepEqual(outputValues(r, 'probabilities'), outputValues(reference, 'probabilities'));

  // Each row of the two-row request is its own decision, `personal-1/<row>`.
  const storedRows = await waitFor('both rows stored', async () => {
    const rows = await Promise.all([0, 1].map(async (row) => ((await getJson(`${s.url}/api/predictions?model=income&id=personal-1/${row}`)).json.predictions as any[])[0]));
    return rows.every((x) => x !== undefined) ? rows : undefined;
  });
  const width = 91;
  const sex = spec.features.find((f) => f.column === 'sex')!;
  const race = spec.features.find((f) => f.column === 'race')!;
  const key = readFileSync(join(dataDir, 'personal.key'), 'utf8').trim();
  assert.equal(statSync(join(dataDir, 'personal.key')).mode & 0o077, 0, 'the key file is private');
  for (let row = 0; row < 2; row++) {
    const stored = storedRows[row];
    const features = stored.inputs.find((x: { name: string }) => x.name === 'features');
    assert.deepEqual(features.shape, [1, width]);
    const at = (k: number): number => features.data[k];
    for (const f of [sex, race]) {
      assert.ok(sent.slice(row * width + f.offset, row * width + f.offset + f.width).some((v) => v === 1), `row ${row} sent a ${f.column}`);
      assert.deepEqual(features.data.slice(f.offset, f.offset + f.width), new Array(f.width).fill(0), `row ${row}: ${f.column} not stored`);
    }
    // Everything else is stored as sent.
    const other = (k: number): boolean => !(k >= sex.offset && k < sex.offset + sex.width) && !(k >= race.offset && k < race.offset + race.width);
    for (let k = 0; k < width; k++) if (other(k)) assert.equal(at(k), Math.fround(sent[row * width + k]!));
    // sex: a keyed hash of the decoded category, with the key kept in the data directory.
    const category = sex.categories![sent.slice(row * width + sex.offset, row * width + sex.offset + sex.width).indexOf(1)]!;
    const expected = createHmac('sha256', key).update(`sex\u0000${category}`).digest('hex').slice(0, 32);
    assert.deepEqual(stored.inputs.find((x: { name: string }) => x.name === 'personal:sex'), { name: 'personal:sex', datatype: 'BYTES', shape: [1], data: [expected] });
    assert.equal(stored.inputs.some((x: { name: string }) => x.name === 'personal:race'), false, 'race is dropped, not hashed');
    assert.equal(JSON.stringify(stored).includes('"Male"') || JSON.stringify(stored).includes('"Female"'), false);
  }
});

test('personal fields: a spec naming an unknown column or policy is refused at load, naming it', async (t) => {
  const spec = JSON.parse(readFileSync(join(INCOME_DIR, 'preprocessing.json'), 'utf8')) as Spec;
  spec.personal = { gender: 'hash' };
  const { checkTabularSpec } = await import('../../src/preprocessing/tabular.js');
  assert.throws(() => checkTabularSpec(spec, 'preprocessing.json'), /personal: 'gender' is not in rawColumns/);
  spec.personal = { sex: 'encrypt' };
  assert.throws(() => checkTabularSpec(spec, 'preprocessing.json'), /personal\.sex: expected "hash" or "drop", got "encrypt"/);
  t.diagnostic('checked');
});
