/**
 * Seeded fuzzing over real HTTP: thousands of malformed inference and control requests
 * (mutated JSON, wrong types everywhere, binary_data_size and Inference-Header-Content-Length
 * mismatches, deep nesting, random bytes) through fetch, and broken HTTP through raw sockets
 * (garbage request lines, bad Content-Length, truncated bodies, huge headers, bad chunking).
 * Every answer must be a 2xx for the odd mutation that is still valid, otherwise a 4xx or
 * 503 with a JSON `{"error", "code"}` body — never a 500, never a hang — and afterwards the
 * server must still answer correctly.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpSync, rmSync } from 'node:fs';
import { EXAMPLES, fixture, getJson, makeRepository, startServer } from '../helpers/server.js';
import { infer, mapLimit, maxAbsDiff, metricSum, outputValues, prng, readJson, scrape, toBytes, type V2Type } from '../helpers/v2.js';

const SEED = 0xbe27;
// BERTH_FUZZ_CASES scales the run for a measurement (e.g. 10000); the suite runs 3000.
const FETCH_CASES = Number(process.env.BERTH_FUZZ_CASES ?? 3000);
const SOCKET_CASES = Math.max(300, Math.round(FETCH_CASES / 10));
/**
 * What "names the field" means for the fuzz figure: the message names a request part (a JSON
 * field, a path into it such as inputs[0].shape, a header, the body or its limit, the model or
 * route), starts with the field it is about ("ready: …"), names the setting that refuses it
 * (repository.api.enabled), or quotes the offending name or value.
 */
const NAMES_A_FIELD = /\b(inputs|outputs|parameters|id|shape|datatype|data|name|binary_data_size|binary_data|binary_data_output|classification|timeout|Content-Type|Content-Length|Inference-Header-Content-Length|Transfer-Encoding|body|model|version|label|feedback|Host|Origin|limit|route)\b|'[^']*'|"[^"]*"|\[\d+\]|^[\w.[\]-]+: |\b[a-z]+(\.[a-zA-Z]+)+\b/;
const REQUEST_TIMEOUT_MS = 10_000;

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** Pre-serialised JSON text spliced into a request (deep nesting the client could not stringify). */
class RawJson {
  constructor(readonly text: string) {}
}

