/**
 * @module protocols/v2/request
 * Decodes an Open Inference Protocol (KServe V2) infer request — JSON, or JSON followed by
 * binary tensor data (binary tensor data extension), or a raw binary body — into an
 * `InferenceRequest` checked against the model's signature. Every message names the field.
 */
import { isUtf8 } from 'node:buffer';
import { newRequestId } from '../../inference/request-id.js';
import { BerthError } from '../../errors.js';
import type { InferenceRequest, ModelSignature, Tensor, TensorSpec } from '../../inference/types.js';
import { checkElementCount, checkFinite, checkInputHeader, checkRequestInputs, checkRequestedOutputs } from '../../inference/validate.js';
import { formatShape } from '../../inference/signature.js';
import { checkJsonDepth } from './limits.js';
import { readPandasColumns } from './pandas.js';
import type { RawRecord } from '../../pipeline/transformer.js';
import { allocate, datatypeInfo, elementCount, isV2Datatype, toHalfBits, V2_DATATYPES, type TensorData, type V2Datatype } from '../../runtime/datatypes.js';

/** How each requested output is to be returned. */
export interface OutputRequest {
  name: string;
  binary: boolean;
  /** Triton classification extension: return the top-k classes as "score:index" strings. */
  classification?: number;
  /** The output has a batch dimension: classification is per row even when a row is a scalar. */
  batched?: boolean;
}

export interface DecodedInfer {
  /** For raw records (content_type "pd"): inputs are empty until the decision path encodes `records`. */
  request: InferenceRequest;
  /** Raw records, one per row (content_type "pd", MLServer's pandas codec): the pipeline runs on them. */
  records?: RawRecord[];
  outputs: OutputRequest[];
  /** The client sent an id (echoed) or not (one was assigned). */
  clientId: boolean;
}

const MAX_ID_LENGTH = 256;

