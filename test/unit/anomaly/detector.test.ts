/**
 * The anomaly detector on hand-made records and tensors: every kind is raised where it should
 * be (and only there), the range margin at its boundary and at zero, a tensor-only profile
 * names input elements, and a blocked row is not scored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AnomalyFlag, AnomalyDetector } from '../../../src/anomaly/detector.js';
import { type AnomalyProfile, buildAnomalyProfile, type OodModel } from '../../../src/anomaly/profile.js';
import { TabularTransformer } from '../../../src/pipeline/tabular.js';
import type { RawRecord } from '../../../src/pipeline/transformer.js';
import { checkTabularSpec, TabularEncoder } from '../../../src/preprocessing/tabular.js';

// A two-field spec: age numeric (mean 40, std 10), colour one-hot over red/blue; 'id' is carried along unused.
const spec = checkTabularSpec({
  kind: 'tabular', model: 't', version: '1', hash: 'h', rawColumns: ['age', 'colour', 'id'], missingValues: ['?'], featureCount: 3,
  features: [
    { column: 'age', type: 'numeric', offset: 0, width: 1, mean: 40, std: 10 },
    { column: 'colour', type: 'categorical', offset: 1, width: 2, categories: ['blue', 'red'] },
  ],
  featureNames: ['age', 'colour=blue', 'colour=red'], numeric: { numberPattern: '^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?$' },
}, 'test spec');

// Training: ages 20…60 (range 40, so the 0.1 margin is 4), both colours.
const training: RawRecord[] = [];
for (let i = 0; i < 200; i++) training.push({ age: 20 + (i % 41), colour: i % 3 === 0 ? 'blue' : 'red' });
const encoded = new TabularEncoder(spec).encode(training);
const profile = buildAnomalyProfile(encoded, training.length, 3, { input: 'features', spec, records: training });
const config = { policy: 'flag' as const, rangeMargin: 0.1, oodQuantile: 0.99 };
const transformer = new TabularTransformer(spec, 'h');
const detector = new AnomalyDetector(profile, config);

function flagsOf(records: RawRecord[], d = detector): AnomalyFlag[][] {
  const enc = transformer.encode(records);
  return d.check(enc.inputs[0], records.length, records, enc.problems);
}
const kinds = (f: AnomalyFlag[]): string[] => f.map((x) => `${x.kind}:${x.field ?? ''}`).sort();

test('a record like the training rows raises nothing', () => {
  // null and '?' are the missing markers: imputed, not flagged (age imputes to the mean 40).
  assert.deepEqual(flagsOf([{ age: 35, colour: 'red' }, { age: '41', colour: 'blue', id: 'x-1' }, { age: null, colour: 'red' }, { age: '?', colour: 'blue' }]).map(kinds), [[], [], [], []]);
});

test('each field-level kind is raised on its field, with blocking as documented', () => {
  const cases: [RawRecord, string, boolean][] = [
    [{ age: 30, colour: 'red', extra: 1 }, 'unknown_field:extra', false],
    [{ colour: 'red' }, 'missing_field:age', true],
    [{ age: 'thirty', colour: 'red' }, 'wrong_type:age', true],
    [{ age: true, colour: 'red' }, 'wrong_type:age', true],
    [{ age: 30, colour: 7 }, 'wrong_type:colour', true],
    [{ age: Number.NaN, colour: 'red' }, 'non_finite:age', true],
    [{ age: 'Infinity', colour: 'red' }, 'non_finite:age', true],
    [{ age: '-inf', colour: 'red' }, 'non_finite:age', true],
    [{ age: '1e999', colour: 'red' }, 'non_finite:age', true],
    [{ age: 30, colour: 'green' }, 'unseen_category:colour', false],
    [{ age: 75, colour: 'red' }, 'out_of_range:age', false],
  ];
  const flags = flagsOf(cases.map((c) => c[0]));
  cases.forEach(([record, expected, blocking], i) => {
    const f = flags[i]!.filter((x) => x.kind !== 'ood');
    assert.deepEqual(kinds(f), [expected], JSON.stringify(record));
    assert.equal(f[0]!.blocking, blocking, expected);
    assert.match(f[0]!.message, new RegExp(`'${f[0]!.field}'`), 'the message names the field');
  });
});

test('a swapped pair of fields (a string in the numeric field, a number in the categorical one) flags both', () => {
  assert.deepEqual(kinds(flagsOf([{ age: 'red', colour: 30 }])[0]!), ['wrong_type:age', 'wrong_type:colour']);
});

test('the margin: out of range strictly beyond min − 0.1·range and max + 0.1·range', () => {
  // Range [20, 60], margin 4: 16 and 64 are inside, anything beyond is out.
  const ages = [16, 15.999, 64, 64.001];
  const flags = flagsOf(ages.map((age) => ({ age, colour: 'red' })));
  assert.deepEqual(flags.map((f) => f.some((x) => x.kind === 'out_of_range')), [false, true, false, true]);
  const wide = new AnomalyDetector(profile, { ...config, rangeMargin: 0.5 });
  assert.deepEqual(flagsOf([{ age: 0, colour: 'red' }, { age: 79, colour: 'red' }], wide).map((f) => f.some((x) => x.kind === 'out_of_range')), [false, false]);
  const message = flags[1]!.find((x) => x.kind === 'out_of_range')!.message;
  assert.match(message, /'age' is 16\.00, outside the training range \[20, 60\]/);
});

test('the widened range never crosses zero: a field never negative in training is out of range when negative', () => {
  // Range [0, 100], margin 10: −10 would pass a plain margin.
  const amounts: RawRecord[] = Array.from({ length: 101 }, (_, i) => ({ age: i, colour: 'red' }));
  const p = buildAnomalyProfile(new TabularEncoder(spec).encode(amounts), amounts.length, 3, { input: 'features', spec, records: amounts });
  const d = new AnomalyDetector(p, config);
  assert.deepEqual(flagsOf([{ age: 0, colour: 'red' }, { age: -0.5, colour: 'red' }, { age: -10, colour: 'red' }, { age: 110, colour: 'red' }, { age: 110.5, colour: 'red' }], d)
    .map((f) => f.some((x) => x.kind === 'out_of_range')), [false, true, true, false, true]);
});

test('raw numeric ranges come from the records exactly, missing values left out', () => {
  const rows: RawRecord[] = [{ age: 0, colour: 'red' }, { age: '?', colour: 'red' }, { age: 99999, colour: 'blue' }];
  const p = buildAnomalyProfile(new TabularEncoder(spec).encode(rows), 3, 3, { input: 'features', spec, records: rows });
  assert.deepEqual(p.fields!.find((f) => f.name === 'age'), { name: 'age', type: 'numeric', min: 0, max: 99999 });
  assert.deepEqual(p.fields!.find((f) => f.name === 'colour'), { name: 'colour', type: 'categorical', counts: { blue: 1, red: 2 } });
});

test('ood: a row far from the training rows in the encoded space is flagged with its score and percentile; a blocked row is not scored', () => {
  // age 64 (in range) with an unseen colour, which encodes as two zeros: no training row is like that.
  const ood = profile.ood as OodModel;
  const far: RawRecord = { age: 64, colour: 'green' };
  const [farFlags, blocked] = flagsOf([far, { age: 'x', colour: 'green' }]);
  const o = farFlags!.find((x) => x.kind === 'ood');
  assert.ok(o !== undefined, JSON.stringify(farFlags));
  assert.ok(o.score! > ood.threshold && o.threshold === ood.threshold && o.percentile === 100);
  assert.equal(o.blocking, false);
  assert.ok(!blocked!.some((x) => x.kind === 'ood'), 'a row that cannot be encoded is not scored');
});

test('another oodQuantile reads its threshold off the reference scores', () => {
  const ood = profile.ood as OodModel;
  const d90 = new AnomalyDetector(profile, { ...config, oodQuantile: 0.9 });
  assert.ok(d90.threshold! < ood.threshold);
  // The training scores at ranks 0.8995 and 0.9005 bracket the 0.9 quantile.
  assert.ok(d90.threshold! >= ood.referenceScores[899]! && d90.threshold! <= ood.referenceScores[900]!);
});

test('a tensor-only profile flags input elements by index, names at most five, and scores in input space', () => {
  // 8 elements, training values in [0, 1]; no spec.
  const width = 8;
  const rows = 400;
  const data = new Float32Array(rows * width);
  let seed = 3;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    data[i] = seed / 2 ** 32;
  }
  const p: AnomalyProfile = buildAnomalyProfile(data, rows, width, { input: 'image' });
  assert.equal(p.fields, undefined);
  const d = new AnomalyDetector(p, config);
  const x = new Float32Array(3 * width).fill(0.5);
  x[width + 2] = 1.5; // row 1: one element out of range
  for (let j = 0; j < width; j++) x[2 * width + j] = -1; // row 2: every element negative
  const flags = d.check({ name: 'image', datatype: 'FP32', shape: [3, width], data: x }, 3);
  assert.deepEqual(flags[0], []);
  const r1 = flags[1]!.filter((f) => f.kind === 'out_of_range');
  assert.deepEqual(r1.map((f) => f.field), ['image[2]']);
  assert.match(r1[0]!.message, /image\[2\] is 1\.500, outside the training range \[/);
  const r2 = flags[2]!.filter((f) => f.kind === 'out_of_range');
  assert.deepEqual(r2.map((f) => f.field), ['image[0]', 'image[1]', 'image[2]', 'image[3]', 'image[4]']);
  assert.match(r2[4]!.message, /\(and 3 more elements out of range\)$/);
  assert.ok(flags[2]!.some((f) => f.kind === 'ood'), 'far from the training rows in input space');
});
