import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allocate, datatypeInfo, elementCount, fromHalfBits, fromOrtType, isV2Datatype, toHalfBits, toOrtType, V2_DATATYPES } from '../../../src/runtime/datatypes.js';

describe('datatypes', () => {
  test('every V2 datatype maps to an ONNX Runtime type and back', () => {
    for (const d of V2_DATATYPES) assert.equal(fromOrtType(toOrtType(d)), d);
    assert.equal(fromOrtType('int4'), undefined);
    assert.equal(fromOrtType('bfloat16'), undefined);
    assert.ok(isV2Datatype('FP32'));
    assert.ok(!isV2Datatype('fp32'));
    assert.ok(!isV2Datatype('toString'), 'prototype keys are not datatypes');
  });

  test('allocate gives the array type ONNX Runtime expects', () => {
    assert.ok(allocate('BOOL', 2) instanceof Uint8Array);
    assert.ok(allocate('FP16', 2) instanceof Uint16Array);
    assert.ok(allocate('INT64', 2) instanceof BigInt64Array);
    assert.ok(allocate('UINT64', 2) instanceof BigUint64Array);
    assert.deepEqual(allocate('BYTES', 2), ['', '']);
    assert.equal(datatypeInfo('FP64').byteSize, 8);
    assert.equal(elementCount([]), 1);
    assert.equal(elementCount([2, 0, 3]), 0);
  });

  // Reference bit patterns: IEEE 754-2008 binary16 (e.g. numpy: np.float16(x).view(np.uint16)).
  const HALF: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite
    [6.103515625e-5, 0x0400], // smallest normal 2^-14
    [5.960464477539063e-8, 0x0001], // smallest subnormal 2^-24
    [0.1, 0x2e66], // np.float16(0.1) → 0x2e66
    [1 / 3, 0x3555], // np.float16(1/3) → 0x3555
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [65520, 0x7c00], // rounds up past the largest finite → inf (np.float16(65520) = inf)
    [2.9802322387695312e-8, 0x0000], // exactly half the smallest subnormal: ties to even → 0
    [1.0009765625, 0x3c01], // 1 + 2^-10
    [1.00048828125, 0x3c00], // 1 + 2^-11: tie → even (0x3c00)
    [1.00146484375, 0x3c02], // 1 + 3·2^-11: tie → even (0x3c02)
  ];

  test('toHalfBits rounds to nearest even like numpy.float16', () => {
    for (const [x, bits] of HALF) assert.equal(toHalfBits(x), bits, `toHalfBits(${x})`);
    assert.equal(toHalfBits(NaN) & 0x7c00, 0x7c00);
    assert.notEqual(toHalfBits(NaN) & 0x3ff, 0);
  });

  test('fromHalfBits gives the exact value of the bits', () => {
    const exact: [number, number][] = [[0x3c00, 1], [0xc000, -2], [0x7bff, 65504], [0x0400, 2 ** -14], [0x0001, 2 ** -24], [0x3c01, 1 + 2 ** -10], [0x2e66, 0.0999755859375]];
    for (const [bits, x] of exact) assert.equal(fromHalfBits(bits), x, `fromHalfBits(0x${bits.toString(16)})`);
    assert.equal(fromHalfBits(0x7c00), Infinity);
    assert.ok(Number.isNaN(fromHalfBits(0x7e00)));
    assert.ok(Object.is(fromHalfBits(0x8000), -0));
  });

  test('every half value round-trips through number and back', () => {
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >>> 10) & 0x1f;
      if (exp === 0x1f && (h & 0x3ff) !== 0) continue; // NaN payloads are not preserved
      assert.equal(toHalfBits(fromHalfBits(h)), h);
    }
  });
});