export function bad(message: string): BerthError {
  return new BerthError('BERTH_ERR_BAD_REQUEST', message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses the JSON part of a request body. */
export function parseJsonHeader(buf: Buffer, start: number, end: number): Record<string, unknown> {
  if (end - start === 0) throw bad('request body is empty; expected a JSON inference request with "inputs"');
  checkJsonDepth(buf, start, end);
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8', start, end));
  } catch (err) {
    throw bad(`request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(value)) throw bad('request body must be a JSON object with "inputs"');
  return value;
}

function readShape(v: unknown, where: string): number[] {
  if (!Array.isArray(v)) throw bad(`${where}.shape: expected an array of non-negative integers, got ${typeName(v)}`);
  const shape: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const d = v[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw bad(`${where}.shape[${i}]: expected a non-negative integer, got ${describeValue(d)}`);
    shape.push(d);
  }
  return shape;
}

export function typeName(v: unknown): string {
  // A missing field: "got nothing", not "got undefined undefined".
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

export function readParameters(v: unknown, where: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isObject(v)) throw bad(`${where}.parameters: expected an object, got ${typeName(v)}`);
  return v;
}

export function describeValue(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    // Deeply nested JSON parses fine but overflows the stack when stringified again.
    return typeName(v);
  }
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** Writes JSON `data` (flat or nested to any depth) into a typed array of `count` elements, checking every element. */
export function decodeJsonData(name: string, datatype: V2Datatype, data: unknown, count: number): TensorData {
  if (!Array.isArray(data)) {
    // A scalar is allowed for a one-element tensor.
    if (count === 1 && data !== undefined && data !== null && typeof data !== 'object') data = [data];
    else throw bad(`input '${name}'.data: expected an array, got ${typeName(data)}`);
  }
  const out = allocate(datatype, count);
  const info = datatypeInfo(datatype);
  let n = 0;
  const put = (v: unknown): void => {
    if (n >= count) {
      n += 1;
      return;
    }
    const i = n++;
    switch (info.json) {
      case 'float':
        if (typeof v !== 'number') throw elementError(name, i, v, `a number for ${datatype}`);
        if (datatype === 'FP16') (out as Uint16Array)[i] = toHalfBits(v);
        else (out as Float32Array)[i] = v;
        return;
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < info.min! || v > info.max!) {
          throw elementError(name, i, v, `an integer in [${info.min}, ${info.max}] for ${datatype}`);
        }
        (out as Int32Array)[i] = v;
        return;
      case 'bigint': {
        let b: bigint;
        if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
        else if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) b = BigInt(v);
        else throw elementError(name, i, v, `an integer for ${datatype}`);
        const [lo, hi] = datatype === 'UINT64' ? [0n, 0xffffffffffffffffn] : [-0x8000000000000000n, 0x7fffffffffffffffn];
        if (b < lo || b > hi) throw elementError(name, i, v, `an integer in range for ${datatype}`);
        (out as BigInt64Array)[i] = b;
        return;
      }
      case 'bool':
        if (typeof v !== 'boolean') throw elementError(name, i, v, 'true or false for BOOL');
        (out as Uint8Array)[i] = v ? 1 : 0;
        return;
      case 'string':
        if (typeof v !== 'string') throw elementError(name, i, v, 'a string for BYTES');
        if (v.includes('\u0000')) throw nulError(name, i);
        // A lone surrogate (\ud800 in JSON) has no UTF-8 form: it would reach the model as U+FFFD.
        if (!(v as string & { isWellFormed(): boolean }).isWellFormed()) throw notUtf8Error(name, i, 'contains an unpaired UTF-16 surrogate');
        (out as string[])[i] = v;
        return;
    }
  };
  const walk = (arr: unknown[], depth: number): void => {
    if (depth > 32) throw bad(`input '${name}'.data: nested more than 32 levels deep`);
    for (let k = 0; k < arr.length; k++) {
      const v = arr[k];
      if (Array.isArray(v)) walk(v, depth + 1);
      else put(v);
    }
  };
  walk(data as unknown[], 0);
  if (n !== count) {
    throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': shape needs ${count} elements, data has ${n}`);
  }
  return out;
}

/** ONNX Runtime's string tensors end at NUL: a value with one would be cut short silently. */
function nulError(name: string, index: number): BerthError {
  return new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': BYTES element ${index} contains a NUL character, which ONNX Runtime string tensors cannot hold (the value would be cut short)`);
}

function notUtf8Error(name: string, index: number, what: string): BerthError {
  return new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': BYTES element ${index} ${what}; ONNX Runtime string tensors hold UTF-8 text only, so send binary values base64-encoded`);
}

function elementError(name: string, index: number, v: unknown, expected: string): BerthError {
  return new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': element ${index} is ${describeValue(v)}, expected ${expected}`);
}

/** Decodes little-endian binary tensor data (a copy, aligned, never a view of the body). */
export function decodeBinaryData(name: string, datatype: V2Datatype, bytes: Buffer, count: number): TensorData {
  const info = datatypeInfo(datatype);
  if (datatype === 'BYTES') {
    const out: string[] = [];
    let off = 0;
    while (off < bytes.length) {
      if (off + 4 > bytes.length) throw binaryError(name, `a BYTES element length at byte ${off} is cut off`);
      const len = bytes.readUInt32LE(off);
      off += 4;
      if (off + len > bytes.length) throw binaryError(name, `BYTES element ${out.length} claims ${len} bytes but only ${bytes.length - off} remain`);
      const element = bytes.subarray(off, off + len);
      if (element.includes(0)) throw nulError(name, out.length);
      // onnxruntime-node carries strings as text: bytes that are not UTF-8 would be replaced by U+FFFD, silently.
      if (!isUtf8(element)) throw notUtf8Error(name, out.length, `is not valid UTF-8 (bytes ${element.subarray(0, 8).toString('hex').replace(/(..)(?=.)/g, '$1 ')}${len > 8 ? ' …' : ''})`);
      out.push(element.toString('utf8'));
      off += len;
    }
    if (out.length !== count) throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': shape needs ${count} elements, binary data has ${out.length}`);
    return out;
  }
  const expectedBytes = count * info.byteSize;
  if (bytes.length !== expectedBytes) {
    throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': shape needs ${count} elements × ${info.byteSize} bytes = ${expectedBytes} bytes of ${datatype}, binary data has ${bytes.length}`);
  }
  const out = allocate(datatype, count) as Exclude<TensorData, string[]>;
  new Uint8Array(out.buffer, 0, expectedBytes).set(bytes);
  if (datatype === 'BOOL') {
    const b = out as Uint8Array;
    for (let i = 0; i < b.length; i++) if (b[i]! > 1) b[i] = 1;
  }
  return out;
}

function binaryError(name: string, what: string): BerthError {
  return new BerthError('BERTH_ERR_BINARY_DATA', `input '${name}': ${what}`);
}

/** Encodes one BYTES tensor as length-prefixed elements. */
export function encodeBytesElements(values: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of values) {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(b.length, 0);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

function readOutputs(v: unknown, binaryDefault: boolean): OutputRequest[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw bad(`outputs: expected an array, got ${typeName(v)}`);
  return v.map((o, i) => {
    if (!isObject(o)) throw bad(`outputs[${i}]: expected an object with "name", got ${typeName(o)}`);
    if (typeof o.name !== 'string' || o.name === '') throw bad(`outputs[${i}].name: expected a non-empty string, got ${typeName(o.name)}`);
    const params = readParameters(o.parameters, `outputs[${i}]`);
    const bin = params.binary_data;
    if (bin !== undefined && typeof bin !== 'boolean') throw bad(`outputs[${i}].parameters.binary_data: expected true or false, got ${typeName(bin)}`);
    const out: OutputRequest = { name: o.name, binary: bin ?? binaryDefault };
    const cls = params.classification;
    if (cls !== undefined) {
      if (typeof cls !== 'number' || !Number.isInteger(cls) || cls < 1) throw bad(`outputs[${i}].parameters.classification: expected a positive integer, got ${typeName(cls)}`);
      out.classification = cls;
    }
    return out;
  });
}

export interface DecodeOptions {
  signature: ModelSignature;
  /** The whole body. */
  body: Buffer;
  /** Inference-Header-Content-Length, when present. */
  headerLength: number | undefined;
  /** Scheduler clock now (ms), to turn a timeout into a deadline. */
  nowMs: number;
  /** Deadline for queued requests when the request gives none (0 = none). */
  defaultTimeoutMs: number;
}

/** Decodes and validates an infer request body. */
export function decodeInferRequest(o: DecodeOptions): DecodedInfer {
  const { signature, body } = o;
  if (o.headerLength === 0) return decodeRawRequest(o);
  const jsonEnd = o.headerLength ?? body.length;
  if (jsonEnd > body.length) {
    throw new BerthError('BERTH_ERR_BINARY_DATA', `Inference-Header-Content-Length is ${jsonEnd} but the body has only ${body.length} bytes`);
  }
  const header = parseJsonHeader(body, 0, jsonEnd);

  let id: string;
  const clientId = header.id !== undefined;
  if (header.id === undefined) id = newRequestId();
  else if (typeof header.id !== 'string' || header.id === '' || header.id.length > MAX_ID_LENGTH) {
    throw bad(`id: expected a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${typeName(header.id)}`);
  } else id = header.id;

  const parameters = readParameters(header.parameters, 'request');
  const binaryOut = parameters.binary_data_output;
  if (binaryOut !== undefined && typeof binaryOut !== 'boolean') throw bad(`parameters.binary_data_output: expected true or false, got ${typeName(binaryOut)}`);

  if (!Array.isArray(header.inputs)) throw bad(`inputs: expected an array of input tensors, got ${typeName(header.inputs)}`);
  if (parameters.content_type !== undefined && parameters.content_type !== 'pd') {
    throw bad(`parameters.content_type: expected "pd" (one input per raw column, MLServer's pandas codec) or nothing (tensors), got ${typeName(parameters.content_type)}`);
  }
  if (parameters.content_type === 'pd') {
    if (o.headerLength !== undefined) throw new BerthError('BERTH_ERR_BINARY_DATA', 'content_type "pd" takes its columns as JSON data; binary tensor data is for tensors');
    const records = readPandasColumns(header.inputs);
    const names = checkRequestedOutputs(signature, readOutputs(header.outputs, false)?.map((r) => r.name));
    const request: InferenceRequest = { id, inputs: [], outputs: names, batchSize: records.length, parameters };
    const deadline = readTimeout(parameters, o);
    if (deadline !== undefined) request.deadlineMs = deadline;
    return { request, records, outputs: names.map((name) => ({ name, binary: false })), clientId };
  }
  if (header.inputs.length === 0 && signature.inputs.length > 0) throw bad('inputs: must contain at least one input tensor');

  let binaryOffset = jsonEnd;
  const tensors: Tensor[] = [];
  const specs: TensorSpec[] = [];
  for (let i = 0; i < header.inputs.length; i++) {
    const inp: unknown = header.inputs[i];
    const where = `inputs[${i}]`;
    if (!isObject(inp)) throw bad(`${where}: expected an object with name, shape, datatype and data, got ${typeName(inp)}`);
    if (typeof inp.name !== 'string' || inp.name === '') throw bad(`${where}.name: expected a non-empty string, got ${typeName(inp.name)}`);
    const name = inp.name;
    if (!isV2Datatype(inp.datatype)) throw bad(`input '${name}'.datatype: expected one of ${V2_DATATYPES.join(', ')}, got ${typeName(inp.datatype)}`);
    const datatype = inp.datatype;
    const shape = readShape(inp.shape, `input '${name}'`);
    const spec = checkInputHeader(signature, name, datatype, shape);
    const count = elementCount(shape);
    const params = readParameters(inp.parameters, `input '${name}'`);
    let data: TensorData;
    if (params.binary_data_size !== undefined) {
      const size = params.binary_data_size;
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
        throw new BerthError('BERTH_ERR_BINARY_DATA', `input '${name}'.parameters.binary_data_size: expected a non-negative integer, got ${typeName(size)}`);
      }
      if (o.headerLength === undefined) throw new BerthError('BERTH_ERR_BINARY_DATA', `input '${name}' has binary_data_size but the request has no Inference-Header-Content-Length header`);
      if (inp.data !== undefined) throw new BerthError('BERTH_ERR_BINARY_DATA', `input '${name}' has both binary_data_size and data; send one`);
      if (binaryOffset + size > body.length) {
        throw new BerthError('BERTH_ERR_BINARY_DATA', `input '${name}': binary_data_size ${size} runs past the end of the body (${body.length - binaryOffset} bytes left)`);
      }
      data = decodeBinaryData(name, datatype, body.subarray(binaryOffset, binaryOffset + size), count);
      binaryOffset += size;
    } else {
      if (inp.data === undefined) throw bad(`input '${name}'.data: missing (or give parameters.binary_data_size with binary data)`);
      // Every JSON element takes at least one byte, so a shape needing more elements than the
      // JSON has bytes cannot match its data; refusing it before allocating keeps a tiny request
      // from claiming gigabytes (or failing the typed array allocation with a 500).
      if (count > jsonEnd) {
        throw new BerthError('BERTH_ERR_INVALID_INPUT', `input '${name}': shape ${formatShape(shape)} needs ${count} elements, more than the ${jsonEnd}-byte JSON request can hold`);
      }
      data = decodeJsonData(name, datatype, inp.data, count);
    }
    const t: Tensor = { name, datatype, shape, data };
    checkElementCount(t);
    checkFinite(t, spec);
    tensors.push(t);
    specs.push(spec);
  }
  if (binaryOffset !== body.length) {
    throw new BerthError('BERTH_ERR_BINARY_DATA', `the body has ${body.length - binaryOffset} bytes of binary data that no input's binary_data_size accounts for`);
  }
  const { inputs, batchSize } = checkRequestInputs(signature, tensors);
  const requested = readOutputs(header.outputs, binaryOut === true);
  const names = checkRequestedOutputs(signature, requested?.map((r) => r.name));
  // An empty `outputs` list means every output, like an absent one (checkRequestedOutputs agrees).
  const outputs: OutputRequest[] = requested !== undefined && requested.length > 0 ? requested : names.map((name) => ({ name, binary: binaryOut === true }));
  for (const r of outputs) {
    if (r.classification !== undefined) {
      const spec = signature.outputs.find((s) => s.name === r.name)!;
      if (spec.datatype === 'BYTES' || spec.datatype === 'BOOL') throw new BerthError('BERTH_ERR_INVALID_OUTPUT_REQUEST', `output '${r.name}': classification needs a numeric output, it is ${spec.datatype}`);
      if (signature.maxBatchSize > 0) r.batched = true;
    }
  }
  const request: InferenceRequest = { id, inputs, outputs: names, batchSize, parameters };
  const deadline = readTimeout(parameters, o);
  if (deadline !== undefined) request.deadlineMs = deadline;
  return { request, outputs, clientId };
}

/** Triton's `timeout` request parameter is in microseconds. */
function readTimeout(parameters: Record<string, unknown>, o: DecodeOptions): number | undefined {
  const t = parameters.timeout;
  if (t !== undefined) {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) throw bad(`parameters.timeout: expected a non-negative integer (microseconds), got ${typeName(t)}`);
    if (t > 0) return o.nowMs + t / 1000;
  }
  return o.defaultTimeoutMs > 0 ? o.nowMs + o.defaultTimeoutMs : undefined;
}