function serialize(value: unknown): string {
  const raws: string[] = [];
  const json = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0000RAW${raws.length - 1}\u0000`;
    }
    return v;
  });
  return (json ?? 'null').replace(/"\\u0000RAW(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]!);
}

function randomString(r: Rand): string {
  const kinds = [
    () => '',
    () => 'x',
    () => pick(r, ['FP32', 'FP64', 'INT64', 'BYTES', 'BOOL', 'fp32', 'FLOAT', 'a', 's', 'features', 'in_float32', 'out_int64', '__proto__', 'constructor', 'toString']),
    () => String.fromCodePoint(...Array.from({ length: int(r, 1, 12) }, () => int(r, 1, 0x1ffff)).filter((c) => c < 0xd800 || c > 0xdfff)),
    () => 'é日🚀\u0000\n"\\'.repeat(int(r, 1, 5)),
    () => 'y'.repeat(int(r, 100, 20_000)),
    () => String(int(r, -1e6, 1e6)),
    () => '9'.repeat(int(r, 15, 40)),
  ];
  return pick(r, kinds)();
}

function junk(r: Rand, depth = 0): unknown {
  const kinds: (() => unknown)[] = [
    () => null, () => true, () => false, () => 0, () => -1, () => 1.5, () => -0.000001, () => 1e308, () => -1e308,
    () => 2 ** 53 + 2, () => int(r, -5, 40), () => 4294967296, () => randomString(r),
    () => [], () => ({}),
    () => (depth < 3 ? [junk(r, depth + 1), junk(r, depth + 1)] : []),
    () => (depth < 3 ? { name: junk(r, depth + 1), datatype: junk(r, depth + 1), shape: junk(r, depth + 1), data: junk(r, depth + 1) } : {}),
    () => { const d = int(r, 30, 20_000); return new RawJson('['.repeat(d) + '1' + ']'.repeat(d)); },
    () => { const d = int(r, 30, 20_000); return new RawJson('{"a":'.repeat(d) + '1' + '}'.repeat(d)); },
    () => Array.from({ length: int(r, 0, 2000) }, () => r() * 10),
    () => Array.from({ length: int(r, 1, 50) }, () => randomString(r)),
    () => [int(r, 0, 1e9), int(r, 0, 1e9)],
    () => [1e12, 3], () => [-1, 3], () => [1.5, 3], () => [0, 3], () => [2 ** 31, 2 ** 31], () => Array.from({ length: int(r, 5, 40) }, () => int(r, 0, 3)),
  ];
  return pick(r, kinds)();
}

// --- valid templates ----------------------------------------------------------------------

interface Template {
  model: string;
  json: Record<string, unknown>;
  /** Binary parts in input order (for inputs that carry binary_data_size). */
  parts: Buffer[];
}

function arithTemplate(r: Rand): Template {
  const b = int(r, 1, 3);
  return {
    model: 'arith',
    json: {
      id: `fuzz-${int(r, 0, 1e6)}`,
      inputs: [
        { name: 'a', datatype: 'INT64', shape: [b, 2], data: Array.from({ length: b * 2 }, () => int(r, -100, 100)) },
        { name: 'b', datatype: 'FP64', shape: [b, 2], data: Array.from({ length: b * 2 }, () => r()) },
        { name: 'c', datatype: 'BOOL', shape: [b, 2], data: Array.from({ length: b * 2 }, () => r() < 0.5) },
        { name: 's', datatype: 'BYTES', shape: [b, 1], data: Array.from({ length: b }, () => randomString(r).slice(0, 20)) },
      ],
      outputs: [{ name: 'a_plus_one' }, { name: 's_copy', parameters: { binary_data: r() < 0.5 } }],
    },
    parts: [],
  };
}

const IDENTITY_TYPES: [string, V2Type][] = [
  ['bool', 'BOOL'], ['uint8', 'UINT8'], ['uint16', 'UINT16'], ['uint32', 'UINT32'], ['uint64', 'UINT64'], ['int8', 'INT8'], ['int16', 'INT16'],
  ['int32', 'INT32'], ['int64', 'INT64'], ['float16', 'FP16'], ['float32', 'FP32'], ['float64', 'FP64'], ['string', 'BYTES'],
];

function identityTemplate(r: Rand): Template {
  const parts: Buffer[] = [];
  const inputs = IDENTITY_TYPES.map(([ort, v2]) => {
    const values = v2 === 'BYTES' ? ['a', 'bé', ''] : v2 === 'BOOL' ? [true, false, true] : [1, 2, 3];
    if (r() < 0.5) {
      const bytes = toBytes(v2, v2 === 'FP16' ? [0x3c00, 0x4000, 0x4200] : values);
      parts.push(bytes);
      return { name: `in_${ort}`, datatype: v2, shape: [1, 3], parameters: { binary_data_size: bytes.length } };
    }
    return { name: `in_${ort}`, datatype: v2, shape: [1, 3], data: values };
  });
  return { model: 'identity', json: { inputs, parameters: { binary_data_output: r() < 0.5 } }, parts };
}

function incomeTemplate(r: Rand): Template {
  const rows = int(r, 1, 3);
  const values = Array.from({ length: rows * 91 }, () => r());
  if (r() < 0.5) {
    const bytes = toBytes('FP32', values);
    return { model: 'income', json: { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 91], parameters: { binary_data_size: bytes.length } }] }, parts: [bytes] };
  }
  return { model: 'income', json: { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 91], data: values }], outputs: [{ name: 'label', parameters: { classification: 2 } }] }, parts: [] };
}

function scalarTemplate(r: Rand): Template {
  return { model: 'scalar', json: { inputs: [{ name: 'x', datatype: 'FP32', shape: [4], data: [1, 2, 3, r()] }, { name: 'k', datatype: 'FP32', shape: [], data: r() < 0.5 ? 2 : [2] }], parameters: { timeout: int(r, 0, 1e7) } }, parts: [] };
}

/** Every (container, key) in a JSON tree, for picking a place to mutate. */
function slots(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = [], depth = 0): [Record<string, unknown> | unknown[], string | number][] {
  if (depth > 6) return out;
  if (Array.isArray(v)) {
    for (let i = 0; i < Math.min(v.length, 20); i++) {
      out.push([v, i]);
      slots(v[i], out, depth + 1);
    }
  } else if (v !== null && typeof v === 'object' && !(v instanceof RawJson)) {
    for (const k of Object.keys(v)) {
      out.push([v as Record<string, unknown>, k]);
      slots((v as Record<string, unknown>)[k], out, depth + 1);
    }
  }
  return out;
}

function mutate(r: Rand, json: Record<string, unknown>): void {
  const all = slots(json);
  if (all.length === 0) {
    json[pick(r, ['inputs', 'id', 'outputs', 'parameters'])] = junk(r);
    return;
  }
  const [container, key] = pick(r, all);
  const op = r();
  if (op < 0.55) (container as Record<string | number, unknown>)[key] = junk(r);
  else if (op < 0.75) {
    if (Array.isArray(container)) container.splice(Number(key), 1);
    else delete container[key as string];
  } else if (op < 0.85) {
    if (Array.isArray(container)) container.push(junk(r));
    else container[pick(r, ['extra', 'parameters', 'outputs', 'inputs', 'id', 'binary_data_size', 'data', 'shape', 'datatype', 'name', 'classification', 'binary_data', 'timeout'])] = junk(r);
  } else {
    (container as Record<string | number, unknown>)[key] = [(container as Record<string | number, unknown>)[key]];
  }
}

interface FetchCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  what: string;
}

const HEADER_LENGTH_JUNK = ['-1', 'abc', '1e3', ' 12', '0x10', '99999999999', '999999999999999999999', '', '1.5', '+5', '\u00b2'];
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/octet-stream', 'text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'image/png', '*/*', 'garbage', 'application/json;;;'];

function inferCase(r: Rand): FetchCase {
  const tpl = pick(r, [arithTemplate, identityTemplate, incomeTemplate, scalarTemplate])(r);
  const mutations = int(r, r() < 0.1 ? 0 : 1, 4);
  for (let i = 0; i < mutations; i++) mutate(r, tpl.json);
  let text = serialize(tpl.json);
  if (r() < 0.08) text = text.slice(0, int(r, 0, text.length)); // truncated JSON
  if (r() < 0.04) text += pick(r, ['}', ']', ',', ' garbage', '\u0000']);
  const jsonBytes = Buffer.from(text, 'utf8');
  let parts = tpl.parts;
  if (parts.length > 0 && r() < 0.25) parts = parts.map((p) => (r() < 0.5 ? p.subarray(0, int(r, 0, p.length)) : Buffer.concat([p, Buffer.alloc(int(r, 1, 9), int(r, 0, 255))])));
  let body = Buffer.concat([jsonBytes, ...parts]);
  if (r() < 0.1) body = Buffer.concat([body, Buffer.from(Array.from({ length: int(r, 1, 64) }, () => int(r, 0, 255)))]);
  const headers: Record<string, string> = {};
  if (r() < 0.9) headers['content-type'] = r() < 0.7 ? (parts.length > 0 ? 'application/octet-stream' : 'application/json') : pick(r, CONTENT_TYPES);
  if (parts.length > 0 || r() < 0.15) {
    headers['inference-header-content-length'] = r() < 0.75 ? String(jsonBytes.length + (r() < 0.2 ? int(r, -20, 20) : 0)) : pick(r, HEADER_LENGTH_JUNK);
    if (r() < 0.05) headers['inference-header-content-length'] = '0'; // raw mode with a JSON body
  }
  const version = r() < 0.1 ? pick(r, ['/versions/1', '/versions/2', '/versions/0', '/versions/-1', '/versions/abc', '/versions/01', '/versions/99999999999999999999']) : '';
  return { method: 'POST', path: `/v2/models/${tpl.model}${version}/infer`, headers, body, what: `infer ${tpl.model} (${mutations} mutations)` };
}

const PATHS = [
  '/v2', '/v2/health/live', '/v2/health/ready', '/v2/models/arith', '/v2/models/arith/ready', '/v2/models/arith/versions/1', '/v2/models/arith/config',
  '/v2/models/arith/stats', '/v2/models/stats', '/v2/models/nope/infer', '/v2/models/arith/infer', '/v2/models/income/infer', '/v2/repository/index',
  '/v2/repository/models/arith/load', '/v2/repository/models/arith/unload', '/v2/models/%zz/infer', '/v2/models/%00/infer', '/v2/models/..%2F..%2Fetc/infer',
  `/v2/models/${'a'.repeat(300)}/infer`, '/v2/models/arith/versions/%F0%9F%9A%80/infer', '/metrics', '/', '/v3', '//v2//models', '/v2/models/arith/infer?x=1&x=2',
  '/v2/models/arith/infer/', '/v2/models/ARITH/infer', '/v2/models/arith/versions//infer',
];

function randomBytes(r: Rand, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => int(r, 0, 255)));
}

function otherCase(r: Rand): FetchCase {
  const method = pick(r, ['GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);
  const path = pick(r, PATHS);
  let body: Buffer | undefined;
  if (method !== 'GET') {
    const k = r();
    body = k < 0.3 ? randomBytes(r, int(r, 0, 300)) : k < 0.6 ? Buffer.from(serialize(junk(r))) : k < 0.8 ? Buffer.from(serialize({ ready: junk(r), parameters: junk(r) })) : Buffer.alloc(0);
  }
  const headers: Record<string, string> = {};
  if (body !== undefined && r() < 0.8) headers['content-type'] = pick(r, CONTENT_TYPES);
  if (r() < 0.2) headers['inference-header-content-length'] = pick(r, [...HEADER_LENGTH_JUNK, '0', '5']);
  if (r() < 0.1) headers.authorization = pick(r, ['Bearer', 'Bearer x', 'Basic abc', '']);
  return { method, path, headers, body, what: `${method} ${path}` };
}

/** A valid applicant record (the income example's raw fields), to mutate. */
const RECORD: Record<string, unknown> = readJson('examples/requests/income-records.json').instances[0];

/** Raw-record requests to the model served with its pipeline: V1 rows or columns, V2 "pd", with fields mutated. */
function recordCase(r: Rand): FetchCase {
  const rows = Array.from({ length: int(r, 1, 4) }, () => {
    const rec: Record<string, unknown> = { ...RECORD };
    for (let m = int(r, 0, 3); m > 0; m--) {
      const keys = Object.keys(rec);
      const k = r();
      if (k < 0.35) rec[pick(r, keys)] = junk(r);
      else if (k < 0.5) delete rec[pick(r, keys)];
      else if (k < 0.65) rec[randomString(r)] = junk(r);
      else if (k < 0.8) rec[pick(r, keys)] = pick(r, ['NaN', 'Infinity', '-inf', '', '?', null, 1e308, -1, 150, 'Martian', ' Private ', '1e3']);
      else [rec[pick(r, keys)], rec[pick(r, keys)]] = [rec[pick(r, keys)], rec[pick(r, keys)]];
    }
    return rec;
  });
  const kind = r();
  let path = pick(r, ['/v1/models/applicant:predict', '/v1/models/applicant/versions/1:predict', '/v1/models/applicant:explain', '/v1/models/applicant/versions/9:predict', '/v1/models/nope:predict', '/v1/models/income:predict']);
  let json: unknown;
  if (kind < 0.45) json = r() < 0.9 ? { instances: rows } : { instances: junk(r) };
  else if (kind < 0.7) {
    const cols: Record<string, unknown[]> = Object.create(null) as Record<string, unknown[]>;
    for (const row of rows) for (const [k, v] of Object.entries(row)) (cols[k] ??= []).push(v);
    json = r() < 0.85 ? { inputs: cols } : { inputs: junk(r), instances: r() < 0.5 ? rows : undefined };
  } else {
    path = '/v2/models/applicant/infer';
    const names = Object.keys(rows[0]!);
    json = {
      parameters: { content_type: r() < 0.9 ? 'pd' : junk(r) },
      inputs: names.map((n) => ({ name: n, datatype: r() < 0.85 ? (typeof rows[0]![n] === 'number' ? 'INT64' : 'BYTES') : junk(r), shape: r() < 0.9 ? [rows.length] : junk(r), data: rows.map((x) => x[n] ?? null) })),
    };
  }
  if (r() < 0.1) json = junk(r);
  return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: Buffer.from(serialize(json)), what: `record ${path}` };
}

function bigBodyCase(r: Rand): FetchCase {
  // Over the 256 KiB body limit: 413.
  const body = Buffer.alloc(int(r, 300_000, 600_000), 0x20);
  return { method: 'POST', path: '/v2/models/income/infer', headers: { 'content-type': pick(r, ['application/json', 'application/octet-stream']) }, body, what: 'oversized body' };
}

interface Checked {
  status: number;
  error?: string;
  message?: string;
}

function checkErrorBody(what: string, status: number, contentType: string | null, text: string): void {
  assert.ok(status < 500 || status === 503, `${what}: status ${status} (never a 5xx other than 503): ${text.slice(0, 300)}`);
  assert.match(contentType ?? '', /application\/json/, `${what}: error content type`);
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${what}: error body is not JSON: ${text.slice(0, 200)}`);
  }
  assert.equal(typeof body.error, 'string', `${what}: "error" is a string: ${text.slice(0, 200)}`);
  assert.ok(body.error.length > 0);
  assert.match(String(body.code), /^BERTH_ERR_[A-Z_]+$/, `${what}: "code": ${text.slice(0, 200)}`);
}

