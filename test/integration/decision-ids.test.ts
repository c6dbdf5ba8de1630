/**
 * Regression (issue 9, id claiming): anyone could log a decision under an id another client
 * would use later; the real decision was then dropped as a duplicate and its label attached to
 * the impostor's. With API tokens, client ids are scoped by token (`<token>:<id>`); with
 * `monitoring.decisionIds: server` the server issues ids nobody knows in advance.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256Hex } from '../../src/security/tokens.js';
import { EXAMPLES, startServer } from '../helpers/server.js';
import { readJson, waitFor } from '../helpers/v2.js';

const INCOME = join(EXAMPLES, 'income/1/model.onnx');
// One row: a request of n > 1 rows logs n decisions `<id>/<row>` (covered by the batched-feedback test).
const twoRows = readJson('examples/requests/income.json') as { inputs: { shape: number[]; data: number[] }[] };
const incomeRequest: Record<string, unknown> = { inputs: twoRows.inputs.map((t) => ({ ...t, shape: [1, t.shape[1]!], data: t.data.slice(0, t.shape[1]!) })) };
const tokenOf = (name: string): string => `${name}-token-0123456789abcdef`;
const tokenConfig = (name: string, scopes: string[]) => ({ name, sha256: sha256Hex(tokenOf(name)), scopes });

async function post(url: string, path: string, body: unknown, token?: string): Promise<{ status: number; headers: Headers; json: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${tokenOf(token)}`;
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

async function decisions(url: string, id: string, token?: string): Promise<any[]> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${tokenOf(token)}` };
  const res = await fetch(`${url}/api/predictions?model=income&id=${encodeURIComponent(id)}`, { headers });
  assert.equal(res.status, 200);
  return ((await res.json()) as { predictions: any[] }).predictions;
}

test('id claiming: with API tokens a client id is scoped by token, so an id logged in advance by another token neither drops the real decision nor takes its label', async (t) => {
  const s = await startServer({
    models: [{ name: 'income', file: INCOME }],
    config: { auth: { tokens: [tokenConfig('app', ['infer', 'feedback', 'read']), tokenConfig('evil', ['infer', 'feedback'])] } },
  });
  t.after(() => s.close());
  const claimed = await post(s.url, '/v2/models/income/infer', { ...incomeRequest, id: 'order-7' }, 'evil');
  assert.equal(claimed.status, 200, JSON.stringify(claimed.json));
  assert.equal(claimed.json.id, 'order-7', 'the protocol id is echoed as sent');
  assert.equal(claimed.json.parameters.decision_id, 'evil:order-7');
  const real = await post(s.url, '/v2/models/income/infer', { ...incomeRequest, id: 'order-7' }, 'app');
  assert.equal(real.status, 200);
  assert.equal(real.json.id, 'order-7');
  assert.equal(real.json.parameters.decision_id, 'app:order-7');
  assert.equal(real.headers.get('berth-decision-id'), 'app:order-7');
  // Both decisions are stored, each under its own scoped id.
  await waitFor('both decisions stored', async () => (await decisions(s.url, 'app:order-7', 'app')).length === 1 && (await decisions(s.url, 'evil:order-7', 'app')).length === 1, 10_000);
  // The app labels the id its response named; the impostor's decision stays unlabelled.
  const fb = await post(s.url, '/v2/models/income/feedback', { id: real.json.parameters.decision_id, label: '>50K' }, 'app');
  assert.equal(fb.status, 200, JSON.stringify(fb.json));
  assert.equal((await decisions(s.url, 'app:order-7', 'app'))[0].label, '>50K');
  assert.equal((await decisions(s.url, 'evil:order-7', 'app'))[0].label ?? null, null);
  // The bare client id is no decision.
  assert.equal((await post(s.url, '/v2/models/income/feedback', { id: 'order-7', label: '>50K' }, 'app')).status, 404);
});

test('id claiming: monitoring.decisionIds server issues every decision id, which the response carries; the client id is only echoed', async (t) => {
  const s = await startServer({ models: [{ name: 'income', file: INCOME }], config: { monitoring: { decisionIds: 'server' } } });
  t.after(() => s.close());
  const a = await post(s.url, '/v2/models/income/infer', { ...incomeRequest, id: 'order-8' });
  const b = await post(s.url, '/v2/models/income/infer', { ...incomeRequest, id: 'order-8' });
  for (const r of [a, b]) {
    assert.equal(r.status, 200);
    assert.equal(r.json.id, 'order-8');
    assert.match(r.json.parameters.decision_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7');
    assert.equal(r.headers.get('berth-decision-id'), r.json.parameters.decision_id);
  }
  assert.notEqual(a.json.parameters.decision_id, b.json.parameters.decision_id, 'the same client id twice: two decisions');
  await waitFor('both decisions stored', async () => (await decisions(s.url, a.json.parameters.decision_id)).length === 1 && (await decisions(s.url, b.json.parameters.decision_id)).length === 1, 10_000);
  assert.equal((await post(s.url, '/v2/models/income/feedback', { id: 'order-8', label: '<=50K' })).status, 404, 'a client id cannot be labelled');
  assert.equal((await post(s.url, '/v2/models/income/feedback', { id: b.json.parameters.decision_id, label: '<=50K' })).status, 200);
  // Without a client id, the one id the server assigned is both the protocol id and the decision id.
  const c = await post(s.url, '/v2/models/income/infer', { inputs: incomeRequest.inputs });
  assert.equal(c.json.parameters, undefined);
  assert.equal(c.headers.get('berth-decision-id'), c.json.id);
});
