/**
 * @module test/unit/quantize/batch-invariance
 * Issue 10 item 7: `berth quantize` measures whether a row's answer depends on its batch and
 * writes `berth.quantize.batch_invariant` from that measurement. Properties over random
 * models and inputs (fast-check), each checked against an independent run of the written
 * model in ONNX Runtime (every row alone vs all rows in one batch):
 *   - dynamic INT8, with one row of much larger magnitude in the batch: the per-batch
 *     activation scale then differs from each small row's own, so rows differ alone vs
 *     batched — on any CPU, since DynamicQuantizeLinear is per tensor everywhere — and the
 *     metadata must say "false";
 *   - static QDQ (fixed scales, integer products) and FP16: rows agree, metadata "true".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeModel } from '../../../src/onnx/codec.js';
import { writeModel } from '../../../src/onnx/io.js';
import { entriesToMap } from '../../../src/onnx/types.js';
import type { Dataset } from '../../../src/quantize/data.js';
import { quantize, type QuantizeMode } from '../../../src/quantize/quantize.js';
import { createOrtRunner } from '../../../src/quantize/runner.js';
import { gemmModel, matmulModel, randomArray } from '../onnx/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-quant-batch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const VNNI = { arch: 'x64', flags: new Set(['avx2', 'avx512f', 'avx512_vnni']) };
const AVX2_ONLY = { arch: 'x64', flags: new Set(['avx2']) };

interface Case { k: number; n: number; rows: number; seed: number; bigRow: number; bigScale: number; gemm: boolean; avx2: boolean }

const cases = fc.record({
  k: fc.integer({ min: 4, max: 48 }),
  n: fc.integer({ min: 2, max: 16 }),
  rows: fc.integer({ min: 4, max: 24 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  bigRow: fc.nat(),
  bigScale: fc.double({ min: 50, max: 1000, noNaN: true }),
  gemm: fc.boolean(),
  avx2: fc.boolean(),
});

function data(c: Case): Dataset {
  const x = randomArray(c.rows * c.k, c.seed);
  const big = c.bigRow % c.rows;
  for (let j = 0; j < c.k; j++) x[big * c.k + j]! *= c.bigScale;
  return { inputs: { x: { type: 'float32', data: x, dims: [c.rows, c.k] } }, count: c.rows, source: 'random rows' };
}

/**
 * Independent check: the written model run on every row alone and on all rows at once; the
 * largest difference of a row's outputs relative to that row's own largest output.
 */
async function aloneVsBatched(bytes: Uint8Array, ds: Dataset): Promise<{ maxRelDiff: number }> {
  const runner = await createOrtRunner(bytes, { threads: 1 });
  try {
    const x = ds.inputs.x!;
    const k = x.dims[1]!;
    const all = (await runner.run({ x }))['y']!.data as Float32Array;
    const n = all.length / ds.count;
    let maxRelDiff = 0;
    for (let r = 0; r < ds.count; r++) {
      const one = (await runner.run({ x: { type: 'float32', data: (x.data as Float32Array).slice(r * k, (r + 1) * k), dims: [1, k] } }))['y']!.data as Float32Array;
      let diff = 0, scale = 0;
      for (let j = 0; j < n; j++) {
        diff = Math.max(diff, Math.abs(one[j]! - all[r * n + j]!));
        scale = Math.max(scale, Math.abs(all[r * n + j]!), Math.abs(one[j]!));
      }
      if (scale > 0) maxRelDiff = Math.max(maxRelDiff, diff / scale);
    }
    return { maxRelDiff };
  } finally {
    await runner.release();
  }
}

async function run(c: Case, mode: QuantizeMode): Promise<{ flag: string | undefined; reported: boolean; check: { maxRelDiff: number } }> {
  const path = join(dir, `m-${c.seed}-${c.k}-${c.n}.onnx`);
  writeModel(path, c.gemm ? gemmModel(c.k, c.n, { bias: true, seed: c.seed }) : matmulModel(c.k, c.n, { seed: c.seed }));
  const ds = data(c);
  // The whole data set is one served batch, so the independent check sees the same batches.
  const res = await quantize(path, {
    mode, validation: ds, ...(mode === 'static' ? { calibration: ds } : {}), servedBatch: c.rows,
    latencyBatches: [], threads: 1, cpu: c.avx2 ? AVX2_ONLY : VNNI,
  });
  const flag = entriesToMap(decodeModel(res.bytes).metadataProps).get('berth.quantize.batch_invariant');
  return { flag, reported: res.report.batchInvariance.quantized.invariant, check: await aloneVsBatched(res.bytes, ds) };
}

test('dynamic INT8 whose rows differ alone vs batched is stamped batch_invariant=false', async () => {
  await fc.assert(fc.asyncProperty(cases, async (c) => {
    const { flag, reported, check } = await run(c, 'dynamic');
    // In the batch a small row is quantized with the big row's step (≥ 50× its own): its
    // outputs move by about a percent of their size or more, far above float rounding (1e-7).
    assert.ok(check.maxRelDiff > 1e-3, `rows should differ: ${JSON.stringify({ c, check })}`);
    assert.equal(flag, 'false');
    assert.equal(reported, false);
  }), { numRuns: 20, seed: 20261203 });
});

test('static QDQ and FP16 are stamped batch_invariant=true, and their rows agree alone vs batched', async () => {
  for (const mode of ['static', 'fp16'] as const) {
    await fc.assert(fc.asyncProperty(cases, async (c) => {
      const { flag, reported, check } = await run(c, mode);
      assert.ok(check.maxRelDiff <= 1e-4, `${mode}: rows differ: ${JSON.stringify({ c, check })}`);
      assert.equal(flag, 'true', mode);
      assert.equal(reported, true, mode);
    }), { numRuns: 12, seed: 20261204 });
  }
});

test('the report gives accuracy and max |Δ| at batch 1 and at the served batch', async () => {
  const c: Case = { k: 16, n: 4, rows: 40, seed: 5, bigRow: 3, bigScale: 200, gemm: true, avx2: false };
  const path = join(dir, 'report.onnx');
  writeModel(path, gemmModel(c.k, c.n, { bias: true, seed: c.seed }));
  const ds = { ...data(c), labels: Float64Array.from({ length: c.rows }, (_, i) => i % c.n) };
  const res = await quantize(path, { mode: 'dynamic', validation: ds, servedBatch: 8, latencyBatches: [], threads: 1, cpu: VNNI });
  const b = res.report.batchInvariance;
  assert.equal(b.servedBatch, 8);
  assert.equal(b.rows, 40);
  assert.equal(b.score!.metric, 'accuracy');
  for (const v of [b.score!.fp32Batch1, b.score!.fp32Served, b.score!.quantizedBatch1, b.score!.quantizedServed]) assert.ok(v >= 0 && v <= 100);
  assert.equal(b.score!.quantizedServed, res.report.accuracy!.quantized);
  assert.equal(res.report.accuracy!.batch, 8);
  assert.ok(b.quantized.maxAbsDiff > 0 && Number.isFinite(b.fp32.maxAbsDiff));
});
