/**
 * @module bench/lib/models
 * The example models the serving benchmark runs, and the one-row Open Inference Protocol
 * request every HTTP request carries: the first row of `examples/requests/<model>.json`.
 * One row per request means rows/s = requests/s, and the server does all the batching.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWideCnn, WIDE_CNN_DESCRIPTION } from './wide-cnn.js';

export interface BenchModel {
  name: string;
  /** The .onnx file. */
  file: string;
  /** The model's single input. */
  input: string;
  /** Input shape without the batch dimension. */
  rowShape: number[];
  /** One input row (what raw ONNX Runtime is fed, repeated to the batch size). */
  row: Float32Array;
  /** The one-row request body (JSON text). */
  body: string;
  /** The same row as raw little-endian FP32 bytes (binary tensor data extension). */
  binaryBody: Buffer;
  /** Whether compute, not I/O, dominates a request: the aims about batching apply to it. */
  computeBound: boolean;
  /** One line on what the model is. */
  description: string;
}

interface KnownModel {
  input: string;
  /** Example model whose request file to use (default: the model's own name). */
  requestOf?: string;
  /** Builds the model file instead of reading examples/models/<name>/1/model.onnx. */
  build?: () => string;
  rowShape: number[];
  computeBound: boolean;
  description: string;
}

const KNOWN: Record<string, KnownModel> = {
  income: { input: 'features', rowShape: [91], computeBound: false, description: 'UCI Adult MLP, FP32[b,91] → probabilities[b,2], label[b]; ~0.02 ms per call at any batch size' },
  digits: { input: 'image', rowShape: [1, 8, 8], computeBound: false, description: 'small CNN on 8×8 digits, FP32[b,1,8,8] → probabilities[b,10]; 1.9 M multiply-adds per row (~0.05 ms per image: below the cost of an HTTP request)' },
  'digits-wide': { input: 'image', rowShape: [1, 8, 8], computeBound: true, requestOf: 'digits', build: () => buildWideCnn(join(tmpdir(), 'berth-bench-models')), description: WIDE_CNN_DESCRIPTION },
};

export const MODEL_NAMES = Object.keys(KNOWN);

interface RequestFile {
  id?: string;
  inputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
}

export function loadModel(root: string, name: string): BenchModel {
  const known = KNOWN[name];
  if (known === undefined) throw new Error(`unknown model '${name}'; the benchmark knows ${MODEL_NAMES.join(', ')}`);
  const file = known.build?.() ?? join(root, 'examples/models', name, '1/model.onnx');
  const requestName = known.requestOf ?? name;
  const request = JSON.parse(readFileSync(join(root, 'examples/requests', `${requestName}.json`), 'utf8')) as RequestFile;
  const input = request.inputs.find((i) => i.name === known.input);
  if (input === undefined) throw new Error(`examples/requests/${requestName}.json has no input '${known.input}'`);
  const rowLength = known.rowShape.reduce((a, b) => a * b, 1);
  if (input.data.length < rowLength) throw new Error(`examples/requests/${name}.json: input '${known.input}' has fewer than ${rowLength} values`);
  const values = input.data.slice(0, rowLength);
  // No "id": every request gets a unique server-assigned one, as the decision log needs
  // (one id sent 100,000 times would be one decision and 99,999 conflicts).
  const body = JSON.stringify({
    inputs: [{ name: known.input, shape: [1, ...known.rowShape], datatype: 'FP32', data: values }],
  });
  const row = Float32Array.from(values);
  const binaryBody = Buffer.from(row.buffer, row.byteOffset, row.byteLength);
  return { name, file, input: known.input, rowShape: known.rowShape, row, body, binaryBody, computeBound: known.computeBound, description: known.description };
}
