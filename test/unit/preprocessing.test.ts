import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parseSimpleCsv, readTabularSpec, TabularEncoder } from '../../src/preprocessing/tabular.js';

const spec = readTabularSpec('examples/models/income/preprocessing.json');

test('encoding adult.test from preprocessing.json reproduces the committed test-encoded.f32 bit for bit (made by the Python training script)', () => {
  const enc = new TabularEncoder(spec);
  const records = parseSimpleCsv(gunzipSync(readFileSync('examples/data/adult/adult.test.gz')).toString('utf8'), spec);
  const ours = enc.encode(records);
  const theirs = gunzipSync(readFileSync('examples/data/adult/test-encoded.f32.gz'));
  assert.equal(records.length, 16281);
  assert.equal(ours.byteLength, theirs.length);
  assert.ok(Buffer.from(ours.buffer).equals(theirs), 'byte-identical');
  const labels = readFileSync('examples/data/adult/test-labels.u8');
  for (let i = 0; i < 50; i++) assert.equal(enc.labelOf(records[i]!), String(labels[i]));
});

test('records as objects, missing and unseen values, and clear errors naming the column', () => {
  const enc = new TabularEncoder(spec);
  const base = { age: 40, workclass: 'Private', 'education-num': 10, 'marital-status': 'Never-married', occupation: '?', relationship: 'Own-child', race: 'White', sex: 'Male', 'capital-gain': 0, 'capital-loss': 0, 'hours-per-week': 40, 'native-country': 'Atlantis' };
  const row = enc.encode([base]);
  const names = spec.featureNames;
  assert.ok(Math.abs(row[names.indexOf('age')]! - (40 - 38.58164675532078) / 13.640223092304275) < 1e-6);
  assert.equal(row[names.indexOf('workclass=Private')], 1);
  assert.equal(row[names.indexOf('occupation=?')], 1);
  const country = names.map((n, i) => (n.startsWith('native-country=') ? row[i] : 0)).reduce((a, b) => a! + b!, 0);
  assert.equal(country, 0, 'an unseen category encodes as all zeros');
  assert.throws(() => enc.encode([{ ...base, age: 'forty' }]), /column 'age': 'forty' is not a number/);
  const { sex: _omit, ...noSex } = base;
  assert.throws(() => enc.encode([noSex]), /no value for column 'sex'/);
});
