// Checks every committed ONNX model (examples/models, test/fixtures/models) in onnxruntime-node:
// prints its input/output metadata, replays the committed requests against the torch outputs,
// recomputes the recorded test accuracies, the preprocessing hashes, and the income encoding.
// Usage: node examples/verify-models.mjs    (exit code 1 if anything does not match)

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import ort from 'onnxruntime-node';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const examples = join(root, 'examples');
const fixtures = join(root, 'test', 'fixtures', 'models');
const TOLERANCE = 1e-5;

let failures = 0;
function check(ok, what, detail = '') {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
  if (!ok) failures += 1;
}

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const open = (path) => ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });

// Open Inference Protocol datatype -> [onnxruntime type, typed array constructor].
const V2_TYPES = {
  BOOL: ['bool', Uint8Array], UINT8: ['uint8', Uint8Array], UINT16: ['uint16', Uint16Array],
  UINT32: ['uint32', Uint32Array], UINT64: ['uint64', BigUint64Array], INT8: ['int8', Int8Array],
  INT16: ['int16', Int16Array], INT32: ['int32', Int32Array], INT64: ['int64', BigInt64Array],
  FP16: ['float16', Uint16Array], FP32: ['float32', Float32Array], FP64: ['float64', Float64Array],
};

function v2ToTensor({ datatype, shape, data }) {
  const [type, Array_] = V2_TYPES[datatype];
  const values = Array_ === BigInt64Array || Array_ === BigUint64Array ? data.map(BigInt) : data;
  return new ort.Tensor(type, Array_.from(values), shape);
}

function maxAbsDiff(actual, expected) {
  let max = 0;
  for (let i = 0; i < expected.length; i += 1) max = Math.max(max, Math.abs(Number(actual[i]) - Number(expected[i])));
  return actual.length === expected.length ? max : Infinity;
}

/** Replay a V2 request and compare each output with the expected V2 outputs. */
async function replay(session, request, expectedOutputs, label) {
  const feeds = Object.fromEntries(request.inputs.map((input) => [input.name, v2ToTensor(input)]));
  const results = await session.run(feeds);
  for (const expected of expectedOutputs) {
    const actual = results[expected.name];
    const sameShape = actual !== undefined && JSON.stringify(actual.dims) === JSON.stringify(expected.shape);
    const diff = sameShape ? maxAbsDiff(actual.data, expected.data) : Infinity;
    const limit = expected.datatype.startsWith('FP') ? TOLERANCE : 0;
    check(sameShape && diff <= limit, `${label}: output '${expected.name}' matches torch`, `max abs diff ${diff.toExponential(2)}`);
  }
}

function printMetadata(session) {
  for (const m of session.inputMetadata) console.log(`    in   ${m.name}: ${m.type} [${m.shape.join(', ')}]`);
  for (const m of session.outputMetadata) console.log(`    out  ${m.name}: ${m.type} [${m.shape.join(', ')}]`);
}

// --- RFC 8785 canonical JSON, to recompute the preprocessing hash independently of Python ---
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort(); // UTF-16 code unit order, as JCS requires
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function specHash(spec) {
  const { hash, ...rest } = spec;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

// --- A direct reading of examples/models/income/preprocessing.json, to prove it is complete ---
function encodeAdult(csvText, spec) {
  const rows = csvText.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(spec.source.commentPrefix));
  const column = new Map(spec.rawColumns.map((name, i) => [name, i]));
  const missing = new Set(spec.missingValues);
  const numberPattern = new RegExp(spec.numeric.numberPattern);
  const out = new Float32Array(rows.length * spec.featureCount);
  rows.forEach((line, r) => {
    const fields = line.split(spec.source.delimiter).map((v) => v.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ''));
    const base = r * spec.featureCount;
    for (const f of spec.features) {
      const value = fields[column.get(f.column)];
      if (f.type === 'numeric') {
        if (missing.has(value)) continue; // encodes to 0
        if (!numberPattern.test(value)) throw new Error(`row ${r}: '${f.column}' is not a number: '${value}'`);
        out[base + f.offset] = (Number(value) - f.mean) / f.std;
      } else {
        const slot = f.categories.indexOf(missing.has(value) ? '?' : value);
        if (slot >= 0) out[base + f.offset + slot] = 1;
      }
    }
  });
  return { rows: rows.length, features: out };
}

function argmaxRows(data, width) {
  const labels = new Uint8Array(data.length / width);
  for (let r = 0; r < labels.length; r += 1) {
    let best = 0;
    for (let k = 1; k < width; k += 1) if (data[r * width + k] > data[r * width + best]) best = k;
    labels[r] = best;
  }
  return labels;
}

const countEqual = (a, b) => a.reduce((n, v, i) => n + (Number(v) === Number(b[i]) ? 1 : 0), 0);
const f32View = (buffer) => new Float32Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));

