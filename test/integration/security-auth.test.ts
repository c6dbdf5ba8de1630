/**
 * Access control over real HTTP on loopback: scoped tokens (401/403/200 per scope per route
 * class), the open classes, the deprecated repository token, refusing to listen beyond
 * loopback without tokens, per-token rate limits and the connection limit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { isBerthError } from '../../src/errors.js';
import { silentLogger } from '../../src/logging/logger.js';
import { sha256Hex } from '../../src/security/tokens.js';
import { buildApp } from '../../src/server/app.js';
import { EXAMPLES, makeRepository, ROOT, startServer } from '../helpers/server.js';
import { readJson, waitFor } from '../helpers/v2.js';

const INCOME = join(EXAMPLES, 'income/1/model.onnx');
const incomeRequest = readJson('examples/requests/income.json');
const SCOPES = ['infer', 'feedback', 'read', 'admin'] as const;
const tokenOf = (name: string): string => `${name}-token-0123456789abcdef`;
const tokenConfig = (name: string, scopes: string[], extra: Record<string, unknown> = {}) => ({ name, sha256: sha256Hex(tokenOf(name)), scopes, ...extra });

interface Answer {
  status: number;
  headers: Headers;
  json: any;
}

async function call(url: string, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, json };
}

/** One request per route class; `scope` is what a token needs for it (undefined: open). */
const ROUTE_CLASSES: { what: string; scope: (typeof SCOPES)[number] | undefined; method: string; path: string; body?: unknown; ok: number[] }[] = [
  { what: 'infer', scope: 'infer', method: 'POST', path: '/v2/models/income/infer', body: incomeRequest, ok: [200] },
  // An id never logged: 404 means the request got past authentication.
  { what: 'feedback', scope: 'feedback', method: 'POST', path: '/v2/models/income/feedback', body: { id: 'never-logged', label: 1 }, ok: [404] },
  { what: 'read: /api/predictions', scope: 'read', method: 'GET', path: '/api/predictions?model=income', ok: [200] },
  { what: 'read: /api/models', scope: 'read', method: 'GET', path: '/api/models', ok: [200] },
  { what: 'admin: load', scope: 'admin', method: 'POST', path: '/v2/repository/models/income/load', body: {}, ok: [200] },
  { what: 'metadata', scope: undefined, method: 'GET', path: '/v2/models/income', ok: [200] },
  { what: 'metadata: index', scope: undefined, method: 'POST', path: '/v2/repository/index', body: {}, ok: [200] },
  { what: 'metrics', scope: undefined, method: 'GET', path: '/metrics', ok: [200] },
  { what: 'dashboard', scope: undefined, method: 'GET', path: '/', ok: [200] },
  { what: 'health', scope: undefined, method: 'GET', path: '/v2/health/ready', ok: [200] },
];

