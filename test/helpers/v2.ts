/**
 * @module test/helpers/v2
 * Client-side helpers for integration tests speaking the Open Inference Protocol over real
 * HTTP: binary tensor data encoding/decoding, response parsing (with exact INT64/UINT64),
 * an in-process onnxruntime-node reference, Prometheus text parsing, polling and a seeded PRNG.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ROOT } from './server.js';

export type V2Type =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

export const ORT_TYPE: Record<V2Type, ort.Tensor.Type> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', FP32: 'float32', FP64: 'float64', BYTES: 'string',
};

/** Element values as tests write them: numbers, bigints (64-bit ints), booleans, strings. */
export type Value = number | bigint | boolean | string;

// --- binary tensor data ----------------------------------------------------------------

/** Little-endian bytes of `values` as `datatype` (FP16 values are given as raw half bits). */
export function toBytes(datatype: V2Type, values: readonly Value[]): Buffer {
  if (datatype === 'BYTES') {
    const parts: Buffer[] = [];
    for (const v of values) {
      const b = Buffer.from(String(v), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length, 0);
      parts.push(len, b);
    }
    return Buffer.concat(parts);
  }
  const size = byteSize(datatype);
  const buf = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    const o = i * size;
    switch (datatype) {
      case 'BOOL': buf.writeUInt8(v === true || v === 1 ? 1 : 0, o); break;
      case 'UINT8': buf.writeUInt8(Number(v), o); break;
      case 'UINT16': case 'FP16': buf.writeUInt16LE(Number(v), o); break;
      case 'UINT32': buf.writeUInt32LE(Number(v), o); break;
      case 'UINT64': buf.writeBigUInt64LE(BigInt(v), o); break;
      case 'INT8': buf.writeInt8(Number(v), o); break;
      case 'INT16': buf.writeInt16LE(Number(v), o); break;
      case 'INT32': buf.writeInt32LE(Number(v), o); break;
      case 'INT64': buf.writeBigInt64LE(BigInt(v), o); break;
      case 'FP32': buf.writeFloatLE(Number(v), o); break;
      case 'FP64': buf.writeDoubleLE(Number(v), o); break;
    }
  });
  return buf;
}

/** Decodes little-endian binary tensor data (FP16 → raw half bits, BOOL → booleans). */
export function fromBytes(datatype: V2Type, buf: Buffer): Value[] {
  const out: Value[] = [];
  if (datatype === 'BYTES') {
    let off = 0;
    while (off < buf.length) {
      const len = buf.readUInt32LE(off);
      off += 4;
      out.push(buf.toString('utf8', off, off + len));
      off += len;
    }
    return out;
  }
  const size = byteSize(datatype);
  if (buf.length % size !== 0) throw new Error(`${buf.length} bytes is not a whole number of ${datatype} elements`);
  for (let o = 0; o < buf.length; o += size) {
    switch (datatype) {
      case 'BOOL': out.push(buf.readUInt8(o) !== 0); break;
      case 'UINT8': out.push(buf.readUInt8(o)); break;
      case 'UINT16': case 'FP16': out.push(buf.readUInt16LE(o)); break;
      case 'UINT32': out.push(buf.readUInt32LE(o)); break;
      case 'UINT64': out.push(buf.readBigUInt64LE(o)); break;
      case 'INT8': out.push(buf.readInt8(o)); break;
      case 'INT16': out.push(buf.readInt16LE(o)); break;
      case 'INT32': out.push(buf.readInt32LE(o)); break;
      case 'INT64': out.push(buf.readBigInt64LE(o)); break;
      case 'FP32': out.push(buf.readFloatLE(o)); break;
      case 'FP64': out.push(buf.readDoubleLE(o)); break;
    }
  }
  return out;
}

export function byteSize(datatype: V2Type): number {
  switch (datatype) {
    case 'BOOL': case 'UINT8': case 'INT8': return 1;
    case 'UINT16': case 'INT16': case 'FP16': return 2;
    case 'UINT32': case 'INT32': case 'FP32': return 4;
    case 'UINT64': case 'INT64': case 'FP64': return 8;
    case 'BYTES': return 0;
  }
}