async function runFetchCase(url: string, c: FetchCase): Promise<Checked> {
  const init: RequestInit = { method: c.method, headers: c.headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) };
  if (c.body !== undefined) init.body = c.body;
  let res: Response;
  try {
    res = await fetch(`${url}${c.path}`, init);
  } catch (err) {
    throw new Error(`${c.what}: no answer (${String((err as Error).cause ?? err)})`);
  }
  const text = await res.text();
  if (res.status >= 200 && res.status < 300) return { status: res.status };
  checkErrorBody(c.what, res.status, res.headers.get('content-type'), text);
  const body = JSON.parse(text) as { code: string; error: string };
  return { status: res.status, error: body.code, message: body.error };
}

// --- raw sockets ------------------------------------------------------------------------------

interface RawResult {
  data: Buffer;
  hung: boolean;
}

/**
 * Writes `chunks` on a fresh connection and collects the answer: until the first response is
 * complete, or the server closes. With `halfClose` the client then ends its side, so a server
 * waiting for more body bytes sees the truncation. (Node answers nothing once a client has
 * half-closed while an asynchronous handler such as infer is still running, so complete
 * requests are sent without it.)
 */
function exchange(port: number, chunks: readonly Buffer[], halfClose: boolean, timeoutMs = 5000): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let settled = false;
    const done = (hung: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(got), hung });
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    sock.on('data', (d) => {
      got.push(d);
      if (completeResponse(Buffer.concat(got))) done(false);
    });
    sock.on('close', () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => {
      for (const c of chunks) sock.write(c);
      if (halfClose) sock.end();
    });
  });
}

