/**
 * The dashboard on a server with API tokens, in Debian's headless Chromium: the page is open,
 * its data (/api/*) needs a read token; the page asks once, then every data request carries
 * the token and succeeds. Run: node scripts/test.mjs test/e2e
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { sha256Hex } from '../../src/security/tokens.js';
import { EXAMPLES, startServer } from '../helpers/server.js';

const CHROMIUM = process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TOKEN = 'dashboard-e2e-token-0123456789';

test('dashboard with API tokens: asks once for a read token, then its data requests succeed', async (t) => {
  const s = await startServer({
    models: [{ name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') }],
    config: { auth: { tokens: [{ name: 'dashboard', sha256: sha256Hex(TOKEN), scopes: ['read'] }] } },
  });
  t.after(() => s.close());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept(TOKEN);
  });
  const api: { url: string; status: number; auth: string | undefined }[] = [];
  page.on('response', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) api.push({ url: r.url(), status: r.status(), auth: r.request().headers().authorization });
  });
  const res = await page.goto(`${s.url}/`);
  assert.equal(res?.status(), 200, 'the page itself is open');
  // Wait for the condition, not for time: an authorised /api/models answer after the prompt.
  await page.waitForFunction("sessionStorage.getItem('berth.token') !== null", undefined, { timeout: 20_000 });
  const deadline = Date.now() + 20_000;
  while (!api.some((a) => a.url.includes('/api/models') && a.status === 200) && Date.now() < deadline) await page.waitForTimeout(100);
  assert.equal(dialogs.length, 1, `asked once: ${JSON.stringify(dialogs)}`);
  assert.match(dialogs[0]!, /scope 'read'/, 'the prompt says which scope');
  const okModels = api.find((a) => a.url.includes('/api/models') && a.status === 200);
  assert.ok(okModels !== undefined, JSON.stringify(api));
  assert.equal(okModels.auth, `Bearer ${TOKEN}`);
  // After the token is known no data request is refused.
  const after = api.slice(api.indexOf(okModels));
  assert.ok(after.every((a) => a.status !== 401 && a.status !== 403), JSON.stringify(after));
});
