/**
 * Tensor encoding over real HTTP: every V2 datatype through JSON, the binary tensor data
 * extension (binary in, binary out, and mixed) and raw binary mode, compared with
 * onnxruntime-node run in this process on the same inputs. Also models without a batch
 * dimension (fixed first dim, rank-0 input) and the example models' expected outputs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as ort from 'onnxruntime-node';
import { EXAMPLES, fixture, startServer } from '../helpers/server.js';
import {
  bigintSafe, digitsImages, fromBytes, incomeFeatures, infer, inferBinary, maxAbsDiff, ortTensor, ortValues, outputValues, readJson, runOrt, toBytes,
  type InferResponse, type V2Type, type Value,
} from '../helpers/v2.js';

const INCOME = join(EXAMPLES, 'income/1/model.onnx');
const DIGITS = join(EXAMPLES, 'digits/1/model.onnx');
const IDENTITY = fixture('identity_all_types.onnx');
const ARITH = fixture('arith_mixed.onnx');

/** Half-precision bits → number, written independently of the server's conversion. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

interface TypeCase {
  v2: V2Type;
  ort: string;
  /** Values as sent in JSON (64-bit ints as strings beyond 2^53, FP16 as numbers). */
  json: Value[];
  /** The same values in binary form (FP16 as half bits, 64-bit ints as bigint). */
  binary: Value[];
}

const P53 = 2n ** 53n;
const TYPES: TypeCase[] = [
  { v2: 'BOOL', ort: 'bool', json: [true, false, true, false, false, true], binary: [true, false, true, false, false, true] },
  { v2: 'UINT8', ort: 'uint8', json: [0, 1, 127, 128, 254, 255], binary: [0, 1, 127, 128, 254, 255] },
  { v2: 'UINT16', ort: 'uint16', json: [0, 1, 256, 32768, 65534, 65535], binary: [0, 1, 256, 32768, 65534, 65535] },
  { v2: 'UINT32', ort: 'uint32', json: [0, 1, 65536, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1], binary: [0, 1, 65536, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1] },
  {
    v2: 'UINT64', ort: 'uint64',
    json: [0, 1, String(P53 + 1n), String(2n ** 63n), String(2n ** 64n - 2n), String(2n ** 64n - 1n)],
    binary: [0n, 1n, P53 + 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n],
  },
  { v2: 'INT8', ort: 'int8', json: [-128, -1, 0, 1, 126, 127], binary: [-128, -1, 0, 1, 126, 127] },
  { v2: 'INT16', ort: 'int16', json: [-32768, -1, 0, 1, 32766, 32767], binary: [-32768, -1, 0, 1, 32766, 32767] },
  { v2: 'INT32', ort: 'int32', json: [-(2 ** 31), -1, 0, 1, 2 ** 31 - 2, 2 ** 31 - 1], binary: [-(2 ** 31), -1, 0, 1, 2 ** 31 - 2, 2 ** 31 - 1] },
  {
    v2: 'INT64', ort: 'int64',
    json: [String(-(2n ** 63n)), String(-P53 - 1n), -1, 0, String(P53 + 1n), String(2n ** 63n - 1n)],
    binary: [-(2n ** 63n), -P53 - 1n, -1n, 0n, P53 + 1n, 2n ** 63n - 1n],
  },
  // 0, 1.5, -2.25, 65504 (max), 2^-24 (smallest subnormal), 0.333251953125: all exact in half precision.
  { v2: 'FP16', ort: 'float16', json: [0, 1.5, -2.25, 65504, 2 ** -24, 0.333251953125], binary: [0x0000, 0x3e00, 0xc080, 0x7bff, 0x0001, 0x3555] },
  {
    v2: 'FP32', ort: 'float32',
    json: [0, -1.5, 3.4028234663852886e38, 1.401298464324817e-45, Math.fround(0.1), -Math.fround(1e-10)],
    binary: [0, -1.5, 3.4028234663852886e38, 1.401298464324817e-45, Math.fround(0.1), -Math.fround(1e-10)],
  },
  { v2: 'FP64', ort: 'float64', json: [0, -1.5, Number.MAX_VALUE, Number.MIN_VALUE, 0.1, -1e300], binary: [0, -1.5, Number.MAX_VALUE, Number.MIN_VALUE, 0.1, -1e300] },
  {
    v2: 'BYTES', ort: 'string',
    json: ['héllo wörld', '日本語テキスト', '🚀 emoji', '', 'quote " backslash \\ newline \n', 'tab\tand\r\u0001'],
    binary: ['héllo wörld', '日本語テキスト', '🚀 emoji', '', 'quote " backslash \\ newline \n', 'tab\tand\r\u0001'],
  },
];

