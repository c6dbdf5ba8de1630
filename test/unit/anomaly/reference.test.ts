/**
 * The anomaly profiles the examples ship, against numpy: the income profile is what
 * `berth reference` builds from adult.data (rounded to 7 significant digits), its ridge and
 * threshold are numpy's, rounding changes no flag on the Adult test split, and the test
 * split's OOD flags are the rows numpy puts above the threshold. The digits profile (from the
 * 1,437 training images) likewise.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { AnomalyDetector } from '../../../src/anomaly/detector.js';
import { type AnomalyProfile, buildAnomalyProfile, checkAnomalyProfile, mahalanobis2, MAX_OOD_DIMENSION, type OodModel } from '../../../src/anomaly/profile.js';
import { anomalyProfileOf, describeAnomalyProfile, recordFromCsv, roundProfile } from '../../../src/anomaly/reference.js';
import { encodeRawData } from '../../../src/monitoring/reference.js';
import { parseSimpleCsv, readTabularSpec } from '../../../src/preprocessing/tabular.js';

const config = { policy: 'flag' as const, rangeMargin: 0.1, oodQuantile: 0.99 };
const shipped = (model: string): AnomalyProfile => checkAnomalyProfile(JSON.parse(readFileSync(`examples/models/${model}/1/anomaly.profile.json`, 'utf8')), model);
const f32 = (bytes: Buffer): Float32Array => new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);

// Reference values: Debian's python3 (numpy 1.24.2) on the same encoded rows
// (adult.data through preprocessing.json; test-encoded.f32.gz as train.py wrote it):
//   C = np.cov(X, rowvar=False, ddof=1); ridge = 0.01 * np.trace(C) / 91; P = np.linalg.inv(C + ridge * np.eye(91))
//   s = einsum('ij,jk,ik->i', X - m, P, X - m); t = np.quantile(s, 0.99); then the same scores of the test rows.
//   idx = np.nonzero(s_test > t)[0]: 173 rows, the first five and the sum of all indices below.
const INCOME = { ridge: 0.0009551203980079108, threshold: 578.5145204666084, testAbove: 173, testAboveFirst: [88, 128, 232, 382, 417], testAboveIndexSum: 1500668, testRow0: 32.68390922573162, testRow1: 36.22067901016401 };
// The digits training images (train.py's split), 64 pixels: same formulas; the 360 held-out images scored.
const DIGITS = { ridge: 0.0007321510333649492, threshold: 143.67096676551475, heldOutAbove: 1, heldOutMaxRow: 71, heldOutRow0: 40.518067977484726 };

const close = (a: number, b: number, rel: number): boolean => Math.abs(a - b) <= rel * Math.abs(b);

test('the shipped income profile is berth reference\'s, rounded: ridge and threshold are numpy\'s; raw ranges are adult.data\'s', () => {
  const data = encodeRawData('examples/data/adult/adult.data.gz', 'examples/models/income/preprocessing.json');
  const rebuilt = anomalyProfileOf({ features: data.features, count: data.count, input: 'features', spec: data.spec!, records: data.records! });
  const p = shipped('income');
  assert.deepEqual(p, rebuilt, 'examples/models/income/1/anomaly.profile.json is what berth reference writes (examples/README.md)');
  const ood = p.ood as OodModel;
  assert.ok(close(ood.ridge, INCOME.ridge, 1e-6) && close(ood.threshold, INCOME.threshold, 1e-6), `${ood.ridge} ${ood.threshold}`);
  assert.equal(p.rows, 32561);
  // zcat adult.data.gz | awk -F', ' '{print $1}' | sort -n | sed -n '1p;$p' (and fields 5, 11, 12, 13)
  assert.deepEqual(p.fields!.filter((f) => f.type === 'numeric'), [
    { name: 'age', type: 'numeric', min: 17, max: 90 },
    { name: 'education-num', type: 'numeric', min: 1, max: 16 },
    { name: 'capital-gain', type: 'numeric', min: 0, max: 99999 },
    { name: 'capital-loss', type: 'numeric', min: 0, max: 4356 },
    { name: 'hours-per-week', type: 'numeric', min: 1, max: 99 },
  ]);
  assert.match(describeAnomalyProfile(p), /^anomaly profile on 32561 rows, 12 raw fields \(5 numeric ranges, 7 categorical\); OOD threshold 578\.5 /);
});

test('rounding to 7 digits changes no flag on the Adult test split, and the OOD flags are the rows numpy puts above the threshold', () => {
  const data = encodeRawData('examples/data/adult/adult.data.gz', 'examples/models/income/preprocessing.json');
  const full = buildAnomalyProfile(data.features, data.count, 91, { input: 'features', spec: data.spec!, records: data.records! });
  const rounded = shipped('income');
  const x = f32(gunzipSync(readFileSync('examples/data/adult/test-encoded.f32.gz')));
  const rows = x.length / 91;
  const input = { name: 'features', datatype: 'FP32' as const, shape: [rows, 91], data: x };
  const a = new AnomalyDetector(full, config).check(input, rows);
  const b = new AnomalyDetector(rounded, config).check(input, rows);
  const oodRows = (flags: typeof a): number[] => flags.flatMap((f, i) => (f.some((q) => q.kind === 'ood') ? [i] : []));
  assert.deepEqual(oodRows(b), oodRows(a));
  assert.equal(oodRows(b).length, INCOME.testAbove);
  assert.deepEqual(oodRows(b).slice(0, 5), INCOME.testAboveFirst);
  assert.equal(oodRows(b).reduce((s, i) => s + i, 0), INCOME.testAboveIndexSum);
  const z = new Float64Array(91);
  const fo = full.ood as OodModel;
  const ro = rounded.ood as OodModel;
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    const s = mahalanobis2(x, r * 91, fo.mean, fo.precision, 91, z);
    worst = Math.max(worst, Math.abs(mahalanobis2(x, r * 91, ro.mean, ro.precision, 91, z) - s) / s);
  }
  assert.ok(worst < 1e-5, `largest relative score change ${worst}`);
  assert.ok(close(mahalanobis2(x, 0, fo.mean, fo.precision, 91, z), INCOME.testRow0, 1e-6) && close(mahalanobis2(x, 91, fo.mean, fo.precision, 91, z), INCOME.testRow1, 1e-6));
  // Element ranges of a tensor-only check agree too: rounding moved no bound across a test value.
  const elements = (flags: typeof a): number => flags.reduce((n, f) => n + f.filter((q) => q.kind === 'out_of_range').length, 0);
  assert.equal(elements(b), elements(a));
});

test('the shipped digits profile (training images): numpy\'s ridge and threshold; one held-out image of 360 above it', () => {
  const p = shipped('digits');
  assert.equal(p.rows, 1437);
  assert.equal(p.fields, undefined);
  assert.deepEqual([p.input.name, p.input.width], ['image', 64]);
  const ood = p.ood as OodModel;
  assert.ok(close(ood.ridge, DIGITS.ridge, 1e-6) && close(ood.threshold, DIGITS.threshold, 1e-6), `${ood.ridge} ${ood.threshold}`);
  const x = f32(readFileSync('examples/data/digits/test-images.f32'));
  const flags = new AnomalyDetector(p, config).check({ name: 'image', datatype: 'FP32', shape: [360, 1, 8, 8], data: x }, 360);
  const oodRows = flags.flatMap((f, i) => (f.some((q) => q.kind === 'ood') ? [i] : []));
  assert.deepEqual(oodRows, [DIGITS.heldOutMaxRow].slice(0, DIGITS.heldOutAbove));
  const z = new Float64Array(64);
  assert.ok(close(mahalanobis2(x, 0, ood.mean, ood.precision, 64, z), DIGITS.heldOutRow0, 1e-5));
});

test('above MAX_OOD_DIMENSION elements the profile keeps the ranges and says why there is no OOD score', () => {
  const width = MAX_OOD_DIMENSION + 1;
  const p = roundProfile(buildAnomalyProfile(new Float32Array(3 * width).map((_, i) => i % 7), 3, width, { input: 'x' }));
  assert.ok('unavailable' in p.ood);
  assert.match(describeAnomalyProfile(p), new RegExp(`no OOD score: the input has ${width} elements per row, more than the ${MAX_OOD_DIMENSION}`));
  assert.equal(new AnomalyDetector(p, config).oodUnavailable, p.ood.unavailable);
});

test('a CSV row becomes the record a client would send: numbers as numbers, trimmed strings, the label\'s trailing period removed', () => {
  const spec = readTabularSpec('examples/models/income/preprocessing.json');
  const [row] = parseSimpleCsv('25, Private, 226802, 11th, 7, Never-married, , Own-child, Black, Male, 0, 0, 40, United-States, <=50K.\n', spec);
  assert.deepEqual(recordFromCsv(row!, spec), {
    age: 25, workclass: 'Private', fnlwgt: '226802', education: '11th', 'education-num': 7, 'marital-status': 'Never-married', occupation: '',
    relationship: 'Own-child', race: 'Black', sex: 'Male', 'capital-gain': 0, 'capital-loss': 0, 'hours-per-week': 40, 'native-country': 'United-States', income: '<=50K',
  });
});
