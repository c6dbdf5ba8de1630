/**
 * The inputs hash: one canonical byte form per tensor whatever its JSON spelling, so the
 * same request hashes the same from JSON, from typed arrays, nested or flat.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { canonicalBytes, halfBits, hashInputs, inputsForLog } from '../../../src/store/hash.js';

const income = { name: 'features', datatype: 'FP32', shape: [2, 3], data: [0.1, 2, 3, 4, 5.5, -6] };

test('the same tensor hashes the same: nested or flat, JSON numbers or typed arrays, FP32 rounding', () => {
  const h = hashInputs([income]);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(hashInputs([{ ...income, data: [[0.1, 2, 3], [4, 5.5, -6]] }]), h);
  assert.equal(hashInputs([{ ...income, data: new Float32Array(income.data) }]), h);
  assert.equal(hashInputs([{ ...income, parameters: { binary_data_size: 24 } }]), h, 'parameters are not part of it');
  const i64 = { name: 'ids', datatype: 'INT64', shape: [2], data: [1, 9007199254740993n] };
  assert.equal(hashInputs([i64]), hashInputs([{ ...i64, data: new BigInt64Array([1n, 9007199254740993n]) }]));
  assert.equal(hashInputs([{ name: 'h', datatype: 'FP16', shape: [2], data: [1, 0.5] }]), hashInputs([{ name: 'h', datatype: 'FP16', shape: [2], data: new Uint16Array([0x3c00, 0x3800]) }]));
});

test('anything that changes the tensor changes the hash', () => {
  const h = hashInputs([income]);
  const variants = [
    { ...income, name: 'other' },
    { ...income, datatype: 'FP64' },
    { ...income, shape: [3, 2] },
    { ...income, data: [0.1, 2, 3, 4, 5.5, 6] },
    { ...income, data: [0.1, 2, 3, 4, 5.5] },
  ];
  for (const v of variants) assert.notEqual(hashInputs([v]), h, JSON.stringify(v));
  assert.notEqual(hashInputs([income, income]), h);
  assert.notEqual(hashInputs([]), h);
  // Length prefixes keep string boundaries apart.
  assert.notEqual(
    hashInputs([{ name: 's', datatype: 'BYTES', shape: [2], data: ['ab', 'c'] }]),
    hashInputs([{ name: 's', datatype: 'BYTES', shape: [2], data: ['a', 'bc'] }]),
  );
});

test('the canonical bytes are the raw tensor bytes plus small headers, and sha256 of them is the hash', () => {
  const bytes = canonicalBytes([income]);
  const header = 4 + (4 + 8) + (4 + 4) + 4 + 2 * 8 + 4; // count, name, datatype, shape, data count
  assert.equal(bytes.length, header + 6 * 4);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), hashInputs([income]));
  assert.equal(bytes.readFloatLE(header), Math.fround(0.1));
});

test('halfBits rounds to the nearest even half', () => {
  assert.equal(halfBits(1), 0x3c00);
  assert.equal(halfBits(-2), 0xc000);
  assert.equal(halfBits(65504), 0x7bff);
  assert.equal(halfBits(1e6), 0x7c00);
  assert.equal(halfBits(Number.NaN) & 0x7c00, 0x7c00);
  assert.equal(halfBits(5.960464477539063e-8), 0x0001);
  assert.equal(halfBits(1 + 2 ** -11), 0x3c00, 'a tie rounds to even');
  assert.equal(halfBits(1 + 3 * 2 ** -11), 0x3c02);
});

test('inputsForLog keeps the tensors unless told not to or they are too large; the hash is always there', () => {
  const kept = inputsForLog([income], { keepInputs: true, maxInputBytes: 65536 });
  assert.deepEqual(kept.inputs, [income]);
  assert.equal(kept.inputsHash, hashInputs([income]));
  assert.equal(inputsForLog([income], { keepInputs: false, maxInputBytes: 65536 }).inputs, null);
  const big = inputsForLog([income], { keepInputs: true, maxInputBytes: 30 });
  assert.equal(big.inputs, null);
  assert.equal(big.inputsHash, kept.inputsHash);
});
