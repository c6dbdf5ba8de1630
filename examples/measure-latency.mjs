// Measures onnxruntime-node latency of the compute-bound example and fixture models at batch 1
// and batch 32 on one intra-op thread: the numbers the batching defaults were chosen from.
// Usage: node examples/measure-latency.mjs [runs=300]

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.argv[2] ?? 300);
const WARMUP = 30;
const BATCH_SIZES = [1, 32];

const digitImages = (() => {
  const bytes = readFileSync(join(root, 'examples', 'data', 'digits', 'test-images.f32'));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
})();

// A fixed pseudo-random fill (no Math.random) so runs are comparable.
function filled(length) {
  const data = new Float32Array(length);
  let state = 12345;
  for (let i = 0; i < length; i += 1) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = state / 2 ** 32 - 0.5;
  }
  return data;
}

const MODELS = [
  { file: 'examples/models/digits/1/model.onnx', input: 'image', item: [1, 8, 8], data: (n) => digitImages.slice(0, n * 64) },
  { file: 'test/fixtures/models/slow_matmul.onnx', input: 'x', item: [256], data: (n) => filled(n * 256) },
  { file: 'examples/models/income/1/model.onnx', input: 'features', item: [91], data: (n) => filled(n * 91) },
];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

console.log(`onnxruntime-node ${ort.env.versions.node}, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
console.log(`intraOpNumThreads 1, median of ${RUNS} runs after ${WARMUP} warm-up runs\n`);
console.log('model'.padEnd(40) + 'batch'.padStart(6) + 'median ms'.padStart(12) + 'p90 ms'.padStart(10) + 'ms/item'.padStart(10));
for (const model of MODELS) {
  const session = await ort.InferenceSession.create(join(root, model.file), {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
  });
  for (const n of BATCH_SIZES) {
    const feeds = { [model.input]: new ort.Tensor('float32', model.data(n), [n, ...model.item]) };
    for (let i = 0; i < WARMUP; i += 1) await session.run(feeds);
    const times = [];
    for (let i = 0; i < RUNS; i += 1) {
      const start = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const m = median(times);
    console.log(model.file.padEnd(40) + String(n).padStart(6) + m.toFixed(3).padStart(12)
      + sorted[Math.floor(RUNS * 0.9)].toFixed(3).padStart(10) + (m / n).toFixed(4).padStart(10));
  }
  await session.release();
}
