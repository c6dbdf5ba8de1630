/**
 * What a web page could do to a "loopback only" server, and what error bodies give away,
 * over real HTTP on loopback: a cross-origin POST, a DNS-rebinding Host header, simple
 * content types, a request without Host; absolute paths and ONNX Runtime source locations
 * in answers; "got undefined undefined" in messages about malformed bodies.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeModel } from '../../src/onnx/codec.js';
import { makeGraph, makeModel, makeNode, makeValueInfo } from '../../src/onnx/build.js';
import { DataType } from '../../src/onnx/types.js';
import { EXAMPLES, getJson, makeRepository, startServer } from '../helpers/server.js';
import { readJson } from '../helpers/v2.js';

const INCOME = join(EXAMPLES, 'income/1/model.onnx');
const incomeRequest = readJson('examples/requests/income.json');

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** A request with exactly these headers (fetch would not send a forged Host or Origin). */
function send(url: string, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) }, setHost: headers.host === undefined }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function assertError(r: Answer, status: number, code: string, ...mentions: string[]): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text.slice(0, 300)}`);
  assert.equal(r.json?.code, code, r.text);
  for (const m of mentions) assert.ok(String(r.json.error).includes(m), `${JSON.stringify(r.json.error)} mentions ${m}`);
}

/** x [1, 4] reshaped to the shape the client sends: a wrong shape makes ONNX Runtime fail with a source location. */
function reshapeModel(): Buffer {
  return Buffer.from(encodeModel(makeModel(makeGraph('reshape', [makeNode('Reshape', ['x', 's'], ['y'], { name: 'r' })], [makeValueInfo('x', DataType.FLOAT, [1, 4]), makeValueInfo('s', DataType.INT64, [2])], [makeValueInfo('y', DataType.FLOAT)]))));
}

test('browser-facing checks', async (t) => {
  const s = await startServer({ models: [{ name: 'income', file: INCOME }], config: { server: { allowedOrigins: ['https://grafana.example.com'] } } });
  t.after(() => s.close());
  const host = new URL(s.url).host;
  const port = new URL(s.url).port;
  const json = { host, 'content-type': 'application/json' };

  await t.test('cross-origin POST refused: a page of another site cannot unload a model', async () => {
    const r = await send(s.url, 'POST', '/v2/repository/models/income/unload', { ...json, origin: 'https://evil.example' }, '{}');
    assertError(r, 403, 'BERTH_ERR_ORIGIN_NOT_ALLOWED', 'https://evil.example', 'server.allowedOrigins');
    // Without a body and Content-Type (what a no-cors fetch sends) the Origin check still holds.
    assertError(await send(s.url, 'POST', '/v2/repository/models/income/unload', { host, origin: 'https://evil.example' }), 403, 'BERTH_ERR_ORIGIN_NOT_ALLOWED');
    assertError(await send(s.url, 'POST', '/v2/models/income/infer', { ...json, origin: 'null' }, JSON.stringify(incomeRequest)), 403, 'BERTH_ERR_ORIGIN_NOT_ALLOWED');
    assertError(await send(s.url, 'GET', '/api/predictions', { host, origin: `http://127.0.0.1:${Number(port) + 1}` }), 403, 'BERTH_ERR_ORIGIN_NOT_ALLOWED');
    assert.equal((await getJson(`${s.url}/v2/models/income/ready`)).status, 200, 'the model still serves');
  });

  await t.test('the dashboard\'s own origin and an allowed origin pass; the allowed one gets CORS headers', async () => {
    const own = await send(s.url, 'GET', '/api/models', { host, origin: `http://${host}` });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.headers['access-control-allow-origin'], undefined);
    const page = await send(s.url, 'GET', '/', { host });
    assert.equal(page.status, 200);
    const allowed = await send(s.url, 'POST', '/v2/models/income/infer', { ...json, origin: 'https://grafana.example.com' }, JSON.stringify(incomeRequest));
    assert.equal(allowed.status, 200, allowed.text);
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://grafana.example.com');
    const pre = await send(s.url, 'OPTIONS', '/v2/models/income/infer', { host, origin: 'https://grafana.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' });
    assert.equal(pre.status, 204);
    assert.match(String(pre.headers['access-control-allow-headers']), /content-type/);
    const evilPre = await send(s.url, 'OPTIONS', '/v2/models/income/infer', { host, origin: 'https://evil.example', 'access-control-request-method': 'POST' });
    assert.equal(evilPre.headers['access-control-allow-origin'], undefined, 'no CORS for others');
  });

  await t.test('DNS-rebinding Host refused: a page on a rebound name cannot read /api/predictions', async () => {
    // The rebound page is same-origin with itself: Origin and Host agree, only the name is foreign.
    const r = await send(s.url, 'GET', '/api/predictions', { host: `rebind.evil.example:${port}`, origin: `http://rebind.evil.example:${port}` });
    assertError(r, 403, 'BERTH_ERR_HOST_NOT_ALLOWED', `rebind.evil.example:${port}`, 'server.allowedHosts');
    assertError(await send(s.url, 'POST', '/v2/models/income/infer', { 'content-type': 'application/json', host: `attacker.example:${port}` }, JSON.stringify(incomeRequest)), 403, 'BERTH_ERR_HOST_NOT_ALLOWED');
    for (const h of [`localhost:${port}`, `127.0.0.1:${port}`]) assert.equal((await send(s.url, 'GET', '/api/alerts', { host: h })).status, 200, h);
    // Probes keep working whatever name they use.
    assert.equal((await send(s.url, 'GET', '/v2/health/live', { host: 'pod-10-0-0-7:8000' })).status, 200);
  });

  await t.test('Content-Type: json → 415 naming the header and the accepted types; simple types refused', async () => {
    const r = await send(s.url, 'POST', '/v2/models/income/infer', { host, 'content-type': 'json' }, JSON.stringify(incomeRequest));
    assertError(r, 415, 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', "Content-Type 'json'", 'application/json');
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded']) {
      assertError(await send(s.url, 'POST', '/v2/models/income/infer', { host, 'content-type': ct }, JSON.stringify(incomeRequest)), 415, 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', ct, 'application/json');
      assertError(await send(s.url, 'POST', '/v2/models/income/feedback', { host, 'content-type': ct }, '{"id":"a","label":1}'), 415, 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', ct);
    }
    assertError(await send(s.url, 'POST', '/v2/models/income/infer', { host }, JSON.stringify(incomeRequest)), 415, 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type header missing');
    assert.equal((await send(s.url, 'POST', '/v2/repository/index', { host })).status, 200, 'a bodyless control request needs no Content-Type');
  });

  await t.test('no Host → JSON 400', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), '127.0.0.1', () => sock.write('GET /v2 HTTP/1.1\r\nConnection: close\r\n\r\n'));
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString('utf8')));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /content-type: application\/json/i);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    assert.equal(body.code, 'BERTH_ERR_MISSING_HOST');
    assert.match(body.error, /Host header/);
  });
});

