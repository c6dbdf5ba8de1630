/**
 * @module test/unit/quantize/opset
 * Issue 8 item 5: static mode on an opset-9 model used to fail only after calibrating (19 s
 * on PaddleOCR cls). It must refuse before any calibration session is created, naming the
 * opset and what to do; per-channel on opset < 13 the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError } from '../../../src/errors.js';
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../../src/onnx/build.js';
import { writeModel } from '../../../src/onnx/io.js';
import { DataType } from '../../../src/onnx/types.js';
import { quantize } from '../../../src/quantize/quantize.js';
import { createOrtRunner, type CreateRunner } from '../../../src/quantize/runner.js';
import { randomArray } from '../onnx/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-quant-opset-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function gemmAtOpset(opset: number): string {
  const graph = makeGraph('g', [makeNode('Gemm', ['x', 'w', 'b'], ['y'], { name: 'gemm', attributes: { transB: 1 } })],
    [makeValueInfo('x', DataType.FLOAT, ['batch', 8])], [makeValueInfo('y', DataType.FLOAT, ['batch', 4])],
    [makeTensor('w', DataType.FLOAT, [4, 8], randomArray(32, 3)), makeTensor('b', DataType.FLOAT, [4], randomArray(4, 4))]);
  const path = join(dir, `gemm-${opset}.onnx`);
  writeModel(path, makeModel(graph, { opset }));
  return path;
}

const data = { inputs: { x: { type: 'float32' as const, data: randomArray(64 * 8, 5), dims: [64, 8] } }, count: 64, source: 'random' };

test('static mode refuses opset < 10 before calibrating (regression: failed only after calibration)', async () => {
  let sessions = 0;
  // The real runner, counted: any session means calibration (or evaluation) had started.
  const counting: CreateRunner = async (model, options) => { sessions++; return createOrtRunner(model, options); };
  for (const [opset, perChannel, pattern] of [[9, false, /opset ≥ 10 .*uses opset 9/], [12, true, /per-channel .*opset ≥ 13.*uses opset 12/]] as const) {
    await assert.rejects(quantize(gemmAtOpset(opset), { mode: 'static', perChannel, calibration: data, validation: data, createRunner: counting, latencyBatches: [] }),
      (err: unknown) => isBerthError(err) && err.code === 'BERTH_ERR_ONNX_UNSUPPORTED' && pattern.test(err.message));
  }
  assert.equal(sessions, 0, 'no ONNX Runtime session was created');
  // The same model at opset 13 quantizes (so the refusal is about the opset, not the model).
  const ok = await quantize(gemmAtOpset(13), { mode: 'static', perChannel: true, calibration: data, createRunner: counting, latencyBatches: [] });
  assert.ok(ok.report.summary.quantized > 0);
});
