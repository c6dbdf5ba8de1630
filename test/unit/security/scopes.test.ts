/**
 * The route → scope table is the whole truth: a route missing from it stops start-up, every
 * entry is a route the server really has, and the hooks put the caller's token name on the
 * request.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { loadConfig } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/logging/logger.js';
import { installSecurity } from '../../../src/security/hooks.js';
import { securityPolicy } from '../../../src/security/policy.js';
import { Redactor } from '../../../src/security/redact.js';
import { ROUTES } from '../../../src/security/scopes.js';
import { sha256Hex } from '../../../src/security/tokens.js';
import { buildApp } from '../../../src/server/app.js';

const TOKEN = 'scopes-test-token-000001';

function secured(config: Record<string, unknown> = {}) {
  const c = loadConfig({ env: {}, flags: { server: { host: '127.0.0.1' }, ...config } });
  const http = Fastify();
  installSecurity(http, { policy: securityPolicy(c), redactor: new Redactor([]) });
  return http;
}

describe('route access table', () => {
  test('a route missing from the table refuses to start, naming the route and the file', async () => {
    const http = secured();
    await assert.rejects(
      (async () => {
        http.get('/v2/unclassified', async () => ({}));
        await http.ready();
      })(),
      /route GET \/v2\/unclassified has no access rule: add it to ROUTES in src\/security\/scopes\.ts/,
    );
  });

  test('every entry of the table is a route the server registers, and the server starts with all of them classified', async (t) => {
    const repo = mkdtempSync(join(tmpdir(), 'berth-scopes-'));
    const data = mkdtempSync(join(tmpdir(), 'berth-scopes-data-'));
    t.after(() => {
      rmSync(repo, { recursive: true, force: true });
      rmSync(data, { recursive: true, force: true });
    });
    const config = loadConfig({ env: {}, flags: { server: { host: '127.0.0.1', port: 0 }, repository: { path: repo, pollIntervalMs: 0 }, runtime: { workers: 1 }, store: { dataDir: data } } });
    const app = buildApp(config, { logger: silentLogger(), defaultMetrics: false });
    t.after(() => app.close());
    await app.http.ready();
    for (const key of Object.keys(ROUTES)) {
      const [method, url] = key.split(' ') as [string, string];
      assert.ok(app.http.hasRoute({ method: method as 'GET', url }), `${key} is in ROUTES but not registered`);
    }
  });

  test('the principal is the token\'s name, undefined without a token', async (t) => {
    const http = secured({ auth: { tokens: [{ name: 'ci-runner', sha256: sha256Hex(TOKEN), scopes: ['read'] }] } });
    t.after(() => http.close());
    // A route from the table (metadata: open without a token) that reports who called.
    http.get('/v2', async (req) => ({ principal: req.principal ?? null }));
    const withToken = await http.inject({ url: '/v2', headers: { host: 'localhost:80', authorization: `Bearer ${TOKEN}` } });
    assert.deepEqual(withToken.json(), { principal: 'ci-runner' });
    const without = await http.inject({ url: '/v2', headers: { host: 'localhost:80' } });
    assert.deepEqual(without.json(), { principal: null });
  });
});