function completeResponse(data: Buffer): boolean {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(data.toString('latin1', 0, end));
  return m !== null && data.length >= end + 4 + Number(m[1]);
}

/** The first HTTP response in a byte stream: status, headers, body (by Content-Length). */
function firstResponse(data: Buffer): { status: number; headers: Record<string, string>; body: string } | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = data.toString('latin1', 0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (m === null) throw new Error(`not an HTTP status line: ${JSON.stringify(head[0])}`);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const len = headers['content-length'] === undefined ? data.length - end - 4 : Number(headers['content-length']);
  return { status: Number(m[1]), headers, body: data.toString('utf8', end + 4, end + 4 + len) };
}

function socketCase(r: Rand): { what: string; chunks: Buffer[]; halfClose?: false } {
  const json = serialize(arithTemplate(r).json);
  const line = (path = '/v2/models/arith/infer', method = 'POST', version = 'HTTP/1.1'): string => `${method} ${path} ${version}\r\n`;
  const kinds: (() => { what: string; chunks: Buffer[]; halfClose?: false })[] = [
    () => ({ what: 'garbage request line', chunks: [randomBytes(r, int(r, 1, 200)), Buffer.from('\r\n\r\n')] }),
    () => ({ what: 'garbage after a request line', chunks: [Buffer.from(line()), randomBytes(r, int(r, 1, 500))] }),
    () => ({ what: 'bad HTTP version', chunks: [Buffer.from(`${line('/v2', 'GET', pick(r, ['HTTP/9.9', 'HTTP/2.0', 'HTTX/1.1', 'HTTP/1', '']))}Host: x\r\n\r\n`)] }),
    () => ({ what: 'bad method', chunks: [Buffer.from(`${line('/v2', pick(r, ['FOO', 'G ET', 'get', '\u0000']))}Host: x\r\n\r\n`)] }),
    () => ({ what: 'bad Content-Length', chunks: [Buffer.from(`${line()}Host: x\r\nContent-Type: application/json\r\nContent-Length: ${pick(r, ['abc', '-1', '1.5', '1e3', '99999999999999999999', ' ', '0x10'])}\r\n\r\n${json}`)] }),
    () => ({ what: 'two Content-Lengths', chunks: [Buffer.from(`${line()}Host: x\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\nContent-Length: ${json.length + 5}\r\n\r\n${json}`)] }),
    () => ({ what: 'truncated body', chunks: [Buffer.from(`${line()}Host: x\r\nContent-Type: application/json\r\nContent-Length: ${json.length + int(r, 1, 10_000)}\r\n\r\n${json}`)] }),
    () => ({ what: 'body longer than Content-Length', chunks: [Buffer.from(`${line()}Host: x\r\nContent-Type: application/json\r\nContent-Length: ${Math.max(0, json.length - int(r, 1, 20))}\r\n\r\n${json}`)] }),
    () => ({ what: 'huge header', chunks: [Buffer.from(`${line('/v2', 'GET')}Host: x\r\nX-Big: ${'a'.repeat(int(r, 17_000, 70_000))}\r\n\r\n`)] }),
    () => ({ what: 'many headers', chunks: [Buffer.from(`${line('/v2', 'GET')}Host: x\r\n${Array.from({ length: int(r, 100, 3000) }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`)] }),
    () => ({ what: 'invalid header characters', chunks: [Buffer.from(`${line('/v2', 'GET')}Host: x\r\nX-Bad${pick(r, ['\u0000', ' ', '(', '\u007f'])}: v\r\nX-V: a\u0001b\r\n\r\n`, 'latin1')] }),
    () => ({ what: 'bad chunked encoding', chunks: [Buffer.from(`${line()}Host: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${pick(r, ['zz\r\n', '5\r\nabc', '-1\r\n', 'ffffffffffffffff\r\nx\r\n', '3\r\nabcdef\r\n0\r\n\r\n'])}`)] }),
    () => ({ what: 'chunked and Content-Length', chunks: [Buffer.from(`${line()}Host: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`)] }),
    () => ({ what: 'bad Inference-Header-Content-Length', chunks: [Buffer.from(`${line()}Host: x\r\nContent-Type: application/octet-stream\r\nInference-Header-Content-Length: ${pick(r, HEADER_LENGTH_JUNK)}\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`)] }),
    () => ({ what: 'NUL in URL', chunks: [Buffer.from(`GET /v2/models/ar\u0000ith HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1')] }),
    () => ({ what: 'absolute and odd URLs', chunks: [Buffer.from(`${line(pick(r, ['http://evil/v2', '*', '/v2/models/' + '%'.repeat(50), '/' + 'x'.repeat(9000), '/v2/models/a%ZZb/ready']), 'GET')}Host: x\r\n\r\n`)] }),
    () => ({ what: 'header without colon', chunks: [Buffer.from(`${line('/v2', 'GET')}Host: x\r\nNoColonHere\r\n\r\n`)] }),
    () => ({ what: 'bare LF line endings', chunks: [Buffer.from(`GET /v2 HTTP/1.1\nHost: x\n\n`)] }),
    () => ({ what: 'slow byte-by-byte valid request', chunks: Array.from(Buffer.from(`${line()}Host: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`), (b) => Buffer.from([b])), halfClose: false }),
    () => ({ what: 'random bytes', chunks: [randomBytes(r, int(r, 1, 4000))] }),
  ];
  return pick(r, kinds)();
}

/** The fuzzed models, plus `applicant`: the income example with its pipeline, anomaly profile and berth.yaml. */
function fuzzRepository(t: { after(fn: () => unknown): void }): string {
  const repo = makeRepository([
    { name: 'arith', file: fixture('arith_mixed.onnx') },
    { name: 'identity', file: fixture('identity_all_types.onnx') },
    { name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') },
    { name: 'scalar', file: fixture('scalar_in.onnx') },
  ]);
  cpSync(join(EXAMPLES, 'income'), join(repo, 'applicant'), { recursive: true });
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  return repo;
}

test('fuzz: malformed requests never get a 500 or a hang, and the server keeps serving', async (t) => {
  const s = await startServer({
    repo: fuzzRepository(t),
    config: { server: { bodyLimitBytes: 256 * 1024 }, repository: { api: { enabled: false } } },
  });
  t.after(() => s.close());
  const port = Number(new URL(s.url).port);

  await t.test(`${FETCH_CASES} malformed HTTP requests`, async (st) => {
    const r = prng(SEED);
    const cases: FetchCase[] = Array.from({ length: FETCH_CASES }, () => {
      const k = r();
      return k < 0.65 ? inferCase(r) : k < 0.8 ? recordCase(r) : k < 0.98 ? otherCase(r) : bigBodyCase(r);
    });
    const results = await mapLimit(cases, 12, (c) => runFetchCase(s.url, c));
    const byStatus = new Map<number, number>();
    const byCode = new Map<string, number>();
    for (const x of results) {
      byStatus.set(x.status, (byStatus.get(x.status) ?? 0) + 1);
      if (x.error !== undefined) byCode.set(x.error, (byCode.get(x.error) ?? 0) + 1);
    }
    st.diagnostic(`statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}`);
    st.diagnostic(`codes ${JSON.stringify(Object.fromEntries([...byCode].sort()))}`);
    const clientErrors = results.filter((x) => x.status >= 400 && x.status < 500);
    const unnamed = clientErrors.filter((x) => !NAMES_A_FIELD.test(x.message ?? ''));
    st.diagnostic(`${clientErrors.length} 4xx, ${clientErrors.length - unnamed.length} (${(100 * (1 - unnamed.length / clientErrors.length)).toFixed(2)}%) name the field; others: ${JSON.stringify([...new Set(unnamed.map((x) => x.message))].slice(0, 10))}`);
    assert.deepEqual([...new Set(unnamed.map((x) => x.message))], [], 'every 4xx names the field, header or part of the request at fault');
    assert.equal(results.filter((x) => x.status >= 500 && x.status !== 503).length, 0);
    // The generator reaches the interesting errors (else it would prove little).
    for (const code of ['BERTH_ERR_BAD_REQUEST', 'BERTH_ERR_INVALID_INPUT', 'BERTH_ERR_BINARY_DATA', 'BERTH_ERR_NOT_FOUND', 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', 'BERTH_ERR_BODY_TOO_LARGE']) {
      assert.ok((byCode.get(code) ?? 0) > 0, `the fuzz cases produced ${code}`);
    }
  });

  await t.test(`${SOCKET_CASES} broken HTTP exchanges over raw sockets`, async (st) => {
    const r = prng(SEED + 1);
    const cases = Array.from({ length: SOCKET_CASES }, () => socketCase(r));
    let answered = 0;
    const silent = new Map<string, number>();
    await mapLimit(cases, 12, async (c) => {
      const res = await exchange(port, c.chunks, c.halfClose ?? true);
      assert.equal(res.hung, false, `${c.what}: the server neither answered nor closed the connection within 5 s`);
      const first = firstResponse(res.data);
      if (first === undefined) {
        assert.equal(res.data.length, 0, `${c.what}: a partial response: ${JSON.stringify(res.data.toString('latin1').slice(0, 200))}`);
        silent.set(c.what, (silent.get(c.what) ?? 0) + 1);
        return;
      }
      answered += 1;
      if (first.status >= 200 && first.status < 300) return;
      checkErrorBody(c.what, first.status, first.headers['content-type'] ?? null, first.body);
    });
    st.diagnostic(`${answered} answered; closed without a response: ${JSON.stringify(Object.fromEntries(silent))}`);
    assert.equal(answered, SOCKET_CASES, 'every broken exchange gets an HTTP answer');
  });

  await t.test('afterwards: live, ready, correct answers, and no 500 in the metrics', async () => {
    assert.equal((await getJson(`${s.url}/v2/health/live`)).status, 200);
    assert.equal((await getJson(`${s.url}/v2/health/ready`)).status, 200);
    const request = readJson('examples/requests/income.json');
    const expected = readJson('examples/requests/income.expected.json');
    const res = await infer(`${s.url}/v2/models/income/infer`, request);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.ok(maxAbsDiff(outputValues(res, 'probabilities'), expected.outputs.find((o: { name: string }) => o.name === 'probabilities').data) < 1e-5);
    const arith = await infer(`${s.url}/v2/models/arith/infer`, {
      inputs: [
        { name: 'a', datatype: 'INT64', shape: [1, 2], data: [41, -1] },
        { name: 'b', datatype: 'FP64', shape: [1, 2], data: [0.5, 2] },
        { name: 'c', datatype: 'BOOL', shape: [1, 2], data: [false, true] },
        { name: 's', datatype: 'BYTES', shape: [1, 1], data: ['still here'] },
      ],
    });
    assert.equal(arith.status, 200, JSON.stringify(arith.json));
    assert.deepEqual(outputValues(arith, 'a_plus_one'), [42, 0]);
    assert.deepEqual(outputValues(arith, 'a_as_double'), [41.5, 1]);
    assert.deepEqual(outputValues(arith, 'c_not'), [true, false]);
    assert.deepEqual(outputValues(arith, 's_copy'), ['still here']);
    const samples = await scrape(s.url);
    const fiveHundreds = samples.filter((x) => x.name === 'berth_http_requests_total' && x.labels.status?.startsWith('5') && x.labels.status !== '503');
    assert.deepEqual(fiveHundreds, [], 'no 5xx other than 503 was ever sent');
    assert.equal(metricSum(samples, 'berth_inference_requests_total', { outcome: 'error' }), 0);
  });

});