test('no absolute paths in bodies: model load errors and ONNX Runtime failures say what, not where', async (t) => {
  const repo = makeRepository([{ name: 'income', file: INCOME }]);
  mkdirSync(join(repo, 'broken', '1'), { recursive: true });
  writeFileSync(join(repo, 'broken', '1', 'model.onnx'), Buffer.from('not an onnx model'));
  mkdirSync(join(repo, 'reshape', '1'), { recursive: true });
  writeFileSync(join(repo, 'reshape', '1', 'model.onnx'), reshapeModel());
  const s = await startServer({ repo });
  t.after(() => s.close());
  const host = new URL(s.url).host;
  const answers: [string, Answer][] = [];
  const ask = async (what: string, method: string, path: string, body?: unknown): Promise<Answer> => {
    const r = await send(s.url, method, path, body === undefined ? { host } : { host, 'content-type': 'application/json' }, body === undefined ? undefined : JSON.stringify(body));
    answers.push([what, r]);
    return r;
  };
  const index = await ask('repository index', 'POST', '/v2/repository/index', {});
  const broken = (index.json as { name: string; reason: string }[]).find((e) => e.name === 'broken');
  assert.ok(broken !== undefined && broken.reason.includes('broken/1/model.onnx'), `the reason still names the file, relative: ${broken?.reason}`);
  await ask('/api/models', 'GET', '/api/models');
  await ask('dashboard page', 'GET', '/');
  await ask('infer on a broken model', 'POST', '/v2/models/broken/infer', incomeRequest);
  await ask('ready of a broken model', 'GET', '/v2/models/broken/ready');
  await ask('load of a broken model', 'POST', '/v2/repository/models/broken/load', {});
  const ort = await ask('ONNX Runtime failure', 'POST', '/v2/models/reshape/infer', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }, { name: 's', shape: [2], datatype: 'INT64', data: [3, 3] }] });
  assert.ok(ort.status >= 400, ort.text);
  assert.match(ort.json.error, /cannot be reshaped to the requested shape/, 'the condition is kept');
  for (const [what, r] of answers) {
    assert.ok(!r.text.includes(repo), `${what}: ${r.text.slice(0, 300)} contains the repository path`);
    assert.ok(!/onnxruntime\/core|\.cc:\d+|\.h:\d+/.test(r.text), `${what}: ${r.text.slice(0, 300)} contains an ONNX Runtime source location`);
  }
});

