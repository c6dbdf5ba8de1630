/**
 * @module test/unit/quantize/speedup
 * Issue 8 item 6: the report measures the INT8 vs FP32 speed-up on the CPU it runs on, at
 * batch 1 and at the served batch size, labelled with the CPU's model name and ISA flags.
 * Only presence and sanity are checked: how fast is the benchmark's business, not a test's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeModel } from '../../../src/onnx/io.js';
import { quantize } from '../../../src/quantize/quantize.js';
import { formatReport } from '../../../src/quantize/report.js';
import { gemmModel } from '../onnx/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-quant-speed-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the report carries speed-ups at batch 1 and the served batch, measured here and labelled with the CPU', async () => {
  const path = join(dir, 'gemm.onnx');
  writeModel(path, gemmModel(64, 32, { bias: true, relu: true }));
  const cpu = { arch: 'x64', flags: new Set(['sse4_1', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'rdrand']), model: 'Test CPU 9000' };
  const res = await quantize(path, { mode: 'dynamic', servedBatch: 16, latencyMinTimeMs: 20, threads: 1, cpu });
  const l = res.report.latency;
  assert.deepEqual(l.batches.map((b) => b.batch), [1, 16]);
  for (const b of l.batches) {
    for (const v of [b.fp32Ms, b.quantizedMs, b.ratio, b.speedup]) assert.ok(Number.isFinite(v) && v > 0, JSON.stringify(b));
    assert.ok(Math.abs(b.speedup * b.ratio - 1) < 1e-9);
    assert.ok(b.runs >= 30);
  }
  assert.match(l.measuredOn, /^Test CPU 9000 \(avx512_vnni; flags sse4_1 avx avx2 fma avx512f avx512_vnni\)$/);
  assert.deepEqual(res.report.cpu!.flags, ['sse4_1', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni']);
  const text = formatReport(res.report);
  assert.match(text, /cpu {5}Test CPU 9000 \(avx512_vnni; sse4_1 avx avx2 fma avx512f avx512_vnni\); latency below is measured here, on this CPU/);
  assert.match(text, /latency batch 1 \(median ms, \d+ runs\) .*× speed-up\)/);
  assert.match(text, /latency batch 16 \(median ms, \d+ runs\) .*× speed-up\)/);
});