async function verifyIncome() {
  const dir = join(examples, 'models', 'income');
  const modelPath = join(dir, '1', 'model.onnx');
  const session = await open(modelPath);
  const card = readJson(join(dir, 'model-card.json'));
  const spec = readJson(join(dir, 'preprocessing.json'));
  console.log('\nexamples/models/income/1/model.onnx');
  printMetadata(session);
  check(!existsSync(join(dir, 'berth.yaml')), 'income has no berth.yaml (served with no config)');

  const hash = specHash(spec);
  check(hash === spec.hash, 'preprocessing.json hash recomputes in JS', hash.slice(0, 12));
  check(card.preprocessing.hash === spec.hash, 'model card names the same preprocessing hash');
  // The hash is stored as a plain string in the ONNX metadata_props, so a byte search finds it.
  check(readFileSync(modelPath).includes(spec.hash), 'model.onnx metadata names the same preprocessing hash');
  check(session.inputMetadata[0].shape[1] === spec.featureCount, `input width is featureCount ${spec.featureCount}`);

  const request = readJson(join(examples, 'requests', 'income.json'));
  const expected = readJson(join(examples, 'requests', 'income.expected.json'));
  await replay(session, request, expected.outputs, 'requests/income.json');

  const meta = readJson(join(examples, 'data', 'adult', 'test-encoded.json'));
  const [n, d] = meta.features.shape;
  const features = f32View(gunzipSync(readFileSync(join(examples, 'data', 'adult', meta.features.file))));
  const labels = readFileSync(join(examples, 'data', 'adult', meta.labels.file));
  check(features.length === n * d && labels.length === n, `test-encoded is [${n}, ${d}] with ${n} labels`);
  check(meta.preprocessingHash === spec.hash, 'test-encoded.json names the same preprocessing hash');

  const encoded = encodeAdult(gunzipSync(readFileSync(join(examples, 'data', 'adult', 'adult.test.gz'))).toString('utf8'), spec);
  const identical = encoded.rows === n && encoded.features.every((v, i) => Object.is(v, features[i]));
  check(identical, 'encoding adult.test.gz from preprocessing.json in JS reproduces test-encoded.f32 bit for bit');

  const results = await session.run({ features: new ort.Tensor('float32', features, [n, d]) });
  const correct = countEqual(results.label.data, labels);
  check(correct === card.metrics.testCorrect, `income test accuracy ${(correct / n).toFixed(6)} matches the model card`,
    `${correct}/${n} correct, card says ${card.metrics.testCorrect}`);
  const argmax = argmaxRows(results.probabilities.data, 2);
  check(countEqual(argmax, results.label.data) === n, "'label' is the argmax of 'probabilities' on every test row");
}

async function verifyDigits() {
  const dir = join(examples, 'models', 'digits');
  const modelPath = join(dir, '1', 'model.onnx');
  const session = await open(modelPath);
  const card = readJson(join(dir, 'model-card.json'));
  const spec = readJson(join(dir, 'preprocessing.json'));
  console.log('\nexamples/models/digits/1/model.onnx');
  printMetadata(session);
  check(specHash(spec) === spec.hash, 'preprocessing.json hash recomputes in JS');
  check(card.preprocessing.hash === spec.hash, 'model card names the same preprocessing hash');
  // The hash is stored as a plain string in the ONNX metadata_props, so a byte search finds it.
  check(readFileSync(modelPath).includes(spec.hash), 'model.onnx metadata names the same preprocessing hash');

  const request = readJson(join(examples, 'requests', 'digits.json'));
  const expected = readJson(join(examples, 'requests', 'digits.expected.json'));
  await replay(session, request, expected.outputs, 'requests/digits.json');

  const meta = readJson(join(examples, 'data', 'digits', 'test-images.json'));
  const images = f32View(readFileSync(join(examples, 'data', 'digits', meta.images.file)));
  const labels = readFileSync(join(examples, 'data', 'digits', meta.labels.file));
  const n = meta.images.shape[0];
  check(images.length === n * 64 && labels.length === n, `test-images is [${n}, 1, 8, 8] with ${n} labels`);
  const results = await session.run({ image: new ort.Tensor('float32', images, [n, 1, 8, 8]) });
  const correct = countEqual(argmaxRows(results.probabilities.data, 10), labels);
  check(correct === card.metrics.testCorrect, `digits test accuracy ${(correct / n).toFixed(6)} matches the model card`,
    `${correct}/${n} correct, card says ${card.metrics.testCorrect}`);
}

