/**
 * @module test/unit/onnx/graph
 * Graph helpers, element-type inference and tensor conversions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeNode, makeTensor } from '../../../src/onnx/build.js';
import { consumerMap, NameAllocator, producerMap, topologicalSort } from '../../../src/onnx/graph.js';
import { inferElemTypes } from '../../../src/onnx/infer-types.js';
import { arrayToTensor, float16BitsToFloat32Value, float32ToFloat16Bits, tensorToArray, tensorToFloat32 } from '../../../src/onnx/tensor.js';
import { DataType } from '../../../src/onnx/types.js';
import { isBerthError } from '../../../src/errors.js';
import { convModel } from './helpers.js';

test('topologicalSort restores a valid order and keeps valid orders stable', () => {
  const model = convModel(1, 4, 8, { bias: true, head: true });
  const graph = model.graph!;
  const original = graph.node!.map((n) => n.name);
  graph.node!.reverse();
  topologicalSort(graph);
  assert.deepEqual(graph.node!.map((n) => n.name), original);
  topologicalSort(graph);
  assert.deepEqual(graph.node!.map((n) => n.name), original);
});

test('topologicalSort reports cycles and undefined inputs', () => {
  const g = { node: [makeNode('Relu', ['b'], ['a']), makeNode('Relu', ['a'], ['b'])], input: [], initializer: [] };
  assert.throws(() => topologicalSort(g), (e) => isBerthError(e, 'BERTH_ERR_ONNX_UNSUPPORTED') && /reads 'b'|cycle/.test((e as Error).message));
  const h = { node: [makeNode('Relu', ['nowhere'], ['a'])], input: [], initializer: [] };
  assert.throws(() => topologicalSort(h), (e) => isBerthError(e, 'BERTH_ERR_ONNX_UNSUPPORTED') && /nowhere/.test((e as Error).message));
});

test('producers, consumers and unique names', () => {
  const graph = convModel(1, 4, 8, { head: true }).graph!;
  assert.equal(producerMap(graph).get('r')?.opType, 'Relu');
  assert.deepEqual(consumerMap(graph).get('c')?.map((n) => n.opType), ['Relu']);
  const names = new NameAllocator(graph);
  assert.equal(names.next('conv'), 'conv_1');
  assert.equal(names.next('conv'), 'conv_2');
  assert.equal(names.next('fresh'), 'fresh');
});

test('inferElemTypes follows Cast, Shape, ArgMax, comparison and DynamicQuantizeLinear', () => {
  const graph = {
    input: [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT } } }],
    initializer: [makeTensor('k', DataType.INT64, [1], [1])],
    node: [
      makeNode('Shape', ['x'], ['s']),
      makeNode('Cast', ['s'], ['sf'], { attributes: { to: DataType.FLOAT } }),
      makeNode('ArgMax', ['x'], ['am']),
      makeNode('Greater', ['x', 'sf'], ['gt']),
      makeNode('DynamicQuantizeLinear', ['x'], ['q', 'qs', 'qz']),
      makeNode('Where', ['gt', 'x', 'sf'], ['w']),
      makeNode('Relu', ['w'], ['r']),
    ],
  };
  const t = inferElemTypes(graph);
  assert.equal(t.get('s'), DataType.INT64);
  assert.equal(t.get('sf'), DataType.FLOAT);
  assert.equal(t.get('am'), DataType.INT64);
  assert.equal(t.get('gt'), DataType.BOOL);
  assert.deepEqual([t.get('q'), t.get('qs'), t.get('qz')], [DataType.UINT8, DataType.FLOAT, DataType.UINT8]);
  assert.equal(t.get('r'), DataType.FLOAT);
});

test('typed arrays ↔ TensorProto for every numeric type', () => {
  const cases: [number, ArrayLike<number> | BigInt64Array][] = [
    [DataType.FLOAT, Float32Array.of(1.5, -2, 3)], [DataType.INT8, Int8Array.of(-128, 0, 127)], [DataType.UINT8, Uint8Array.of(0, 7, 255)],
    [DataType.INT32, Int32Array.of(-5, 6, 7)], [DataType.INT64, BigInt64Array.of(-1n, 2n, 3n)], [DataType.DOUBLE, Float64Array.of(0.1, 0.2, 0.3)],
  ];
  for (const [type, data] of cases) {
    const t = arrayToTensor('t', type, [3], data as never);
    assert.deepEqual(Array.from(tensorToArray(t) as ArrayLike<number>), Array.from(data as ArrayLike<number>));
  }
  // typed fields (float_data) are read too
  assert.deepEqual(Array.from(tensorToFloat32({ name: 'f', dataType: DataType.FLOAT, dims: [2], floatData: [1, 2] })), [1, 2]);
  // a raw_data length that does not match the shape is an error
  assert.throws(() => tensorToArray({ name: 'bad', dataType: DataType.FLOAT, dims: [3], rawData: new Uint8Array(8) }), (e) => isBerthError(e, 'BERTH_ERR_ONNX_DECODE'));
});

test('float16 conversion matches IEEE binary16 with round-to-nearest-even', () => {
  const known: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [0.1, 0x2e66], [1e-8, 0], [5.960464477539063e-8, 1],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [Infinity, 0x7c00]];
  for (const [v, bits] of known) assert.equal(float32ToFloat16Bits(v), bits, `${v}`);
  assert.ok(Number.isNaN(float16BitsToFloat32Value(float32ToFloat16Bits(NaN))));
  // every finite float16 survives the round trip
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), (h) => {
    if ((h & 0x7c00) === 0x7c00) return true;
    return float32ToFloat16Bits(float16BitsToFloat32Value(h)) === h;
  }), { numRuns: 2000 });
});
