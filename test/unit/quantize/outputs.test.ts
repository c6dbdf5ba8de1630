/**
 * @module test/unit/quantize/outputs
 * Issue 8 item 5: a metric that fits each output. The report printed "−95 pts agreement" for
 * a probability map (an argmax over pixels taken as a class); now every output is compared
 * with FP32 by its kind — argmax agreement for class scores, equality for labels, mean and
 * max |Δ| for maps and regressions — and a map is never scored as classes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBerthError } from '../../../src/errors.js';
import { readModel, writeModel } from '../../../src/onnx/io.js';
import { compareOutputsToFp32, outputKind } from '../../../src/quantize/evaluate.js';
import { quantize } from '../../../src/quantize/quantize.js';
import { formatReport } from '../../../src/quantize/report.js';
import { convModel, randomArray, runModel } from '../onnx/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-quant-outputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const images = (n: number): { inputs: { x: { type: 'float32'; data: Float32Array; dims: number[] } }; count: number; source: string } =>
  ({ inputs: { x: { type: 'float32', data: randomArray(n * 2 * 8 * 8, 11), dims: [n, 2, 8, 8] } }, count: n, source: 'random images' });

test('a feature map is not scored as classes (regression: "−95 pts agreement" for a probability map)', async () => {
  const path = join(dir, 'map.onnx');
  writeModel(path, convModel(2, 4, 8, { bias: true }));
  const data = images(48);
  const res = await quantize(path, { mode: 'static', calibration: data, validation: data, latencyBatches: [], threads: 1 });
  assert.equal(res.report.accuracy, undefined);
  assert.match(res.report.accuracyUnavailable!, /no class output to score \('y' is \[n, 4, 8, 8\]\)/);
  const [c] = res.report.outputs.comparisons;
  assert.equal(c!.kind, 'values');
  assert.deepEqual(c!.sampleShape, [4, 8, 8]);
  assert.equal(c!.agreement, undefined);
  // The reported differences are those of an independent run of both models.
  const ref = await runModel(readModel(path), data.inputs);
  const got = await runModel(res.bytes, data.inputs);
  const [check] = compareOutputsToFp32(ref, got);
  assert.ok(Math.abs(c!.meanAbsDiff - check!.meanAbsDiff) < 1e-9 && Math.abs(c!.maxAbsDiff - check!.maxAbsDiff) < 1e-9);
  assert.ok(c!.meanAbsDiff > 0 && c!.meanAbsDiff <= c!.maxAbsDiff && c!.meanAbsFp32 > 0);
  assert.doesNotMatch(formatReport(res.report), /agreement/);
  await assert.rejects(quantize(path, { mode: 'static', calibration: data, validation: data, maxAccuracyDrop: 1, latencyBatches: [] }),
    (err: unknown) => isBerthError(err) && err.code === 'BERTH_ERR_CLI_USAGE' && /--max-accuracy-drop: no class output/.test(err.message));
});

test('class scores get argmax agreement, equal to the agreement the accuracy section reports', async () => {
  const path = join(dir, 'cls.onnx');
  writeModel(path, convModel(2, 4, 8, { bias: true, head: true }));
  const data = images(64);
  const res = await quantize(path, { mode: 'static', calibration: data, validation: data, latencyBatches: [], threads: 1 });
  const [c] = res.report.outputs.comparisons;
  assert.equal(c!.kind, 'class-scores');
  assert.equal(c!.agreement, res.report.accuracy!.quantized);
  assert.equal(res.report.accuracy!.metric, 'agreement');
});

test('outputKind: float [n, C≥2] class scores, integer [n] / [n, 1] labels, the rest values', () => {
  assert.equal(outputKind({ type: 'float32', data: new Float32Array(6), dims: [3, 2] }), 'class-scores');
  assert.equal(outputKind({ type: 'int64', data: new BigInt64Array(3), dims: [3] }), 'labels');
  assert.equal(outputKind({ type: 'int64', data: new BigInt64Array(3), dims: [3, 1] }), 'labels');
  assert.equal(outputKind({ type: 'float32', data: new Float32Array(3), dims: [3, 1] }), 'values');
  assert.equal(outputKind({ type: 'float32', data: new Float32Array(12), dims: [3, 1, 2, 2] }), 'values');
});
