import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isBerthError } from '../../../src/errors.js';
import type { InferenceResult, ModelSignature } from '../../../src/inference/types.js';
import { decodeBinaryData, decodeInferRequest, decodeJsonData, encodeBytesElements } from '../../../src/protocols/v2/request.js';
import { classify, dataJson, encodeInferResponse } from '../../../src/protocols/v2/response.js';

const SIG: ModelSignature = {
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [-1, 3], allowNonFinite: false },
    { name: 'ids', datatype: 'INT64', shape: [-1, 1], allowNonFinite: false },
  ],
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }, { name: 'k', datatype: 'INT64', shape: [-1] }],
  maxBatchSize: 4,
};

function decode(body: string | Buffer, headerLength?: number, signature = SIG) {
  return decodeInferRequest({ signature, body: typeof body === 'string' ? Buffer.from(body) : body, headerLength, nowMs: 0, defaultTimeoutMs: 0 });
}

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isBerthError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  assert.fail('expected a BerthError');
}

const good = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [2, 3], data: [[1, 2, 3], [4, 5, 6]] },
      { name: 'ids', datatype: 'INT64', shape: [2, 1], data: [7, '9007199254740993'] },
    ],
    ...over,
  });

describe('V2 request decoding', () => {
  test('nested and flat data, INT64 given as exact decimal strings, inputs in model order', () => {
    const d = decode(good({ id: 'abc' }));
    assert.equal(d.request.id, 'abc');
    assert.equal(d.clientId, true);
    assert.equal(d.request.batchSize, 2);
    assert.deepEqual(Array.from(d.request.inputs[0]!.data as Float32Array), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(d.request.inputs[1]!.data as BigInt64Array), [7n, 9007199254740993n]);
    assert.deepEqual(d.request.outputs, ['y', 'k']);
  });

  test('assigns a unique id when the client sends none', () => {
    const a = decode(good());
    const b = decode(good());
    assert.equal(a.clientId, false);
    assert.match(a.request.id, /^[0-9a-f-]{36}$/);
    assert.notEqual(a.request.id, b.request.id);
  });

  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"inputs": [', /not valid JSON/],
    ['empty', '', /body is empty/],
    ['array body', '[]', /must be a JSON object/],
    ['inputs missing', '{}', /inputs: expected an array/],
    ['inputs empty', '{"inputs": []}', /at least one input/],
    ['bad id', good({ id: 5 }), /id: expected a non-empty string/],
    ['unknown datatype', good().replace('"FP32"', '"FLOAT"'), /input 'x'.datatype: expected one of BOOL/],
    ['negative dim', good().replace('[2,3]', '[2,-3]'), /shape\[1\]: expected a non-negative integer/],
    ['unknown output', good({ outputs: [{ name: 'nope' }] }), /unknown output 'nope'; the model's outputs are 'y', 'k'/],
    ['bad binary_data param', good({ outputs: [{ name: 'y', parameters: { binary_data: 'yes' } }] }), /binary_data: expected true or false/],
    ['bad timeout', good({ parameters: { timeout: -1 } }), /parameters.timeout: expected a non-negative integer/],
  ];
  for (const [what, body, re] of cases) {
    test(`bad request: ${what}`, () => {
      const e = errorOf(() => decode(body));
      assert.match(e.message, re);
    });
  }

  const inputCases: [string, unknown[], RegExp, string][] = [
    ['wrong datatype', [{ name: 'x', datatype: 'FP64', shape: [1, 3], data: [1, 2, 3] }], /input 'x': expected datatype FP32, got FP64/, 'BERTH_ERR_INVALID_INPUT'],
    ['wrong shape', [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }], /input 'x': expected shape \[-1, 3\], got \[1, 4\]/, 'BERTH_ERR_INVALID_INPUT'],
    ['too few elements', [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3] }], /input 'x': shape needs 6 elements, data has 3/, 'BERTH_ERR_INVALID_INPUT'],
    ['too many elements', [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3, 4] }], /needs 3 elements, data has 4/, 'BERTH_ERR_INVALID_INPUT'],
    ['string in FP32', [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 'NaN', 3] }], /input 'x': element 1 is "NaN", expected a number for FP32/, 'BERTH_ERR_INVALID_INPUT'],
    ['fraction in INT64', [{ name: 'ids', datatype: 'INT64', shape: [1, 1], data: [1.5] }], /input 'ids': element 0 is 1.5, expected an integer for INT64/, 'BERTH_ERR_INVALID_INPUT'],
    ['unknown input', [{ name: 'z', datatype: 'FP32', shape: [1], data: [1] }], /unknown input 'z'; the model's inputs are 'x' \(FP32 \[-1, 3\]\), 'ids'/, 'BERTH_ERR_INVALID_INPUT'],
    ['missing input', [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }], /missing input 'ids' \(INT64 \[-1, 1\]\)/, 'BERTH_ERR_INVALID_INPUT'],
    ['data not an array', [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: { a: 1 } }], /input 'x'.data: expected an array, got an object/, 'BERTH_ERR_BAD_REQUEST'],
  ];
  for (const [what, inputs, re, code] of inputCases) {
    test(`invalid input: ${what}`, () => {
      const e = errorOf(() => decode(JSON.stringify({ inputs })));
      assert.equal(e.code, code);
      assert.match(e.message, re);
    });
  }

  test('batch sizes must agree and stay within maxBatchSize', () => {
    const mismatch = JSON.stringify({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
        { name: 'ids', datatype: 'INT64', shape: [1, 1], data: [1] },
      ],
    });
    assert.match(errorOf(() => decode(mismatch)).message, /input 'ids': batch size \(first dimension\) 1 differs from input 'x' with 2/);
    const big = JSON.stringify({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [5, 3], data: new Array(15).fill(0) },
        { name: 'ids', datatype: 'INT64', shape: [5, 1], data: [1, 2, 3, 4, 5] },
      ],
    });
    const e = errorOf(() => decode(big));
    assert.equal(e.code, 'BERTH_ERR_BATCH_TOO_LARGE');
    assert.match(e.message, /batch size 5 exceeds this model's maxBatchSize 4/);
    // An empty batch is a valid request (ONNX Runtime runs it); its batch size is 0.
    const zero = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [0, 3], data: [] }, { name: 'ids', datatype: 'INT64', shape: [0, 1], data: [] }] });
    assert.equal(decode(zero).request.batchSize, 0);
  });

  test('integer ranges are checked per datatype', () => {
    assert.match(errorOf(() => decodeJsonData('u', 'UINT8', [255, 256], 2)).message, /element 1 is 256, expected an integer in \[0, 255\] for UINT8/);
    assert.match(errorOf(() => decodeJsonData('i', 'INT8', [-129], 1)).message, /INT8/);
    assert.match(errorOf(() => decodeJsonData('u', 'UINT64', [-1], 1)).message, /in range for UINT64/);
    assert.match(errorOf(() => decodeJsonData('b', 'BOOL', [1], 1)).message, /expected true or false for BOOL/);
    assert.match(errorOf(() => decodeJsonData('s', 'BYTES', [1], 1)).message, /expected a string for BYTES/);
    assert.deepEqual(Array.from(decodeJsonData('h', 'FP16', [1, -2], 2) as Uint16Array), [0x3c00, 0xc000]);
    assert.deepEqual(decodeJsonData('s', 'BYTES', [['ä', 'b']], 2), ['ä', 'b']);
    assert.deepEqual(Array.from(decodeJsonData('x', 'FP64', 2.5, 1) as Float64Array), [2.5], 'a scalar for a one-element tensor');
  });

  test('deeply nested data is refused, not a stack overflow', () => {
    let nested: unknown = [1];
    for (let i = 0; i < 100; i++) nested = [nested];
    assert.match(errorOf(() => decodeJsonData('x', 'FP32', nested, 1)).message, /nested more than 32 levels/);
  });

  test('binary tensor data: decoded from after the JSON header, sizes checked', () => {
    const x = Buffer.from(new Float32Array([1, 2, 3]).buffer);
    const ids = Buffer.from(new BigInt64Array([42n]).buffer);
    const header = JSON.stringify({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } },
        { name: 'ids', datatype: 'INT64', shape: [1, 1], parameters: { binary_data_size: 8 } },
      ],
      parameters: { binary_data_output: true },
    });
    const body = Buffer.concat([Buffer.from(header), x, ids]);
    const d = decode(body, Buffer.byteLength(header));
    assert.deepEqual(Array.from(d.request.inputs[0]!.data as Float32Array), [1, 2, 3]);
    assert.deepEqual(Array.from(d.request.inputs[1]!.data as BigInt64Array), [42n]);
    assert.ok(d.outputs.every((o) => o.binary));
    assert.notEqual((d.request.inputs[0]!.data as Float32Array).buffer, body.buffer, 'a copy, never a view of the body');

    assert.match(errorOf(() => decode(Buffer.concat([body, Buffer.from([0])]), Buffer.byteLength(header))).message, /1 bytes of binary data that no input/);
    assert.match(errorOf(() => decode(body.subarray(0, body.length - 1), Buffer.byteLength(header))).message, /runs past the end of the body/);
    assert.match(errorOf(() => decode(body, body.length + 1)).message, /Inference-Header-Content-Length is \d+ but the body has only/);
    assert.match(errorOf(() => decode(body)).message, /not valid JSON|no Inference-Header-Content-Length/);
  });

  test('NaN and Infinity in float inputs are refused unless allowed', () => {
    const x = Buffer.from(new Float32Array([1, NaN, 3]).buffer);
    const ids = Buffer.from(new BigInt64Array([1n]).buffer);
    const header = JSON.stringify({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } },
        { name: 'ids', datatype: 'INT64', shape: [1, 1], parameters: { binary_data_size: 8 } },
      ],
    });
    const body = Buffer.concat([Buffer.from(header), x, ids]);
    const e = errorOf(() => decode(body, Buffer.byteLength(header)));
    assert.equal(e.code, 'BERTH_ERR_INVALID_INPUT');
    assert.match(e.message, /input 'x': element 1 is NaN; NaN and Infinity are not allowed/);
    const lenient: ModelSignature = { ...SIG, inputs: SIG.inputs.map((s) => ({ ...s, allowNonFinite: true })) };
    const d = decode(body, Buffer.byteLength(header), lenient);
    assert.ok(Number.isNaN((d.request.inputs[0]!.data as Float32Array)[1]));
  });

  test('BYTES binary elements are 4-byte little-endian lengths followed by the bytes', () => {
    const enc = encodeBytesElements(['hé', '', 'z']);
    assert.deepEqual([...enc], [3, 0, 0, 0, 0x68, 0xc3, 0xa9, 0, 0, 0, 0, 1, 0, 0, 0, 0x7a]);
    assert.deepEqual(decodeBinaryData('s', 'BYTES', enc, 3), ['hé', '', 'z']);
    assert.match(errorOf(() => decodeBinaryData('s', 'BYTES', enc.subarray(0, 5), 3)).message, /claims 3 bytes but only 1 remain/);
    assert.match(errorOf(() => decodeBinaryData('s', 'BYTES', enc, 2)).message, /needs 2 elements, binary data has 3/);
    assert.match(errorOf(() => decodeBinaryData('f', 'FP32', Buffer.alloc(7), 2)).message, /2 elements × 4 bytes = 8 bytes of FP32, binary data has 7/);
    assert.deepEqual(Array.from(decodeBinaryData('b', 'BOOL', Buffer.from([0, 2, 1]), 3) as Uint8Array), [0, 1, 1]);
  });

  test('raw binary request: the whole body is the single input, batch from the byte count', () => {
    const sig: ModelSignature = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 2] }], maxBatchSize: 8 };
    const d = decode(Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer), 0, sig);
    assert.deepEqual(d.request.inputs[0]!.shape, [3, 2]);
    assert.equal(d.request.batchSize, 3);
    assert.deepEqual(d.outputs, [{ name: 'y', binary: true }]);
    assert.match(errorOf(() => decode(Buffer.alloc(12), 0, sig)).message, /12 bytes is not a whole number of 8-byte rows/);
    assert.match(errorOf(() => decode(Buffer.alloc(8), 0)).message, /exactly one input; this one has 2/);
  });
});