/** A request body: the JSON header followed by binary parts, and the header length. */
export function binaryBody(header: unknown, parts: readonly Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...parts]), headerLength: json.length };
}

// --- exact JSON ------------------------------------------------------------------------

/**
 * JSON.parse, except that integer literals outside the safe range come back as bigint
 * (so INT64/UINT64 outputs beyond 2^53 can be compared exactly). Throws on invalid JSON.
 */
export function parseJsonExact(text: string): any {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`invalid JSON at ${i}: ${what}`);
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = str();
        ws();
        if (text[i++] !== ':') fail('expected :');
        o[k] = value();
        ws();
        const d = text[i++];
        if (d === '}') return o;
        if (d !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value());
        ws();
        const d = text[i++];
        if (d === ']') return a;
        if (d !== ',') fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (m !== null) {
      i += m[0].length;
      if (m[2] === undefined && m[3] === undefined) {
        const n = Number(m[0]);
        return Number.isSafeInteger(n) ? n : BigInt(m[0]);
      }
      return Number(m[0]);
    }
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(lit, i)) { i += lit.length; return v; }
    }
    return fail(`unexpected ${JSON.stringify(c)}`);
  };
  const str = (): string => {
    const start = i;
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) fail('unterminated string');
      if (c === '\\') i += 2;
      else if (c === '"') { i++; break; }
      else i++;
    }
    return JSON.parse(text.slice(start, i)) as string;
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

// --- HTTP --------------------------------------------------------------------------------

export interface InferResponse {
  status: number;
  headers: Headers;
  /** The JSON (header) part, parsed exactly; undefined for an empty body. */
  json: any;
  /** Binary output data by output name (binary responses). */
  binary: Map<string, Buffer>;
  raw: Buffer;
}

/** Splits a response body into its JSON header and the binary data of each output. */
export function parseInferBody(raw: Buffer, headerLengthHeader: string | null): { json: any; binary: Map<string, Buffer> } {
  const binary = new Map<string, Buffer>();
  const headerLength = headerLengthHeader === null ? raw.length : Number(headerLengthHeader);
  const text = raw.toString('utf8', 0, headerLength);
  const json = text === '' ? undefined : parseJsonExact(text);
  let off = headerLength;
  if (json !== undefined && Array.isArray(json.outputs)) {
    for (const o of json.outputs as { name: string; parameters?: { binary_data_size?: number } }[]) {
      const size = o.parameters?.binary_data_size;
      if (size === undefined) continue;
      binary.set(o.name, raw.subarray(off, off + size));
      off += size;
    }
  }
  if (off !== raw.length) throw new Error(`response has ${raw.length - off} bytes not accounted for by binary_data_size`);
  return { json, binary };
}