test('scopes: 401/403/200 per scope per route class', async (t) => {
  const s = await startServer({
    models: [{ name: 'income', file: INCOME }],
    config: { auth: { tokens: [...SCOPES.map((sc) => tokenConfig(sc, [sc])), tokenConfig('all', [...SCOPES])] } },
  });
  t.after(() => s.close());
  for (const route of ROUTE_CLASSES) {
    await t.test(route.what, async () => {
      const none = await call(s.url, route.method, route.path, undefined, route.body);
      if (route.scope === undefined) {
        assert.ok(route.ok.includes(none.status), `${route.what} without a token: ${none.status} ${JSON.stringify(none.json).slice(0, 200)}`);
      } else {
        assert.equal(none.status, 401, JSON.stringify(none.json));
        assert.equal(none.json.code, 'BERTH_ERR_UNAUTHORIZED');
        assert.match(none.json.error, new RegExp(`scope '${route.scope}'.*Authorization: Bearer`));
        assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      }
      for (const sc of SCOPES) {
        const r = await call(s.url, route.method, route.path, tokenOf(sc), route.body);
        if (route.scope === undefined || route.scope === sc) {
          assert.ok(route.ok.includes(r.status), `${route.what} with scope ${sc}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
        } else {
          assert.equal(r.status, 403, `${route.what} with scope ${sc}: ${JSON.stringify(r.json)}`);
          assert.equal(r.json.code, 'BERTH_ERR_INSUFFICIENT_SCOPE');
          assert.match(r.json.error, new RegExp(`token '${sc}' lacks scope '${route.scope}'`));
        }
      }
      const all = await call(s.url, route.method, route.path, tokenOf('all'), route.body);
      assert.ok(route.ok.includes(all.status), `${route.what} with every scope: ${all.status}`);
    });
  }

  await t.test('an unknown or malformed token is 401 everywhere but health', async () => {
    for (const path of ['/v2/models/income', '/api/models']) {
      const r = await call(s.url, 'GET', path, 'not-a-known-token-000000000');
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 'BERTH_ERR_UNAUTHORIZED');
      assert.match(String(r.headers.get('www-authenticate')), /invalid_token/);
    }
    const basic = await fetch(`${s.url}/v2/models/income`, { headers: { authorization: 'Basic YTpi' } });
    assert.equal(basic.status, 401);
    assert.equal((await call(s.url, 'GET', '/v2/health/live', 'not-a-known-token-000000000')).status, 200);
  });
});

test('scopes: a public class taken out of auth.public needs a token of any scope; the repository token still counts as admin', async (t) => {
  const legacy = 'legacy-repository-token-0001';
  const s = await startServer({
    models: [{ name: 'income', file: INCOME }],
    config: { auth: { public: ['dashboard'], tokens: [tokenConfig('infer', ['infer'])] }, repository: { api: { token: legacy } } },
  });
  t.after(() => s.close());
  const meta = await call(s.url, 'GET', '/v2/models/income');
  assert.equal(meta.status, 401);
  assert.match(meta.json.error, /any scope/);
  assert.equal((await call(s.url, 'GET', '/v2/models/income', tokenOf('infer'))).status, 200);
  assert.equal((await call(s.url, 'GET', '/metrics')).status, 401);
  assert.equal((await call(s.url, 'GET', '/')).status, 200, 'the dashboard page stays open');
  assert.equal((await call(s.url, 'POST', '/v2/repository/models/income/load', legacy, {})).status, 200, 'repository token as admin');
  assert.equal((await call(s.url, 'POST', '/v2/models/income/infer', legacy, incomeRequest)).status, 403, 'and only admin');
});

test('non-loopback without tokens refuses to start; --insecure starts with repository control still refused', async (t) => {
  const repo = makeRepository([{ name: 'income', file: INCOME }]);
  const config = (extra: Record<string, unknown>) => loadConfig({ env: {}, flags: { server: { host: '0.0.0.0', port: 0 }, repository: { path: repo, pollIntervalMs: 0 }, runtime: { workers: 1 }, logging: { level: 'silent' }, ...extra } });
  let err: unknown;
  try {
    buildApp(config({}), { logger: silentLogger(), defaultMetrics: false });
  } catch (e) {
    err = e;
  }
  assert.ok(isBerthError(err, 'BERTH_ERR_EXPOSED_WITHOUT_AUTH'), String(err));
  assert.match(err.message, /refusing to listen on 0\.0\.0\.0 without API tokens.*auth\.tokens.*--insecure/);

  // The command says the same and exits 2 (no listening socket was ever opened).
  const cli = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--repository', repo, '--host', '0.0.0.0', '--port', '0'], { encoding: 'utf8', env: { ...process.env, BERTH_PORT: '', BERTH_HOST: '' } });
  assert.equal(cli.status, 2, cli.stderr);
  assert.match(cli.stderr, /refusing to listen on 0\.0\.0\.0 without API tokens/);

  // 127.0.0.2 is this machine, but not an address Berth treats as loopback.
  const s = await startServer({ repo, config: { server: { host: '127.0.0.2' }, auth: { insecure: true } } });
  t.after(() => s.close());
  assert.equal((await call(s.url, 'POST', '/v2/models/income/infer', undefined, incomeRequest)).status, 200);
  const unload = await call(s.url, 'POST', '/v2/repository/models/income/unload', undefined, {});
  assert.equal(unload.status, 403);
  assert.match(unload.json.error, /needs a token when the server listens beyond loopback/);
});

test('rate limit: 429 with Retry-After and a JSON body, counted per token, else per address', async (t) => {
  const s = await startServer({
    models: [{ name: 'income', file: INCOME }],
    // A window far longer than the test, so no count resets while it runs.
    config: { server: { rateLimit: { max: 4, timeWindowMs: 3_600_000 } }, auth: { tokens: [tokenConfig('small', ['read'], { rateLimit: 2 }), tokenConfig('big', ['read'])] } },
  });
  t.after(() => s.close());
  const statuses = async (token: string | undefined, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await call(s.url, 'GET', '/v2/models/income', token)).status);
    return out;
  };
  assert.deepEqual(await statuses(tokenOf('small'), 3), [200, 200, 429], 'the token\'s own limit');
  const limited = await call(s.url, 'GET', '/v2/models/income', tokenOf('small'));
  assert.equal(limited.json.code, 'BERTH_ERR_RATE_LIMITED');
  assert.match(limited.json.error, /token 'small' may send 2 requests per 3600 s/);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1, `Retry-After: ${limited.headers.get('retry-after')}`);
  assert.deepEqual(await statuses(tokenOf('big'), 5), [200, 200, 200, 200, 429], 'another token has its own count (server.rateLimit.max)');
  assert.deepEqual(await statuses(undefined, 5), [200, 200, 200, 200, 429], 'without a token: by address');
  assert.equal((await call(s.url, 'GET', '/v2/health/live')).status, 200, 'health is never limited');
});

test('connection limit: connections beyond server.maxConnections are closed', async (t) => {
  const s = await startServer({ models: [{ name: 'income', file: INCOME }], config: { server: { maxConnections: 2 } } });
  t.after(() => s.close());
  const port = Number(new URL(s.url).port);
  const open = (): Promise<Socket> => new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
  });
  /** Sends one keep-alive request; resolves with the status line, or undefined when the server closed the connection. */
  const ask = (sock: Socket): Promise<string | undefined> => new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('utf8');
      if (text.includes('\r\n\r\n')) {
        sock.off('data', onData);
        resolve(text.split('\r\n')[0]);
      }
    };
    sock.on('data', onData);
    sock.once('close', () => resolve(undefined));
    sock.once('error', () => resolve(undefined));
    sock.write(`GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  });
  const a = await open();
  const b = await open();
  t.after(() => {
    a.destroy();
    b.destroy();
  });
  assert.match(String(await ask(a)), /200/);
  assert.match(String(await ask(b)), /200/);
  const c = await open();
  assert.equal(await ask(c), undefined, 'the third connection is closed without an answer');
  c.destroy();
  a.destroy();
  // Once one is gone a new connection is served (the server counts closes as they are seen).
  await waitFor('a connection accepted again', async () => {
    const d = await open().catch(() => undefined);
    if (d === undefined) return false;
    const line = await ask(d);
    d.destroy();
    return line !== undefined && line.includes('200');
  });
});
