/**
 * @module test/unit/quantize/data
 * Calibration / validation data loading: NPY (made by numpy), JSON forms, CSV with labels,
 * raw .f32 with a shape, dataset descriptors; bad files fail with BERTH_ERR_QUANTIZE_DATA.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError } from '../../../src/errors.js';
import { DataType } from '../../../src/onnx/types.js';
import { loadDataset, loadLabels, type InputSpec } from '../../../src/quantize/data.js';

const FIX = fileURLToPath(new URL('../../fixtures/quantize/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'berth-quant-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const expected = JSON.parse(readFileSync(join(FIX, 'mlp-expected.json'), 'utf8')) as { x: number[][] };
const flatX = Float32Array.from(expected.x.flat());
const inputs: InputSpec[] = [{ name: 'x', elemType: DataType.FLOAT, shape: [-1, 6] }];
const bad = (e: unknown, re: RegExp): boolean => isBerthError(e, 'BERTH_ERR_QUANTIZE_DATA') && re.test((e as Error).message);

test('NPY v1 and v2, float32 and float64, from numpy', () => {
  for (const f of ['x-f32.npy', 'x-f32-v2.npy', 'x-f64.npy']) {
    const ds = loadDataset({ path: join(FIX, f) }, inputs);
    assert.equal(ds.count, 3);
    assert.deepEqual(ds.inputs.x!.dims, [3, 6]);
    assert.deepEqual(Array.from(ds.inputs.x!.data as Float32Array), Array.from(flatX));
  }
  assert.deepEqual(Array.from(loadLabels(join(FIX, 'labels-i64.npy'))), [0, 3, 1]);
});

test('JSON keyed by input name (nested or flat) with labels, and V2 tensor lists', () => {
  const nested = join(dir, 'nested.json');
  writeFileSync(nested, JSON.stringify({ x: expected.x, labels: [1, 0, 1] }));
  const a = loadDataset({ path: nested }, inputs);
  assert.deepEqual(Array.from(a.inputs.x!.data as Float32Array), Array.from(flatX));
  assert.deepEqual(Array.from(a.labels!), [1, 0, 1]);
  const flat = join(dir, 'flat.json');
  writeFileSync(flat, JSON.stringify({ x: Array.from(flatX) }));
  assert.deepEqual(loadDataset({ path: flat }, inputs).inputs.x!.dims, [3, 6]);
  const v2 = join(dir, 'v2.json');
  writeFileSync(v2, JSON.stringify([{ name: 'x', shape: [3, 6], datatype: 'FP32', data: Array.from(flatX) }]));
  assert.equal(loadDataset({ path: v2 }, inputs).count, 3);
  writeFileSync(v2, JSON.stringify({ inputs: [{ name: 'x', shape: [3, 6], datatype: 'FP32', data: expected.x }] }));
  assert.equal(loadDataset({ path: v2 }, inputs).count, 3);
});

test('CSV with a header and a named label column; raw .f32(.gz) with a shape; flat rows for image inputs', () => {
  const csv = join(dir, 'd.csv');
  writeFileSync(csv, ['a,b,c,d,e,f,label', ...expected.x.map((r, i) => [...r, i % 2].join(','))].join('\n'));
  const ds = loadDataset({ path: csv, labelColumn: 'label' }, inputs);
  assert.deepEqual(Array.from(ds.labels!), [0, 1, 0]);
  assert.deepEqual(Array.from(ds.inputs.x!.data as Float32Array), Array.from(flatX));
  const raw = join(dir, 'd.f32.gz');
  writeFileSync(raw, gzipSync(Buffer.from(flatX.buffer)));
  assert.deepEqual(loadDataset({ path: raw, shape: [-1, 6] }, inputs).inputs.x!.dims, [3, 6]);
  assert.equal(loadDataset({ path: raw }, inputs).count, 3); // shape from the model
  const img: InputSpec[] = [{ name: 'image', elemType: DataType.FLOAT, shape: [-1, 1, 2, 3] }];
  assert.deepEqual(loadDataset({ path: raw, shape: [3, 6] }, img).inputs.image!.dims, [3, 1, 2, 3]);
});

test('dataset descriptors (examples/data/*/test-*.json) carry features and labels', () => {
  writeFileSync(join(dir, 'feat.f32'), Buffer.from(flatX.buffer));
  writeFileSync(join(dir, 'lab.u8'), Uint8Array.of(1, 0, 1));
  writeFileSync(join(dir, 'desc.json'), JSON.stringify({ features: { file: 'feat.f32', dtype: 'float32', shape: [3, 6] }, labels: { file: 'lab.u8', dtype: 'uint8', shape: [3] } }));
  const ds = loadDataset({ path: join(dir, 'desc.json') }, inputs);
  assert.deepEqual(Array.from(ds.labels!), [1, 0, 1]);
  assert.equal(ds.count, 3);
  assert.equal(loadDataset({ path: join(dir, 'desc.json'), limit: 2 }, inputs).count, 2);
});

test('bad data files fail with BERTH_ERR_QUANTIZE_DATA naming the problem', () => {
  const p = (name: string, content: string | Buffer): string => { const f = join(dir, name); writeFileSync(f, content); return f; };
  assert.throws(() => loadDataset({ path: join(dir, 'missing.npy') }, inputs), (e) => bad(e, /not found/));
  assert.throws(() => loadDataset({ path: p('bad.npy', 'not numpy') }, inputs), (e) => bad(e, /bad magic/));
  assert.throws(() => loadDataset({ path: p('bad.json', '{"x": [1, 2') }, inputs), (e) => bad(e, /invalid JSON/));
  assert.throws(() => loadDataset({ path: p('wrong.json', '{"y": [1, 2]}') }, inputs), (e) => bad(e, /no data for model input 'x'/));
  assert.throws(() => loadDataset({ path: p('ragged.json', '{"x": [[1, 2], [3]]}') }, inputs), (e) => bad(e, /ragged/));
  assert.throws(() => loadDataset({ path: p('text.csv', '1,2,3,4,5,6\n1,2,x,4,5,6\n') }, inputs), (e) => bad(e, /'x' is not a number/));
  assert.throws(() => loadDataset({ path: p('short.f32', Buffer.alloc(7 * 4)) }, inputs), (e) => bad(e, /do not fit shape/));
  assert.throws(() => loadDataset({ path: p('x.parquet', 'PAR1') }, inputs), (e) => bad(e, /unknown data format/));
  assert.equal(loadDataset({ path: join(FIX, 'x-f32.npy'), labelsPath: join(FIX, 'labels-i64.npy'), limit: 2 }, inputs).labels!.length, 2);
  assert.throws(() => loadDataset({ path: join(FIX, 'x-f32.npy'), labelsPath: p('l.txt', '1\n2\n') }, inputs), (e) => bad(e, /2 labels for 3 samples/));
});
