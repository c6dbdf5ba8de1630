/**
 * @module bench/lib/wide-cnn
 * A compute-bound CNN for the serving benchmark, made at run time with Berth's own ONNX
 * builder (no Python, nothing committed): the digits example's convolutional layers
 * followed by a wide fully connected head (1024 → 2048 → 2048 → 10, 6.4 M parameters,
 * 25 MB). Its weights are seeded random numbers: the benchmark measures speed, not
 * accuracy. A batch-1 call streams all 25 MB of weights for one image while a batch-32
 * call reuses them for 32 — the weight-bound case the seed's "32 images cost little more
 * than one" describes, and the kind of model server-side batching exists for.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataType, makeGraph, makeModel, makeNode, makeTensor, makeValueInfo, writeModel, type NodeProto, type TensorProto } from '../../src/onnx/index.js';

/** xorshift32, so every run builds the same model. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/** He-uniform weights: keeps activations finite through the ReLU stack. */
function weights(next: () => number, count: number, fanIn: number): Float32Array {
  const a = Math.sqrt(6 / fanIn);
  const w = new Float32Array(count);
  for (let i = 0; i < count; i++) w[i] = (next() * 2 - 1) * a;
  return w;
}

export const WIDE_CNN_DESCRIPTION = 'digits-shaped CNN with a wide head (convs 32-64-64, dense 1024→2048→2048→10, 6.4 M params, seeded random weights), FP32[b,1,8,8] → probabilities[b,10]; built by the benchmark';

/** Writes the model to `<dir>/digits-wide.onnx` and returns the path. */
export function buildWideCnn(dir: string): string {
  const next = rng(20261125);
  const init: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const conv = (name: string, input: string, cin: number, cout: number): string => {
    init.push(makeTensor(`${name}.w`, DataType.FLOAT, [cout, cin, 3, 3], weights(next, cout * cin * 9, cin * 9)));
    init.push(makeTensor(`${name}.b`, DataType.FLOAT, [cout], new Float32Array(cout)));
    nodes.push(makeNode('Conv', [input, `${name}.w`, `${name}.b`], [`${name}.y`], { name, attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }));
    nodes.push(makeNode('Relu', [`${name}.y`], [`${name}.r`], { name: `${name}.relu` }));
    return `${name}.r`;
  };
  const dense = (name: string, input: string, nin: number, nout: number, relu: boolean): string => {
    init.push(makeTensor(`${name}.w`, DataType.FLOAT, [nout, nin], weights(next, nout * nin, nin)));
    init.push(makeTensor(`${name}.b`, DataType.FLOAT, [nout], new Float32Array(nout)));
    nodes.push(makeNode('Gemm', [input, `${name}.w`, `${name}.b`], [`${name}.y`], { name, attributes: { transB: 1 } }));
    if (!relu) return `${name}.y`;
    nodes.push(makeNode('Relu', [`${name}.y`], [`${name}.r`], { name: `${name}.relu` }));
    return `${name}.r`;
  };
  let x = conv('conv1', 'image', 1, 32);
  x = conv('conv2', x, 32, 64);
  nodes.push(makeNode('MaxPool', [x], ['pool'], { name: 'pool', attributes: { kernel_shape: [2, 2], strides: [2, 2] } }));
  x = conv('conv3', 'pool', 64, 64);
  nodes.push(makeNode('Flatten', [x], ['flat'], { name: 'flatten', attributes: { axis: 1 } }));
  x = dense('fc1', 'flat', 1024, 2048, true);
  x = dense('fc2', x, 2048, 2048, true);
  x = dense('fc3', x, 2048, 10, false);
  nodes.push(makeNode('Softmax', [x], ['probabilities'], { name: 'softmax', attributes: { axis: 1 } }));
  const graph = makeGraph(
    'digits_wide',
    nodes,
    [makeValueInfo('image', DataType.FLOAT, ['batch', 1, 8, 8])],
    [makeValueInfo('probabilities', DataType.FLOAT, ['batch', 10])],
    init,
  );
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'digits-wide.onnx');
  writeModel(path, makeModel(graph, { opset: 17 }));
  return path;
}