/** Canonical form for comparison: 64-bit ints as bigint, FP16 as numbers, the rest as is. */
function canon(v2: V2Type, values: readonly Value[], fp16AsBits: boolean): Value[] {
  if (v2 === 'INT64' || v2 === 'UINT64') return values.map((v) => BigInt(v));
  if (v2 === 'FP16' && fp16AsBits) return values.map((v) => halfToNumber(Number(v)));
  // Large whole floats (e.g. 4611686018427388000) are integer literals in JSON; the exact parser gives bigints.
  if (v2 === 'FP16' || v2 === 'FP32' || v2 === 'FP64') return values.map((v) => (typeof v === 'bigint' ? Number(v) : v));
  return [...values];
}

const inName = (c: TypeCase): string => `in_${c.ort}`;
const outName = (c: TypeCase): string => `out_${c.ort}`;

/** In-process reference run of the identity model on the binary values. */
async function identityReference(): Promise<Record<string, ort.Tensor>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const c of TYPES) feeds[inName(c)] = ortTensor(c.v2, c.binary, [2, 3]);
  return runOrt(IDENTITY, feeds);
}

function checkIdentityOutputs(r: InferResponse, ref: Record<string, ort.Tensor>, how: string): void {
  assert.equal(r.status, 200, `${how}: ${JSON.stringify(r.json, bigintSafe)}`);
  for (const c of TYPES) {
    const o = (r.json.outputs as { name: string; datatype: string; shape: number[] }[]).find((x) => x.name === outName(c));
    assert.ok(o, `${how}: output ${outName(c)}`);
    assert.equal(o.datatype, c.v2, `${how}: ${outName(c)} datatype`);
    assert.deepEqual(o.shape, [2, 3], `${how}: ${outName(c)} shape`);
    const got = outputValues(r, outName(c));
    const binary = r.binary.has(outName(c));
    const expectedRef = canon(c.v2, ortValues(ref[outName(c)]!), true);
    const expectedIn = canon(c.v2, c.binary, true);
    assert.deepEqual(canon(c.v2, got, binary), expectedRef, `${how}: ${outName(c)} equals in-process onnxruntime`);
    assert.deepEqual(canon(c.v2, got, binary), expectedIn, `${how}: ${outName(c)} equals the input`);
    if (binary) assert.deepEqual(r.binary.get(outName(c)), toBytes(c.v2, c.binary), `${how}: ${outName(c)} bytes`);
  }
}