/** POSTs a body (JSON object, string or bytes) and parses the answer, binary or not. */
export async function infer(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<InferResponse> {
  const isBytes = Buffer.isBuffer(body);
  const init: RequestInit = {
    method: 'POST',
    headers: { 'content-type': isBytes ? 'application/octet-stream' : 'application/json', ...headers },
    body: isBytes ? body : typeof body === 'string' ? body : JSON.stringify(body),
  };
  if (signal !== undefined) init.signal = signal;
  const res = await fetch(url, init);
  const raw = Buffer.from(await res.arrayBuffer());
  const isBinary = res.headers.get('inference-header-content-length') !== null;
  if (isBinary) {
    const { json, binary } = parseInferBody(raw, res.headers.get('inference-header-content-length'));
    return { status: res.status, headers: res.headers, json, binary, raw };
  }
  let json: any;
  const text = raw.toString('utf8');
  try {
    json = text === '' ? undefined : parseJsonExact(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json, binary: new Map(), raw };
}

/** POSTs a binary-extension request built from a JSON header and binary parts. */
export function inferBinary(url: string, header: unknown, parts: readonly Buffer[], headers: Record<string, string> = {}, signal?: AbortSignal): Promise<InferResponse> {
  const { body, headerLength } = binaryBody(header, parts);
  return infer(url, body, { 'inference-header-content-length': String(headerLength), ...headers }, signal);
}

/** The values of output `name` of a response, whether sent as JSON or binary. */
export function outputValues(r: InferResponse, name: string): Value[] {
  const o = (r.json?.outputs as { name: string; datatype: V2Type; data?: Value[] }[] | undefined)?.find((x) => x.name === name);
  if (o === undefined) throw new Error(`response has no output '${name}': ${JSON.stringify(r.json, bigintSafe)}`);
  const bin = r.binary.get(name);
  if (bin !== undefined) return fromBytes(o.datatype, bin);
  if (!Array.isArray(o.data)) throw new Error(`output '${name}' has neither data nor binary data`);
  return o.data;
}

export function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `${v}n` : v;
}

// --- in-process reference ------------------------------------------------------------

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/** Runs a model in this process with onnxruntime-node (sessions cached per path). */
export async function runOrt(modelPath: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  let s = sessions.get(modelPath);
  if (s === undefined) {
    s = ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
    sessions.set(modelPath, s);
  }
  return (await s).run(feeds);
}

/** An ORT tensor from test values. FP16 values are raw half bits. */
export function ortTensor(datatype: V2Type, values: readonly Value[], dims: readonly number[]): ort.Tensor {
  const t = ORT_TYPE[datatype];
  switch (datatype) {
    case 'BYTES': return new ort.Tensor(t, values.map(String), dims);
    case 'BOOL': return new ort.Tensor(t, Uint8Array.from(values, (v) => (v === true || v === 1 ? 1 : 0)), dims);
    case 'INT64': return new ort.Tensor(t, BigInt64Array.from(values, (v) => BigInt(v)), dims);
    case 'UINT64': return new ort.Tensor(t, BigUint64Array.from(values, (v) => BigInt(v)), dims);
    case 'UINT8': return new ort.Tensor(t, Uint8Array.from(values, Number), dims);
    case 'UINT16': case 'FP16': return new ort.Tensor(t, Uint16Array.from(values, Number), dims);
    case 'UINT32': return new ort.Tensor(t, Uint32Array.from(values, Number), dims);
    case 'INT8': return new ort.Tensor(t, Int8Array.from(values, Number), dims);
    case 'INT16': return new ort.Tensor(t, Int16Array.from(values, Number), dims);
    case 'INT32': return new ort.Tensor(t, Int32Array.from(values, Number), dims);
    case 'FP32': return new ort.Tensor(t, Float32Array.from(values, Number), dims);
    case 'FP64': return new ort.Tensor(t, Float64Array.from(values, Number), dims);
  }
}

/** Values of an ORT output tensor in the test's representation (BOOL → boolean, FP16 → bits). */
export function ortValues(t: ort.Tensor): Value[] {
  if (t.type === 'bool') return Array.from(t.data as Uint8Array, (v) => v !== 0);
  if (t.type === 'string') return [...(t.data as string[])];
  return Array.from(t.data as ArrayLike<number | bigint>);
}

/** max |a - b| over two numeric arrays of equal length (throws on length mismatch). */
export function maxAbsDiff(a: readonly Value[], b: readonly Value[]): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(Number(a[i]) - Number(b[i]));
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

// --- data --------------------------------------------------------------------------------

/** The digits test images, FP32 [360, 1, 8, 8]. */
export function digitsImages(): Float32Array {
  const b = readFileSync(join(ROOT, 'examples/data/digits/test-images.f32'));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The income test features, FP32 [16281, 91]. */
export function incomeFeatures(): Float32Array {
  const b = gunzipSync(readFileSync(join(ROOT, 'examples/data/adult/test-encoded.f32.gz')));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function readJson(rel: string): any {
  return JSON.parse(readFileSync(join(ROOT, rel), 'utf8'));
}

// --- metrics ---------------------------------------------------------------------------

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a Prometheus text exposition. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3] !== undefined) {
      for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    }
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function metricSum(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parsePrometheus(await res.text());
}

// --- polling and randomness --------------------------------------------------------------

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** mulberry32 (src/random.ts), under the name the tests use. */
export { mulberry32 as prng } from '../../src/random.js';

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
