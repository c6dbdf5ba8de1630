/**
 * TLS serves: HTTPS on loopback from a self-signed certificate made here by openssl, and the
 * certificate settings checked at start-up with messages naming them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { isBerthError } from '../../src/errors.js';
import { silentLogger } from '../../src/logging/logger.js';
import { buildApp } from '../../src/server/app.js';
import { EXAMPLES, startServer } from '../helpers/server.js';
import { readJson } from '../helpers/v2.js';

const INCOME = join(EXAMPLES, 'income/1/model.onnx');
const incomeRequest = readJson('examples/requests/income.json');

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

function httpsRequest(url: string, ca: Buffer, method: string, body?: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('TLS serves: HTTPS on loopback with a self-signed certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = selfSigned(dir, 'server');
  const s = await startServer({ models: [{ name: 'income', file: INCOME }], config: { server: { tls: { cert, key } } } });
  t.after(() => s.close());
  assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = readFileSync(cert);
  const meta = await httpsRequest(`${s.url}/v2`, ca, 'GET');
  assert.equal(meta.status, 200);
  assert.equal(meta.json.name, 'berth');
  const r = await httpsRequest(`${s.url}/v2/models/income/infer`, ca, 'POST', JSON.stringify(incomeRequest));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.model_name, 'income');
  // The certificate is checked by the client: another CA is refused.
  const other = selfSigned(dir, 'other');
  await assert.rejects(httpsRequest(`${s.url}/v2`, readFileSync(other.cert), 'GET'), /self[- ]signed|unable to verify|certificate/i);
  // Plain HTTP to the TLS port gets no answer.
  await assert.rejects(fetch(`${s.url.replace('https:', 'http:')}/v2`));
});

test('TLS settings are checked at start-up, naming the setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-tls-bad-'));
  try {
    const a = selfSigned(dir, 'a');
    const b = selfSigned(dir, 'b');
    const attempt = (tls: Record<string, string>): string => {
      const config = loadConfig({ env: {}, flags: { server: { host: '127.0.0.1', port: 0, tls }, repository: { path: dir, pollIntervalMs: 0 }, runtime: { workers: 1 } } });
      try {
        buildApp(config, { logger: silentLogger(), defaultMetrics: false });
      } catch (e) {
        assert.ok(isBerthError(e, 'BERTH_ERR_TLS'), String(e));
        return e.message;
      }
      assert.fail('expected BERTH_ERR_TLS');
    };
    assert.match(attempt({ cert: a.cert }), /server\.tls\.key \(--tls-key\) is missing/);
    assert.match(attempt({ cert: join(dir, 'nope.crt'), key: a.key }), /server\.tls\.cert \(--tls-cert\) .*nope\.crt: cannot read/);
    assert.match(attempt({ cert: a.cert, key: b.key }), /not a valid PEM pair/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