describe('V2 response encoding', () => {
  const result = (outputs: InferenceResult['outputs']): InferenceResult => ({ outputs, timings: { queueNs: 0, ioNs: 0, computeNs: 0 }, executedBatchSize: 1 });

  test('JSON: INT64 exact (strings beyond ±(2^53 − 1)), NaN/Infinity as null, BOOL as booleans, FP16 as numbers', () => {
    assert.equal(dataJson({ name: 'a', datatype: 'INT64', shape: [2], data: new BigInt64Array([9007199254740993n, -1n]) }), '["9007199254740993","-1"]');
    assert.equal(dataJson({ name: 'a', datatype: 'INT64', shape: [2], data: new BigInt64Array([9007199254740991n, -9007199254740991n]) }), '[9007199254740991,-9007199254740991]');
    assert.equal(dataJson({ name: 'a', datatype: 'UINT64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) }), '["18446744073709551615"]');
    assert.equal(dataJson({ name: 'a', datatype: 'FP32', shape: [3], data: new Float32Array([0.5, NaN, -Infinity]) }), '[0.5,null,null]');
    assert.equal(dataJson({ name: 'a', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) }), '[true,false]');
    assert.equal(dataJson({ name: 'a', datatype: 'FP16', shape: [2], data: new Uint16Array([0x3c00, 0x3800]) }), '[1,0.5]');
    assert.equal(dataJson({ name: 'a', datatype: 'BYTES', shape: [1], data: ['"q"'] }), '["\\"q\\""]');
  });

  test('a whole response parses as the protocol says, with binary outputs after the header', () => {
    const y = { name: 'y', datatype: 'FP32' as const, shape: [1, 2], data: new Float32Array([0.25, 0.75]) };
    const k = { name: 'k', datatype: 'INT64' as const, shape: [1], data: new BigInt64Array([1n]) };
    const json = encodeInferResponse('m', '3', 'id-1', [{ name: 'k', binary: false }, { name: 'y', binary: false }], result([y, k]));
    assert.deepEqual(JSON.parse(json.body as string), {
      model_name: 'm', model_version: '3', id: 'id-1',
      outputs: [{ name: 'k', datatype: 'INT64', shape: [1], data: [1] }, { name: 'y', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75] }],
    });
    const bin = encodeInferResponse('m', '3', 'id-1', [{ name: 'y', binary: true }, { name: 'k', binary: false }], result([y, k]));
    assert.equal(bin.contentType, 'application/octet-stream');
    const buf = bin.body as Buffer;
    const header = JSON.parse(buf.toString('utf8', 0, bin.headerLength));
    assert.deepEqual(header.outputs[0], { name: 'y', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } });
    assert.deepEqual(header.outputs[1].data, [1]);
    const tail = buf.subarray(bin.headerLength);
    assert.deepEqual([tail.readFloatLE(0), tail.readFloatLE(4)], [0.25, 0.75]);
  });

  test('classification returns the top-k "score:index" per row', () => {
    const t = classify({ name: 'p', datatype: 'FP32', shape: [2, 3], data: new Float32Array([0.25, 0.5, 0.25, 0.75, 0.125, 0.125]) }, 2);
    assert.deepEqual(t.shape, [2, 2]);
    assert.deepEqual(t.data, ['0.5:1', '0.25:0', '0.75:0', '0.125:1']);
  });
});