/** Sample [2, 3] values for each identity_all_types input. */
function sampleTensor(type) {
  const shape = [2, 3];
  switch (type) {
    case 'bool': return new ort.Tensor('bool', Uint8Array.from([1, 0, 1, 0, 0, 1]), shape);
    case 'string': return new ort.Tensor('string', ['a', '', 'héllo', 'b,c', '?', 'x y'], shape);
    case 'int64': return new ort.Tensor('int64', BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n]), shape);
    case 'uint64': return new ort.Tensor('uint64', BigUint64Array.from([0n, 1n, 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]), shape);
    case 'float16': return new ort.Tensor('float16', Uint16Array.from([0x0000, 0x3c00, 0xbc00, 0x7bff, 0x0001, 0x7c00]), shape);
    default: {
      const Array_ = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int8: Int8Array, int16: Int16Array,
        int32: Int32Array, float32: Float32Array, float64: Float64Array }[type];
      return new ort.Tensor(type, Array_.from([0, 1, 2, 3, 100, 127]), shape);
    }
  }
}

async function verifyFixtures() {
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.onnx')).sort();
  const sessions = {};
  for (const file of files) {
    console.log(`\n${relative(root, join(fixtures, file))}`);
    try {
      sessions[file] = await open(join(fixtures, file));
      printMetadata(sessions[file]);
    } catch (error) {
      check(false, `${file} loads`, error.message);
    }
  }

  console.log('\nfixture behaviour');
  // onnxruntime needs every input fed, so all thirteen types go through one run.
  const identity = sessions['identity_all_types.onnx'];
  const types = identity.inputMetadata.map((meta) => meta.name.slice('in_'.length));
  const inputs = Object.fromEntries(types.map((type) => [`in_${type}`, sampleTensor(type)]));
  const outputs = await identity.run(inputs);
  for (const type of types) {
    const input = inputs[`in_${type}`];
    const output = outputs[`out_${type}`];
    const same = output !== undefined && output.type === input.type && output.dims.join() === input.dims.join()
      && Array.from(input.data).every((v, i) => v === output.data[i]);
    check(same, `identity_all_types: ${type} round-trips`);
  }

  const arith = await sessions['arith_mixed.onnx'].run({
    a: new ort.Tensor('int64', BigInt64Array.from([1n, -2n, 2n ** 40n, 0n]), [2, 2]),
    b: new ort.Tensor('float64', Float64Array.from([0.5, -1.25, 3, 1e-300]), [2, 2]),
    c: new ort.Tensor('bool', Uint8Array.from([1, 0, 0, 1]), [2, 2]),
    s: new ort.Tensor('string', ['first', 'second'], [2, 1]),
  });
  const same = (t, values) => JSON.stringify(Array.from(t.data, (v) => (typeof v === 'bigint' ? v.toString() : v))) === JSON.stringify(values);
  check(same(arith.a_plus_one, ['2', '-1', String(2n ** 40n + 1n), '1']), 'arith_mixed: a_plus_one = a + 1 (INT64)');
  check(same(arith.b_times_two, [1, -2.5, 6, 2e-300]), 'arith_mixed: b_times_two = b * 2 (FP64)');
  check(same(arith.c_not, [0, 1, 1, 0]), 'arith_mixed: c_not = !c (BOOL, returned as Uint8Array)');
  check(same(arith.s_copy, ['first', 'second']), 'arith_mixed: s_copy = s (STRING)');
  check(same(arith.a_as_double, [1.5, -3.25, 2 ** 40 + 3, 1e-300]), 'arith_mixed: a_as_double = double(a) + b (FP64)');

  const fixed = await sessions['fixed_batch.onnx'].run({ x: new ort.Tensor('float32', Float32Array.from([-1, 0, 2, -3]), [1, 4]) });
  check(same(fixed.y, [0, 0, 2, 0]), 'fixed_batch: y = relu(x) on [1, 4]');
  let rejected = false;
  try {
    await sessions['fixed_batch.onnx'].run({ x: new ort.Tensor('float32', new Float32Array(8), [2, 4]) });
  } catch {
    rejected = true;
  }
  check(rejected, 'fixed_batch: onnxruntime rejects a [2, 4] input');

  const scalar = await sessions['scalar_in.onnx'].run({
    x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [4]),
    k: new ort.Tensor('float32', Float32Array.from([0.5]), []),
  });
  check(same(scalar.y, [0.5, 1, 1.5, 2]), 'scalar_in: y = x * k with x [4], k rank 0');

  const slow = await sessions['slow_matmul.onnx'].run({ x: new ort.Tensor('float32', new Float32Array(2 * 256).fill(0.1), [2, 256]) });
  check(slow.y.dims.join() === '2,256' && slow.y.data.every(Number.isFinite), 'slow_matmul: y is finite [2, 256]');

  const mlpExpected = readJson(join(fixtures, 'mlp_torch.expected.json'));
  await replay(sessions['mlp_torch.onnx'], mlpExpected.request, mlpExpected.response.outputs, 'mlp_torch.expected.json');
}

console.log(`onnxruntime-node ${ort.env.versions.node}`);
await verifyIncome();
await verifyDigits();
await verifyFixtures();
console.log(failures === 0 ? '\nall checks passed' : `\n${failures} check(s) FAILED`);
process.exit(failures === 0 ? 0 : 1);
