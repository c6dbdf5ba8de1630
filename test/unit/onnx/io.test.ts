/**
 * @module test/unit/onnx/io
 * ONNX model I/O: files written by the ONNX Python package (test/fixtures/quantize, made by
 * make_fixtures.py) and by Berth's writer round-trip byte-identically, external data is read
 * and written, the written models run in onnxruntime-node with identical outputs, and bad
 * files fail with a BerthError code and leave nothing behind.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeModel, encodeModel } from '../../../src/onnx/codec.js';
import { allTensors, modelSizeOnDisk, readModel, writeModel } from '../../../src/onnx/io.js';
import { isExternal, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { isBerthError } from '../../../src/errors.js';
import { gemmModel, maxAbs, randomArray, runModel } from './helpers.js';

const FIX = fileURLToPath(new URL('../../fixtures/quantize/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'berth-onnx-io-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const expected = JSON.parse(readFileSync(join(FIX, 'mlp-expected.json'), 'utf8')) as { x: number[][]; probabilities: number[][] };
const x = { type: 'float32' as const, data: Float32Array.from(expected.x.flat()), dims: [expected.x.length, expected.x[0]!.length] };

test('a model saved by onnx (Python) decodes and re-encodes byte-identically', () => {
  const bytes = readFileSync(join(FIX, 'mlp.onnx'));
  const model = decodeModel(bytes);
  assert.equal(model.graph?.node?.length, 5);
  assert.equal(model.producerName, 'fixture');
  assert.equal(Buffer.compare(encodeModel(model), bytes), 0);
  // read → write → read is identical too.
  const path = join(dir, 'rt.onnx');
  writeModel(path, readModel(join(FIX, 'mlp.onnx')));
  assert.equal(Buffer.compare(readFileSync(path), bytes), 0);
});

test('raw_data is a view into the file buffer, not a copy', () => {
  const bytes = readFileSync(join(FIX, 'mlp.onnx'));
  const model = decodeModel(bytes);
  const w = model.graph!.initializer![0]!;
  assert.equal(w.rawData!.buffer, bytes.buffer);
});

test('the Python fixture runs in onnxruntime-node with the numpy reference outputs', async () => {
  const out = await runModel(readModel(join(FIX, 'mlp.onnx')), { x });
  assert.ok(maxAbs(out.probabilities!.data as Float32Array, expected.probabilities.flat()) < 1e-6);
});

test('external data written by onnx (Python): keep re-encodes identically, load inlines and runs', async () => {
  const bytes = readFileSync(join(FIX, 'mlp-external.onnx'));
  const kept = readModel(join(FIX, 'mlp-external.onnx'), { externalData: 'keep' });
  assert.ok([...allTensors(kept)].every(isExternal));
  assert.equal(Buffer.compare(encodeModel(kept), bytes), 0);
  const loaded = readModel(join(FIX, 'mlp-external.onnx'));
  assert.ok(![...allTensors(loaded)].some(isExternal));
  const inline = readModel(join(FIX, 'mlp.onnx'));
  for (const [i, t] of loaded.graph!.initializer!.entries()) {
    assert.deepEqual(tensorToFloat32(t), tensorToFloat32(inline.graph!.initializer![i]!));
  }
  const out = await runModel(loaded, { x });
  assert.ok(maxAbs(out.probabilities!.data as Float32Array, expected.probabilities.flat()) < 1e-6);
});

test('writing with external data: sidecar file, same outputs in ORT, read→write→read identical', async () => {
  const model = gemmModel(64, 32, { bias: true, transB: true });
  const path = join(dir, 'ext.onnx');
  const files = writeModel(path, model, { externalData: { location: 'ext.onnx.data', threshold: 256 } });
  assert.deepEqual(files.map((f) => f.split('/').pop()), ['ext.onnx.data', 'ext.onnx']);
  assert.ok(statSync(join(dir, 'ext.onnx')).size < 1000);
  assert.equal(modelSizeOnDisk(path), statSync(join(dir, 'ext.onnx')).size + statSync(join(dir, 'ext.onnx.data')).size);
  // the caller's model object is left as it was
  assert.ok(![...allTensors(model)].some(isExternal));
  // ORT reads the sidecar itself when given the path
  const feeds = { x: { type: 'float32' as const, data: randomArray(2 * 64, 5), dims: [2, 64] } };
  const ref = await runModel(model, feeds);
  const ortFromPath = await import('onnxruntime-node');
  const session = await ortFromPath.InferenceSession.create(path);
  const fromFile = await session.run({ x: new ortFromPath.Tensor('float32', feeds.x.data, feeds.x.dims) });
  await session.release();
  assert.deepEqual(Array.from(fromFile.y!.data as Float32Array), Array.from(ref.y!.data as Float32Array));
  // round trip: read (load) → write with the same layout → byte-identical files
  const again = join(dir, 'again');
  rmSync(again, { recursive: true, force: true });
  (await import('node:fs')).mkdirSync(again);
  writeModel(join(again, 'ext.onnx'), readModel(path), { externalData: { location: 'ext.onnx.data', threshold: 256 } });
  assert.equal(Buffer.compare(readFileSync(join(again, 'ext.onnx')), readFileSync(path)), 0);
  assert.equal(Buffer.compare(readFileSync(join(again, 'ext.onnx.data')), readFileSync(join(dir, 'ext.onnx.data'))), 0);
  // a model read with 'keep' can be written elsewhere inline, given its source folder
  const inlinePath = join(dir, 'inlined.onnx');
  writeModel(inlinePath, readModel(path, { externalData: 'keep' }), { sourceDir: dir });
  assert.equal(Buffer.compare(readFileSync(inlinePath), encodeModel(model)), 0);
});

test('missing or escaping external data fails with BERTH_ERR_ONNX_EXTERNAL_DATA', () => {
  const sub = mkdtempSync(join(dir, 'missing-'));
  copyFileSync(join(FIX, 'mlp-external.onnx'), join(sub, 'm.onnx'));
  assert.throws(() => readModel(join(sub, 'm.onnx')), (e) => isBerthError(e, 'BERTH_ERR_ONNX_EXTERNAL_DATA'));
  const model = readModel(join(FIX, 'mlp-external.onnx'), { externalData: 'keep' });
  model.graph!.initializer![0]!.externalData![0]!.value = '../../etc/passwd';
  writeFileSync(join(sub, 'evil.onnx'), encodeModel(model));
  assert.throws(() => readModel(join(sub, 'evil.onnx')), (e) => isBerthError(e, 'BERTH_ERR_ONNX_EXTERNAL_DATA') && /inside the model's folder/.test((e as Error).message));
  // a truncated sidecar is caught by offset/length
  copyFileSync(join(FIX, 'mlp-external.onnx'), join(sub, 't.onnx'));
  writeFileSync(join(sub, 'mlp-external.weights'), readFileSync(join(FIX, 'mlp-external.weights')).subarray(0, 50));
  assert.throws(() => readModel(join(sub, 't.onnx')), (e) => isBerthError(e, 'BERTH_ERR_ONNX_EXTERNAL_DATA') && /past the end/.test((e as Error).message));
});

test('garbage bytes fail with BERTH_ERR_ONNX_DECODE', () => {
  const path = join(dir, 'garbage.onnx');
  writeFileSync(path, Buffer.from('this is not a protobuf model at all \xff\xff\xff\xff'));
  assert.throws(() => readModel(path), (e) => isBerthError(e, 'BERTH_ERR_ONNX_DECODE'));
  writeFileSync(path, Buffer.alloc(0));
  assert.throws(() => readModel(path), (e) => isBerthError(e, 'BERTH_ERR_ONNX_DECODE') && /no graph/.test((e as Error).message));
});

test('a failed write leaves no file and no temp file behind', () => {
  const sub = mkdtempSync(join(dir, 'fail-'));
  const model = gemmModel(8, 4);
  // The external data location collides with the model file itself.
  assert.throws(() => writeModel(join(sub, 'm.onnx'), model, { externalData: { location: 'm.onnx' } }), (e) => isBerthError(e, 'BERTH_ERR_FILE'));
  assert.deepEqual(readdirSync(sub), []);
  assert.throws(() => writeModel(join(sub, 'no-such-dir', 'm.onnx'), model), (e) => isBerthError(e, 'BERTH_ERR_FILE'));
  assert.equal(existsSync(join(sub, 'no-such-dir')), false);
});