/**
 * Raw binary request (Inference-Header-Content-Length: 0): the whole body is the data of
 * the model's single input; its shape follows from the byte count, all outputs are binary.
 */
function decodeRawRequest(o: DecodeOptions): DecodedInfer {
  const { signature, body } = o;
  if (signature.inputs.length !== 1) {
    throw new BerthError('BERTH_ERR_BINARY_DATA', `a raw binary request (Inference-Header-Content-Length: 0) needs a model with exactly one input; this one has ${signature.inputs.length}`);
  }
  const spec = signature.inputs[0]!;
  if (spec.datatype === 'BYTES') throw new BerthError('BERTH_ERR_BINARY_DATA', `a raw binary request cannot carry BYTES input '${spec.name}'`);
  const inner = spec.shape.slice(signature.maxBatchSize > 0 ? 1 : 0);
  if (inner.some((d) => d < 0)) {
    throw new BerthError('BERTH_ERR_BINARY_DATA', `a raw binary request needs input '${spec.name}' to have fixed dimensions apart from the batch dimension; use a JSON header`);
  }
  const rowBytes = elementCount(inner) * datatypeInfo(spec.datatype).byteSize;
  let shape: number[];
  if (signature.maxBatchSize > 0) {
    if (body.length === 0 || body.length % rowBytes !== 0) {
      throw new BerthError('BERTH_ERR_BINARY_DATA', `raw input '${spec.name}': ${body.length} bytes is not a whole number of ${rowBytes}-byte rows`);
    }
    shape = [body.length / rowBytes, ...inner];
  } else {
    shape = inner;
  }
  const t: Tensor = { name: spec.name, datatype: spec.datatype, shape, data: decodeBinaryData(spec.name, spec.datatype, body, elementCount(shape)) };
  checkInputHeader(signature, t.name, t.datatype, t.shape);
  checkFinite(t, spec);
  const { inputs, batchSize } = checkRequestInputs(signature, [t]);
  const names = signature.outputs.map((s) => s.name);
  const request: InferenceRequest = { id: newRequestId(), inputs, outputs: names, batchSize, parameters: {} };
  const deadline = readTimeout({}, o);
  if (deadline !== undefined) request.deadlineMs = deadline;
  return { request, outputs: names.map((name) => ({ name, binary: true })), clientId: false };
}
