/**
 * @module test/unit/onnx/helpers
 * Small models built with Berth's own ONNX writer, and a helper that runs a model in
 * onnxruntime-node. Shared by the onnx and quantize unit tests.
 */
import { makeGraph, makeModel, makeNode, makeTensor, makeValueInfo } from '../../../src/onnx/build.js';
import { encodeModel } from '../../../src/onnx/codec.js';
import { DataType, type ModelProto } from '../../../src/onnx/types.js';
import { createOrtRunner, type HostTensor } from '../../../src/quantize/runner.js';

/** Deterministic N(0, 1) generator. */
export function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const u = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 0.5) / 4294967296; };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const g = gaussian(seed);
  return Float32Array.from({ length: n }, () => g() * scale);
}

export function matmulModel(k: number, n: number, options: { bias?: boolean; seed?: number } = {}): ModelProto {
  const w = randomArray(k * n, options.seed ?? 1, 1 / Math.sqrt(k));
  const nodes = [makeNode('MatMul', ['x', 'w'], [options.bias ? 'mm' : 'y'], { name: 'mm' })];
  const inits = [makeTensor('w', DataType.FLOAT, [k, n], w)];
  if (options.bias) {
    nodes.push(makeNode('Add', ['mm', 'b'], ['y'], { name: 'bias' }));
    inits.push(makeTensor('b', DataType.FLOAT, [n], randomArray(n, 99, 0.1)));
  }
  return makeModel(makeGraph('matmul', nodes, [makeValueInfo('x', DataType.FLOAT, ['batch', k])], [makeValueInfo('y', DataType.FLOAT, ['batch', n])], inits));
}

export function gemmModel(k: number, n: number, options: { bias?: boolean; transB?: boolean; relu?: boolean; alpha?: number; seed?: number } = {}): ModelProto {
  const w = randomArray(k * n, options.seed ?? 2, 1 / Math.sqrt(k));
  const inputs = ['x', 'w'];
  const inits = [makeTensor('w', DataType.FLOAT, options.transB ? [n, k] : [k, n], w)];
  if (options.bias) { inputs.push('b'); inits.push(makeTensor('b', DataType.FLOAT, [n], randomArray(n, 98, 0.1))); }
  const nodes = [makeNode('Gemm', inputs, [options.relu ? 'g' : 'y'], { name: 'gemm', attributes: { transB: options.transB ? 1 : 0, alpha: { float: options.alpha ?? 1 } } })];
  if (options.relu) nodes.push(makeNode('Relu', ['g'], ['y'], { name: 'relu' }));
  return makeModel(makeGraph('gemm', nodes, [makeValueInfo('x', DataType.FLOAT, ['batch', k])], [makeValueInfo('y', DataType.FLOAT, ['batch', n])], inits));
}

/** x [batch, c, h, w] → Conv(m, 3×3, pad 1) [→ Relu → MaxPool 2×2 → Flatten → Gemm → 10]. */
export function convModel(c: number, m: number, hw: number, options: { bias?: boolean; head?: boolean } = {}): ModelProto {
  const inits = [makeTensor('w', DataType.FLOAT, [m, c, 3, 3], randomArray(m * c * 9, 3, 1 / Math.sqrt(c * 9)))];
  const convIn = ['x', 'w'];
  if (options.bias) { convIn.push('b'); inits.push(makeTensor('b', DataType.FLOAT, [m], randomArray(m, 97, 0.1))); }
  const nodes = [makeNode('Conv', convIn, [options.head ? 'c' : 'y'], { name: 'conv', attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } })];
  let out: (string | number)[] = ['batch', m, hw, hw];
  if (options.head) {
    const feat = m * (hw / 2) * (hw / 2);
    nodes.push(
      makeNode('Relu', ['c'], ['r'], { name: 'relu' }),
      makeNode('MaxPool', ['r'], ['p'], { name: 'pool', attributes: { kernel_shape: [2, 2], strides: [2, 2] } }),
      makeNode('Flatten', ['p'], ['f'], { name: 'flatten' }),
      makeNode('Gemm', ['f', 'w2', 'b2'], ['y'], { name: 'fc', attributes: { transB: 1 } }));
    inits.push(makeTensor('w2', DataType.FLOAT, [10, feat], randomArray(10 * feat, 4, 1 / Math.sqrt(feat))), makeTensor('b2', DataType.FLOAT, [10], randomArray(10, 96, 0.1)));
    out = ['batch', 10];
  }
  return makeModel(makeGraph('conv', nodes, [makeValueInfo('x', DataType.FLOAT, ['batch', c, hw, hw])], [makeValueInfo('y', DataType.FLOAT, out)], inits));
}

/** Runs a model (object or bytes) once in onnxruntime-node. */
export async function runModel(model: ModelProto | Uint8Array, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const runner = await createOrtRunner(bytes, { threads: 1 });
  try {
    return await runner.run(feeds);
  } finally {
    await runner.release();
  }
}

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