test('no "undefined undefined" in messages about malformed bodies', async (t) => {
  const s = await startServer({ models: [{ name: 'income', file: INCOME }] });
  t.after(() => s.close());
  const host = new URL(s.url).host;
  const input = incomeRequest.inputs[0];
  const fields = ['name', 'shape', 'datatype', 'data', 'parameters'];
  const bodies: unknown[] = [{}, { inputs: null }, { inputs: [{}] }, { inputs: [null] }, { id: null, inputs: [input] }, { outputs: [{}] }, { inputs: [input], outputs: [{ name: 'label', parameters: { binary_data: null } }] }, { inputs: [input], parameters: { timeout: null } }];
  // Every field of an input left out, then set to each JSON kind.
  for (const f of fields) {
    const { [f]: _dropped, ...rest } = input;
    bodies.push({ inputs: [rest] });
    for (const v of [null, true, 1, 'x', [], {}]) bodies.push({ inputs: [{ ...input, [f]: v }] });
  }
  for (const v of [null, true, 1, 'x', [], {}]) bodies.push({ inputs: [input], id: v }, { inputs: [input], outputs: v }, { inputs: [input], parameters: v }, { inputs: [input], outputs: [{ name: v }] });
  const feedback: unknown[] = [{}, { id: 'a' }, { label: 1 }, { feedback: [{}] }, { feedback: [{ id: 'a' }] }, { id: 'a', label: null }, { id: 'a', label: 1, time: null }];
  let errors = 0;
  for (const [path, list] of [['/v2/models/income/infer', bodies], ['/v2/models/income/feedback', feedback], ['/v2/repository/index', [{ ready: null }, { ready: 'yes' }]]] as const) {
    for (const b of list) {
      const r = await send(s.url, 'POST', path, { host, 'content-type': 'application/json' }, JSON.stringify(b));
      if (r.status < 400) continue;
      errors += 1;
      assert.equal(typeof r.json?.error, 'string', r.text);
      assert.ok(!r.json.error.includes('undefined undefined'), `${path} ${JSON.stringify(b)}: ${r.json.error}`);
      assert.ok(!/\bgot undefined\b/.test(r.json.error), `${path} ${JSON.stringify(b)}: ${r.json.error}`);
    }
  }
  assert.ok(errors >= 60, `malformed bodies answered with errors: ${errors}`);
});
