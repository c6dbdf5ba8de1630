/**
 * @module test/unit/quantize/params
 * Scale / zero-point arithmetic (ONNX Runtime's rules) and the calibration range methods.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { entropyRange, percentileRange } from '../../../src/quantize/calibrate.js';
import { computeScaleZeroPoint, quantizeBias, quantizeTensor, quantRange, roundHalfEven } from '../../../src/quantize/params.js';

test('qmin/qmax as ORT: full, symmetric and reduced ranges', () => {
  assert.deepEqual(quantRange('uint8'), [0, 255]);
  assert.deepEqual(quantRange('int8'), [-128, 127]);
  assert.deepEqual(quantRange('int8', { symmetric: true }), [-127, 127]);
  assert.deepEqual(quantRange('uint8', { symmetric: true }), [0, 254]);
  assert.deepEqual(quantRange('int8', { reduceRange: true }), [-64, 64]);
  assert.deepEqual(quantRange('uint8', { reduceRange: true }), [0, 127]);
});

test('scale and zero point follow ORT compute_scale_zp', () => {
  // Degenerate ranges give scale 1, zero point 0 (ORT's own unit-test cases).
  assert.deepEqual(computeScaleZeroPoint(0, 0, -127, 127, true), { scale: 1, zeroPoint: 0 });
  assert.deepEqual(computeScaleZeroPoint(0, 0, 0, 255, false), { scale: 1, zeroPoint: 0 });
  // The range always includes 0.
  assert.deepEqual(computeScaleZeroPoint(2, 4, 0, 255, false), { scale: Math.fround(4 / 255), zeroPoint: 0 });
  // Asymmetric uint8: zero point = round(qmin − rmin/scale).
  const p = computeScaleZeroPoint(-1, 3, 0, 255, false);
  assert.equal(p.scale, Math.fround(4 / 255));
  assert.equal(p.zeroPoint, 64); // 255/4 = 63.75 → 64
  // Symmetric: zero point is the middle of the range — 0 for int8, 127 for uint8 [0, 254].
  assert.equal(computeScaleZeroPoint(-0.5, 2, -127, 127, true).zeroPoint, 0);
  assert.equal(computeScaleZeroPoint(-0.5, 2, -127, 127, true).scale, Math.fround(2 / 127));
  assert.equal(computeScaleZeroPoint(-0.5, 2, 0, 254, true).zeroPoint, 127);
});

test('round half to even, like numpy', () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6].map((v) => roundHalfEven(v) + 0), [0, 2, 2, 0, -2, -2, 2, 3]);
});

test('dequantize(quantize(x)) is within half a step, per tensor and per channel', () => {
  fc.assert(fc.property(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 6, maxLength: 60 }), (values) => {
    const n = values.length - (values.length % 3);
    const data = Float32Array.from(values.slice(0, n));
    for (const axis of [undefined, 1]) {
      const q = quantizeTensor(data, [n / 3, 3], 'int8', { symmetric: true, axis });
      for (let i = 0; i < n; i++) {
        const c = axis === undefined ? 0 : i % 3;
        const back = (q.data[i]! - q.zeroPoints[c]!) * q.scales[c]!;
        if (Math.abs(back - data[i]!) > q.scales[c]! / 2 + 1e-6 * Math.abs(data[i]!)) return false;
      }
    }
    return true;
  }), { numRuns: 300 });
});

test('bias is int32 with scale input × weight (per channel)', () => {
  const b = quantizeBias(Float32Array.of(1, -2), 0.5, Float32Array.of(0.1, 0.01));
  assert.deepEqual(Array.from(b.scales), [Math.fround(0.05), Math.fround(0.005)]);
  assert.deepEqual(Array.from(b.data), [20, -400]);
});

test('percentile threshold: the left edge of the bin where the CDF reaches p', () => {
  const hist = new Float64Array(100).fill(1); // uniform |x| on [0, 10]
  const r = percentileRange(hist, 10, 99);
  assert.ok(Math.abs(r.max - 9.8) < 1e-9 && r.min === -r.max, JSON.stringify(r));
});

test('entropy threshold ignores rare outliers but keeps the bulk of the distribution', () => {
  // Gaussian bulk in [-1, 1] plus a few outliers at ±8, histogram on [-8, 8].
  const bins = 2048;
  const hist = new Float64Array(bins);
  let s = 1;
  for (let i = 0; i < 200000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u1 = (s + 0.5) / 2 ** 32;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u2 = (s + 0.5) / 2 ** 32;
    const v = 0.3 * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    hist[Math.min(bins - 1, Math.max(0, Math.floor(((v + 8) / 16) * bins)))]!++;
  }
  hist[0]! += 3;
  hist[bins - 1]! += 3;
  const r = entropyRange(hist, 8, 128);
  assert.ok(r.max > 0.6 && r.max < 4, `threshold ${r.max}`);
  // The window spans [zero − i, zero + i + 1) bins, as in ORT: symmetric up to one bin.
  assert.ok(Math.abs(r.min + r.max) <= 16 / bins + 1e-9);
});