test('datatypes over JSON and binary', async (t) => {
  const s = await startServer({
    models: [
      { name: 'identity', file: IDENTITY },
      { name: 'identity_nonfinite', file: IDENTITY, config: 'allowNonFinite: true\n' },
      { name: 'arith', file: ARITH },
      { name: 'income', file: INCOME },
      { name: 'digits', file: DIGITS, config: readFileSync(join(EXAMPLES, 'digits/berth.yaml'), 'utf8') },
      { name: 'fixed', file: fixture('fixed_batch.onnx') },
      { name: 'scalar', file: fixture('scalar_in.onnx') },
      { name: 'constant', file: fixture('no_inputs.onnx') },
    ],
  });
  t.after(() => s.close());
  const u = s.url;
  const ref = await identityReference();

  await t.test('identity: every datatype as JSON (INT64/UINT64 beyond 2^53 as strings)', async () => {
    const r = await infer(`${u}/v2/models/identity/infer`, {
      inputs: TYPES.map((c) => ({ name: inName(c), datatype: c.v2, shape: [2, 3], data: c.json })),
    });
    checkIdentityOutputs(r, ref, 'JSON');
    // 64-bit integers come back as exact JSON integers, not rounded doubles.
    const text = r.raw.toString('utf8');
    assert.ok(text.includes(String(2n ** 64n - 1n)), 'UINT64 max written exactly');
    assert.ok(text.includes(String(-(2n ** 63n))), 'INT64 min written exactly');
    assert.ok(text.includes(String(P53 + 1n)), '2^53 + 1 written exactly');
  });

  await t.test('identity: every datatype binary in, binary out', async () => {
    const header = {
      inputs: TYPES.map((c) => ({ name: inName(c), datatype: c.v2, shape: [2, 3], parameters: { binary_data_size: toBytes(c.v2, c.binary).length } })),
      parameters: { binary_data_output: true },
    };
    const r = await inferBinary(`${u}/v2/models/identity/infer`, header, TYPES.map((c) => toBytes(c.v2, c.binary)));
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.ok(Number(r.headers.get('inference-header-content-length')) > 0);
    for (const c of TYPES) assert.ok(r.binary.has(outName(c)), `${outName(c)} is binary`);
    checkIdentityOutputs(r, ref, 'binary');
  });

  await t.test('identity: mixed JSON and binary inputs, some outputs binary', async () => {
    const binaryInputs = new Set(['BOOL', 'UINT64', 'INT16', 'FP16', 'FP64', 'BYTES']);
    const binaryOutputs = new Set(['UINT8', 'INT64', 'FP16', 'BYTES', 'BOOL']);
    const parts: Buffer[] = [];
    const inputs = TYPES.map((c) => {
      if (!binaryInputs.has(c.v2)) return { name: inName(c), datatype: c.v2, shape: [2, 3], data: c.json };
      const bytes = toBytes(c.v2, c.binary);
      parts.push(bytes);
      return { name: inName(c), datatype: c.v2, shape: [2, 3], parameters: { binary_data_size: bytes.length } };
    });
    const outputs = TYPES.map((c) => ({ name: outName(c), parameters: { binary_data: binaryOutputs.has(c.v2) } }));
    const r = await inferBinary(`${u}/v2/models/identity/infer`, { inputs, outputs }, parts);
    for (const c of TYPES) assert.equal(r.binary.has(outName(c)), binaryOutputs.has(c.v2), `${outName(c)} binary as requested`);
    checkIdentityOutputs(r, ref, 'mixed');
    // Binary outputs only, JSON inputs: still a binary response.
    const jsonIn = await infer(`${u}/v2/models/identity/infer`, {
      inputs: TYPES.map((c) => ({ name: inName(c), datatype: c.v2, shape: [2, 3], data: c.json })),
      outputs: [{ name: 'out_string', parameters: { binary_data: true } }, { name: 'out_int64' }],
    });
    assert.equal(jsonIn.status, 200);
    assert.deepEqual(outputValues(jsonIn, 'out_string'), TYPES.find((c) => c.v2 === 'BYTES')!.binary);
    assert.deepEqual(outputValues(jsonIn, 'out_int64').map((v) => BigInt(v)), TYPES.find((c) => c.v2 === 'INT64')!.binary);
  });

  await t.test('FP16 from JSON rounds to the nearest half; signed zero survives binary', async () => {
    const inputs = TYPES.map((c) => ({ name: inName(c), datatype: c.v2, shape: [2, 3], data: c.v2 === 'FP16' ? [0.1, -0.1, 1 / 3, 65519, 1e-8, 3e-8] : c.json }));
    const r = await infer(`${u}/v2/models/identity/infer`, { inputs, outputs: [{ name: 'out_float16', parameters: { binary_data: true } }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    // 0.1 → 0x2E66, 1/3 → 0x3555, 65519 → 65504 (max), 1e-8 underflows to +0, 3e-8 rounds to 2^-24 (0x0001).
    assert.deepEqual(outputValues(r, 'out_float16'), [0x2e66, 0xae66, 0x3555, 0x7bff, 0x0000, 0x0001]);
    // 65520 rounds to +Inf in half precision: refused like any non-finite input.
    const overflow = await infer(`${u}/v2/models/identity/infer`, { inputs: inputs.map((x) => (x.name === 'in_float16' ? { ...x, data: [65520, 0, 0, 0, 0, 0] } : x)) });
    assert.equal(overflow.status, 400);
    assert.match(overflow.json.error, /in_float16.*element 0/);
    const zero = TYPES.map((c) => ({ name: inName(c), datatype: c.v2, shape: [2, 3], data: c.json }));
    const fp16 = toBytes('FP16', [0x8000, 0x0000, 0x3c00, 0xbc00, 0x03ff, 0x7bff]);
    const zi = zero.findIndex((x) => x.name === 'in_float16');
    const header = { inputs: zero.map((x, i) => (i === zi ? { name: x.name, datatype: 'FP16', shape: [2, 3], parameters: { binary_data_size: fp16.length } } : x)), parameters: { binary_data_output: true } };
    const b = await inferBinary(`${u}/v2/models/identity/infer`, header, [fp16]);
    assert.equal(b.status, 200, JSON.stringify(b.json));
    assert.deepEqual(b.binary.get('out_float16'), fp16);
  });

  await t.test('non-finite floats: refused by default, passed through when allowed (binary keeps them, JSON writes null)', async () => {
    const fp32 = toBytes('FP32', [NaN, Infinity, -Infinity, 1, 2, 3]);
    const fp16 = toBytes('FP16', [0x7e00, 0x7c00, 0xfc00, 0x3c00, 0, 0]);
    const parts: Buffer[] = [];
    const inputs = TYPES.map((c) => {
      if (c.v2 === 'FP32') { parts.push(fp32); return { name: inName(c), datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: fp32.length } }; }
      if (c.v2 === 'FP16') { parts.push(fp16); return { name: inName(c), datatype: 'FP16', shape: [2, 3], parameters: { binary_data_size: fp16.length } }; }
      return { name: inName(c), datatype: c.v2, shape: [2, 3], data: c.json };
    });
    const refused = await inferBinary(`${u}/v2/models/identity/infer`, { inputs }, parts);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.code, 'BERTH_ERR_INVALID_INPUT');
    assert.match(refused.json.error, /in_float(16|32)/);
    const outputs = [{ name: 'out_float32', parameters: { binary_data: true } }, { name: 'out_float16', parameters: { binary_data: true } }, { name: 'out_float64' }];
    const ok = await inferBinary(`${u}/v2/models/identity_nonfinite/infer`, { inputs, outputs }, parts);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(ok.binary.get('out_float32'), fp32);
    assert.deepEqual(ok.binary.get('out_float16'), fp16);
    const asJson = await inferBinary(`${u}/v2/models/identity_nonfinite/infer`, { inputs, outputs: [{ name: 'out_float32' }, { name: 'out_float16' }] }, parts);
    assert.equal(asJson.status, 200);
    assert.deepEqual(outputValues(asJson, 'out_float32'), [null, null, null, 1, 2, 3]);
    assert.deepEqual(outputValues(asJson, 'out_float16'), [null, null, null, 1, 0, 0]);
  });

  await t.test('regression: BYTES with an embedded NUL is refused, not cut short by ONNX Runtime', async () => {
    // onnxruntime's string tensors are C strings: 'a\u0000b' would silently become 'a'.
    const strings = ['a\u0000b', 'ok', 'w', 'x', 'y', 'z'];
    const inputs = TYPES.map((c) => ({ name: inName(c), datatype: c.v2, shape: [2, 3], data: c.v2 === 'BYTES' ? strings : c.json }));
    const r = await infer(`${u}/v2/models/identity/infer`, { inputs, outputs: [{ name: 'out_string' }] });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(String((r.json as { error: string }).error), /input 'in_string': BYTES element 0 contains a NUL character/);
  });

  await t.test('regression: INT64 beyond 2^53 was written as a bare JSON number — such an output is written as strings, flagged int64_as_string', async () => {
    const r = await infer(`${u}/v2/models/identity/infer`, {
      inputs: TYPES.map((c) => ({ name: inName(c), datatype: c.v2, shape: [2, 3], data: c.json })),
      outputs: [{ name: 'out_int64' }, { name: 'out_uint64' }, { name: 'out_int32' }],
    });
    assert.equal(r.status, 200, JSON.stringify(r.json, bigintSafe));
    const text = r.raw.toString('utf8');
    const out = JSON.parse(text).outputs as { name: string; data: unknown[]; parameters?: Record<string, unknown> }[];
    const i64 = out.find((o) => o.name === 'out_int64')!;
    assert.deepEqual(i64.parameters, { int64_as_string: true });
    // Plain JSON.parse (doubles) reads every value exactly, because they are strings.
    assert.deepEqual(i64.data, [String(-(2n ** 63n)), String(-P53 - 1n), '-1', '0', String(P53 + 1n), String(2n ** 63n - 1n)]);
    assert.deepEqual(out.find((o) => o.name === 'out_uint64')!.data, TYPES.find((c) => c.v2 === 'UINT64')!.binary.map(String));
    assert.equal(out.find((o) => o.name === 'out_int32')!.parameters, undefined);
    // INT64 values within ±(2^53 − 1) stay JSON numbers.
    const small = await infer(`${u}/v2/models/arith/infer`, {
      inputs: [
        { name: 'a', datatype: 'INT64', shape: [1, 2], data: [-(2 ** 53) + 2, 7] },
        { name: 'b', datatype: 'FP64', shape: [1, 2], data: [0, 0] },
        { name: 'c', datatype: 'BOOL', shape: [1, 2], data: [true, false] },
        { name: 's', datatype: 'BYTES', shape: [1, 1], data: ['x'] },
      ],
      outputs: [{ name: 'a_plus_one' }],
    });
    const o = JSON.parse(small.raw.toString('utf8')).outputs[0];
    assert.deepEqual(o.data, [-(2 ** 53) + 3, 8]);
    assert.equal(o.parameters, undefined);
  });

  await t.test('regression: BYTES that are not UTF-8 were silently altered (ff fe 41 → ef bf bd ef bf bd 41) — refused with the element named', async () => {
    const header = {
      inputs: TYPES.map((c) => (c.v2 === 'BYTES'
        ? { name: inName(c), datatype: c.v2, shape: [2, 3], parameters: { binary_data_size: 0 } }
        : { name: inName(c), datatype: c.v2, shape: [2, 3], data: c.json })),
    };
    const parts = [Buffer.from('ok'), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('a'), Buffer.from('b'), Buffer.from('c'), Buffer.from('d')].flatMap((b) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    });
    const data = Buffer.concat(parts);
    (header.inputs.find((i) => i.datatype === 'BYTES')!.parameters as { binary_data_size: number }).binary_data_size = data.length;
    const r = await inferBinary(`${u}/v2/models/identity/infer`, header, [data]);
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error, /input 'in_string': BYTES element 1 is not valid UTF-8 \(bytes ff fe 41\)/);
    // A JSON string with an unpaired surrogate has no UTF-8 form either.
    const lone = await infer(`${u}/v2/models/identity/infer`, `{"inputs":[${TYPES.map((c) => JSON.stringify({ name: inName(c), datatype: c.v2, shape: [2, 3], data: c.v2 === 'BYTES' ? ['a', 'b', 'c', 'd', 'e', 'f'] : c.json })).join(',').replace('"a"', '"\\ud800"')}]}`);
    assert.equal(lone.status, 400, JSON.stringify(lone.json));
    assert.match(lone.json.error, /input 'in_string': BYTES element 0 contains an unpaired UTF-16 surrogate/);
  });

  await t.test('regression: an empty batch ([0, …]) was refused though ONNX Runtime accepts it', async () => {
    const r = await infer(`${u}/v2/models/identity/infer`, { inputs: TYPES.map((c) => ({ name: inName(c), datatype: c.v2, shape: [0, 3], data: [] })) });
    assert.equal(r.status, 200, JSON.stringify(r.json, bigintSafe));
    for (const o of r.json.outputs as { shape: number[]; data: unknown[] }[]) {
      assert.deepEqual(o.shape, [0, 3]);
      assert.deepEqual(o.data, []);
    }
    const inc = await infer(`${u}/v2/models/income/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [0, 91], data: [] }] });
    assert.equal(inc.status, 200, JSON.stringify(inc.json));
    assert.deepEqual(inc.json.outputs.map((o: { shape: number[] }) => o.shape[0]), inc.json.outputs.map(() => 0));
    // The server goes on serving (and its monitor took the empty decision in its stride).
    assert.equal((await infer(`${u}/v2/models/income/infer`, readJson('examples/requests/income.json'))).status, 200);
  });

  await t.test('regression: a model with no inputs loaded READY but could not be called', async () => {
    const r = await infer(`${u}/v2/models/constant/infer`, { inputs: [] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(outputValues(r, 'y'), [1.5, -2, 3.25]);
    const meta = await (await fetch(`${u}/v2/models/constant`)).json() as { inputs: unknown[]; parameters: { max_batch_size: number } };
    assert.deepEqual(meta.inputs, []);
    assert.equal(meta.parameters.max_batch_size, 0);
  });

  await t.test('arith_mixed: computed outputs equal in-process onnxruntime, JSON and binary', async () => {
    const a = [2n ** 62n, -5n, P53 + 1n, 0n, -(2n ** 62n), 123456789012345n];
    const b = [0.5, -1.25, 1e-300, 3.5, -0.0625, 1e10];
    const c = [true, false, false, true, true, true];
    const sv = ['x', 'ünïcødé', '']; // shape [3, 1]
    const refOut = await runOrt(ARITH, {
      a: ortTensor('INT64', a, [3, 2]), b: ortTensor('FP64', b, [3, 2]), c: ortTensor('BOOL', c, [3, 2]), s: ortTensor('BYTES', sv, [3, 1]),
    });
    const names = ['a_plus_one', 'b_times_two', 'c_not', 's_copy', 'a_as_double'];
    const datatypes: Record<string, V2Type> = { a_plus_one: 'INT64', b_times_two: 'FP64', c_not: 'BOOL', s_copy: 'BYTES', a_as_double: 'FP64' };
    const check = (r: InferResponse, how: string): void => {
      assert.equal(r.status, 200, `${how}: ${JSON.stringify(r.json, bigintSafe)}`);
      for (const n of names) {
        const dt = datatypes[n]!;
        assert.deepEqual(canon(dt, outputValues(r, n), false), canon(dt, ortValues(refOut[n]!), false), `${how}: ${n}`);
      }
      assert.deepEqual(canon('INT64', outputValues(r, 'a_plus_one'), false), a.map((x) => x + 1n), `${how}: a + 1 exact`);
    };
    const json = await infer(`${u}/v2/models/arith/infer`, {
      inputs: [
        { name: 'a', datatype: 'INT64', shape: [3, 2], data: a.map(String) },
        { name: 'b', datatype: 'FP64', shape: [3, 2], data: b },
        { name: 'c', datatype: 'BOOL', shape: [3, 2], data: c },
        { name: 's', datatype: 'BYTES', shape: [3, 1], data: sv },
      ],
    });
    check(json, 'JSON');
    const parts = [toBytes('INT64', a), toBytes('FP64', b), toBytes('BOOL', c), toBytes('BYTES', sv)];
    const bin = await inferBinary(`${u}/v2/models/arith/infer`, {
      inputs: [
        { name: 'a', datatype: 'INT64', shape: [3, 2], parameters: { binary_data_size: parts[0]!.length } },
        { name: 'b', datatype: 'FP64', shape: [3, 2], parameters: { binary_data_size: parts[1]!.length } },
        { name: 'c', datatype: 'BOOL', shape: [3, 2], parameters: { binary_data_size: parts[2]!.length } },
        { name: 's', datatype: 'BYTES', shape: [3, 1], parameters: { binary_data_size: parts[3]!.length } },
      ],
      parameters: { binary_data_output: true },
    }, parts);
    check(bin, 'binary');
    for (const n of names) assert.ok(bin.binary.has(n), `${n} binary`);
  });

  await t.test('income: expected outputs, in-process onnxruntime, JSON = binary = raw', async () => {
    const request = readJson('examples/requests/income.json');
    const expected = readJson('examples/requests/income.expected.json');
    const rows: number[] = request.inputs[0].data;
    const refOut = await runOrt(INCOME, { features: ortTensor('FP32', rows, [2, 91]) });
    const json = await infer(`${u}/v2/models/income/infer`, request);
    assert.equal(json.status, 200, JSON.stringify(json.json));
    for (const exp of expected.outputs as { name: string; data: number[] }[]) {
      const got = outputValues(json, exp.name);
      if (exp.name === 'label') assert.deepEqual(got, exp.data);
      else assert.ok(maxAbsDiff(got, exp.data) < 1e-5, `${exp.name} vs torch`);
      assert.ok(maxAbsDiff(got, ortValues(refOut[exp.name]!)) <= 1e-6, `${exp.name} vs in-process onnxruntime`);
    }
    const bytes = toBytes('FP32', rows);
    const bin = await inferBinary(`${u}/v2/models/income/infer`, {
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 91], parameters: { binary_data_size: bytes.length } }],
      outputs: [{ name: 'probabilities', parameters: { binary_data: true } }, { name: 'label', parameters: { binary_data: true } }],
    }, [bytes]);
    assert.equal(bin.status, 200, JSON.stringify(bin.json));
    assert.deepEqual(outputValues(bin, 'probabilities'), outputValues(json, 'probabilities'));
    assert.deepEqual(outputValues(bin, 'label').map(Number), outputValues(json, 'label'));

    // Raw binary mode: Inference-Header-Content-Length: 0, the body is the input's bytes; batch inferred.
    const many = incomeFeatures().subarray(0, 5 * 91);
    const raw = await infer(`${u}/v2/models/income/infer`, Buffer.from(many.buffer, many.byteOffset, many.byteLength), { 'inference-header-content-length': '0' });
    assert.equal(raw.status, 200, JSON.stringify(raw.json));
    assert.equal(raw.headers.get('content-type'), 'application/octet-stream');
    const rawRef = await runOrt(INCOME, { features: ortTensor('FP32', Array.from(many), [5, 91]) });
    const probs = raw.json.outputs.find((o: { name: string }) => o.name === 'probabilities');
    assert.deepEqual(probs.shape, [5, 2]);
    assert.ok(maxAbsDiff(fromBytes('FP32', raw.binary.get('probabilities')!), ortValues(rawRef.probabilities!)) <= 1e-6);
    assert.deepEqual(fromBytes('INT64', raw.binary.get('label')!), ortValues(rawRef.label!));
    const ragged = await infer(`${u}/v2/models/income/infer`, Buffer.alloc(91 * 4 + 3), { 'inference-header-content-length': '0' });
    assert.equal(ragged.status, 400);
    assert.equal(ragged.json.code, 'BERTH_ERR_BINARY_DATA');
  });

  await t.test('digits: expected output, binary equals JSON and in-process onnxruntime', async () => {
    const request = readJson('examples/requests/digits.json');
    const expected = readJson('examples/requests/digits.expected.json');
    const json = await infer(`${u}/v2/models/digits/infer`, request);
    assert.equal(json.status, 200, JSON.stringify(json.json));
    assert.equal(json.json.id, 'digits-example-1');
    assert.ok(maxAbsDiff(outputValues(json, 'probabilities'), expected.outputs[0].data) < 1e-5);
    const images = digitsImages().subarray(0, 4 * 64);
    const bytes = Buffer.from(images.buffer, images.byteOffset, images.byteLength);
    const bin = await inferBinary(`${u}/v2/models/digits/infer`, {
      inputs: [{ name: 'image', datatype: 'FP32', shape: [4, 1, 8, 8], parameters: { binary_data_size: bytes.length } }],
      parameters: { binary_data_output: true },
    }, [bytes]);
    assert.equal(bin.status, 200, JSON.stringify(bin.json));
    const refOut = await runOrt(DIGITS, { image: ortTensor('FP32', Array.from(images), [4, 1, 8, 8]) });
    assert.ok(maxAbsDiff(outputValues(bin, 'probabilities'), ortValues(refOut.probabilities!)) <= 1e-6);
    const raw = await infer(`${u}/v2/models/digits/infer`, bytes, { 'inference-header-content-length': '0' });
    assert.equal(raw.status, 200);
    assert.deepEqual(outputValues(raw, 'probabilities'), outputValues(bin, 'probabilities'));
  });

  await t.test('fixed_batch (not batchable): shape [1, 4] served, [2, 4] refused', async () => {
    const r = await infer(`${u}/v2/models/fixed/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [-1, 2, -3, 4.5] }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.outputs[0].shape, [1, 4]);
    assert.deepEqual(outputValues(r, 'y'), [0, 2, 0, 4.5]);
    const bytes = toBytes('FP32', [5, -6, 7, -8]);
    const bin = await inferBinary(`${u}/v2/models/fixed/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }], parameters: { binary_data_output: true } }, [bytes]);
    assert.equal(bin.status, 200, JSON.stringify(bin.json));
    assert.deepEqual(outputValues(bin, 'y'), [5, 0, 7, 0]);
    const raw = await infer(`${u}/v2/models/fixed/infer`, bytes, { 'inference-header-content-length': '0' });
    assert.equal(raw.status, 200, JSON.stringify(raw.json));
    assert.deepEqual(outputValues(raw, 'y'), [5, 0, 7, 0]);
    const two = await infer(`${u}/v2/models/fixed/infer`, { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: new Array(8).fill(1) }] });
    assert.equal(two.status, 400);
    assert.equal(two.json.code, 'BERTH_ERR_INVALID_INPUT');
    assert.match(two.json.error, /'x'.*\[1, 4\].*\[2, 4\]/);
  });

  await t.test('scalar_in: a rank-0 input as a JSON scalar, a one-element array, and binary', async () => {
    const expectedY = [2.5, -5, 7.5, 0];
    for (const k of [2.5, [2.5]]) {
      const r = await infer(`${u}/v2/models/scalar/infer`, {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [4], data: [1, -2, 3, 0] }, { name: 'k', datatype: 'FP32', shape: [], data: k }],
      });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(r.json.outputs[0].shape, [4]);
      assert.deepEqual(outputValues(r, 'y'), expectedY);
    }
    const bin = await inferBinary(`${u}/v2/models/scalar/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [4], data: [1, -2, 3, 0] }, { name: 'k', datatype: 'FP32', shape: [], parameters: { binary_data_size: 4 } }],
      parameters: { binary_data_output: true },
    }, [toBytes('FP32', [2.5])]);
    assert.equal(bin.status, 200, JSON.stringify(bin.json));
    assert.deepEqual(outputValues(bin, 'y'), expectedY);
    const refOut = await runOrt(fixture('scalar_in.onnx'), { x: ortTensor('FP32', [1, -2, 3, 0], [4]), k: ortTensor('FP32', [2.5], []) });
    assert.deepEqual(ortValues(refOut.y!), expectedY);
    const wrongRank = await infer(`${u}/v2/models/scalar/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }, { name: 'k', datatype: 'FP32', shape: [1], data: [2] }],
    });
    assert.equal(wrongRank.status, 400);
    assert.match(wrongRank.json.error, /'k'/);
    const rawTwoInputs = await infer(`${u}/v2/models/scalar/infer`, Buffer.alloc(16), { 'inference-header-content-length': '0' });
    assert.equal(rawTwoInputs.status, 400);
    assert.equal(rawTwoInputs.json.code, 'BERTH_ERR_BINARY_DATA');
  });
});
