/**
 * The dashboard end to end: a real server with the `income` example (and its reference
 * profile) under concurrent load with ground-truth feedback, the page opened in Debian's
 * headless Chromium through playwright-core. Checks that the page loads without console
 * errors or failed requests and talks to no other host, the models table, the charts drawn
 * from the time series, an alert that fires, drift worst first, live accuracy with its
 * estimate, and the decision-log browser; writes full-page screenshots for a person to look
 * at (the OS temp dir, and $BERTH_SCREENSHOT_DIR when set). Run: node scripts/test.mjs test/e2e
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { EXAMPLES, ROOT, startServer, type TestServer } from '../helpers/server.js';
import { LoadGenerator, readIncomeRows } from './load.js';

const CHROMIUM = process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium';
// These flags matter on a machine without network: no first-run, sync, component or QUIC traffic.
const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 20_000;

/** Console errors, uncaught exceptions, failed or refused requests, requests to other hosts. */
function watch(page: Page, origin: string): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) problems.push(`request to another host: ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  return problems;
}

/** Polls `check` until it holds; fails with `what` and the last value seen. */
async function until(what: string, check: () => Promise<boolean | string>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: boolean | string = false;
  for (;;) {
    last = await check();
    if (last === true) return;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${typeof last === 'string' ? ` (last seen: ${last})` : ''}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Points a chart drew (the data-drawn-points attribute its uPlot draw hook sets). */
async function drawn(page: Page, chart: string): Promise<number> {
  return Number(await page.locator(`[data-chart="${chart}"]`).getAttribute('data-drawn-points', { timeout: 1000 }).catch(() => null) ?? 0);
}

/** The data-* attributes of every element the selector matches, read at one instant (the page redraws every second). */
async function rowData(page: Page, selector: string): Promise<Record<string, string>[]> {
  return page.evaluate(`[...document.querySelectorAll(${JSON.stringify(selector)})].map((el) => ({ ...el.dataset }))`) as Promise<Record<string, string>[]>;
}

let screenshotDirs: string[] | undefined;

/** One new folder under the OS temp dir per run, and $BERTH_SCREENSHOT_DIR when set. */
function screenshotPaths(name: string): string[] {
  if (screenshotDirs === undefined) {
    screenshotDirs = [mkdtempSync(join(tmpdir(), 'berth-dashboard-'))];
    const extra = process.env.BERTH_SCREENSHOT_DIR;
    if (extra !== undefined && extra !== '') {
      mkdirSync(extra, { recursive: true });
      screenshotDirs.push(extra);
    }
  }
  return screenshotDirs.map((d) => join(d, name));
}

async function screenshot(page: Page, name: string, log: (msg: string) => void): Promise<void> {
  // From the top, so the sticky header sits where a person would see it.
  await page.evaluate('window.scrollTo(0, 0)');
  for (const path of screenshotPaths(name)) {
    await page.screenshot({ path, fullPage: true });
    log(`screenshot: ${path}`);
  }
}

/**
 * A server over a copy of the examples' `income` model (or none), its decision log in a
 * temporary data directory; both removed when the test ends.
 */
async function incomeServer(t: { after: (fn: () => Promise<void>) => void }, config: Record<string, unknown>, withIncome = true): Promise<TestServer> {
  const repo = mkdtempSync(join(tmpdir(), 'berth-e2e-repo-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-e2e-data-'));
  if (withIncome) cpSync(join(EXAMPLES, 'income'), join(repo, 'income'), { recursive: true });
  const server = await startServer({ repo, config: { ...config, store: { dataDir } } });
  t.after(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  return server;
}

test('the page and its files: content types, cache headers, a complete module graph', async (t) => {
  const server = await incomeServer(t, {}, false);
  const http = server.app.http;
  const page = await http.inject({ method: 'GET', url: '/' });
  assert.equal(page.statusCode, 200);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(page.headers['cache-control'], 'no-cache');
  assert.match(String(page.headers['content-security-policy']), /connect-src 'self'/);
  const entry = /<script type="module" src="(\/dashboard\/([0-9a-f]{12})\/)main\.js">/.exec(page.body);
  assert.ok(entry !== null, 'the page loads main.js from /dashboard/<build>/');
  const [, base, build] = entry;
  const css = [...page.body.matchAll(/href="(\/dashboard\/[^"]+)"/g)].map((m) => m[1]!);
  assert.ok(css.some((h) => h.endsWith('vendor/uPlot.min.css')) && css.some((h) => h.endsWith('dashboard.css')) && css.some((h) => h.endsWith('favicon.svg')));

  // Every module main.js imports, transitively, is served as JavaScript and cached for good.
  const seen = new Set<string>();
  const queue = [`${base}main.js`];
  while (queue.length > 0) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    const r = await http.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 200, url);
    assert.equal(r.headers['content-type'], 'text/javascript; charset=utf-8', url);
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable', url);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', url);
    for (const m of r.body.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)) queue.push(new URL(m[1]!, `http://x${url}`).pathname);
    // The SVG namespace is a name, never fetched.
    if (!url.includes('/vendor/')) assert.ok(!/https?:\/\//.test(r.body.replaceAll('http://www.w3.org/2000/svg', '')), `${url} names no other host`);
  }
  assert.ok(seen.has(`${base}vendor/uPlot.esm.js`) && seen.has(`${base}charts.js`) && seen.has(`${base}decisions.js`), [...seen].join(', '));
  for (const url of css) {
    const r = await http.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 200, url);
    assert.match(String(r.headers['content-type']), url.endsWith('.svg') ? /^image\/svg\+xml/ : /^text\/css; charset=utf-8/, url);
  }

  const js = await http.inject({ method: 'GET', url: `${base}main.js` });
  const etag = String(js.headers.etag);
  assert.equal((await http.inject({ method: 'GET', url: `${base}main.js`, headers: { 'if-none-match': etag } })).statusCode, 304);
  // A page from before a restart (another build) still gets the file, but not cached for good.
  const old = await http.inject({ method: 'GET', url: `/dashboard/000000000000/main.js` });
  assert.equal(old.statusCode, 200);
  assert.equal(old.headers['cache-control'], 'no-cache');
  assert.notEqual(build, '000000000000');
  const missing = await http.inject({ method: 'GET', url: `${base}nope.js` });
  assert.equal(missing.statusCode, 404);
  assert.equal(JSON.parse(missing.body).code, 'BERTH_ERR_NOT_FOUND');
  assert.equal((await http.inject({ method: 'GET', url: `${base}../routes.ts` })).statusCode, 404);
});

test('the charts ask for the series the monitor writes, and docs/dashboard.md names them all', async () => {
  // The browser module that lists the charts (it imports nothing, so Node loads it as is).
  const chartsModule: string = join(ROOT, 'src/dashboard/public/chart-specs.js');
  const { CHART_SPECS } = (await import(chartsModule)) as { CHART_SPECS: { id: string; series: { metric?: string }[] }[] };
  const charted = new Set(CHART_SPECS.flatMap((c) => c.series.map((s) => s.metric)).filter((m): m is string => m !== undefined));
  charted.add('drift_effect'); // the drift-features chart, keyed by column
  const written = new Set([...readFileSync(join(ROOT, 'src/monitoring/monitor.ts'), 'utf8').matchAll(/point\('([a-z0-9_]+)'/g)].map((m) => m[1]!));
  assert.deepEqual([...charted].sort(), [...written].sort(), 'every series the monitor writes is charted, and only those');
  const doc = readFileSync(join(ROOT, 'docs/dashboard.md'), 'utf8');
  for (const m of written) assert.ok(doc.includes(`\`${m}\``), `docs/dashboard.md names the series ${m}`);
});

describe('dashboard in headless Chromium', () => {
  let browser: BrowserContext;
  let profile: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium; .ci/run installs it) or set BERTH_CHROMIUM`);
    profile = mkdtempSync(join(tmpdir(), 'berth-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1000 },
      timeout: 30_000,
    });
  });

  after(async () => {
    await browser?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  test('under load: models, charts, a firing alert, drift worst first, live accuracy and the decision log', { timeout: 60_000 }, async (t) => {
    const server = await incomeServer(t, {
      monitoring: { evaluationIntervalMs: 500, driftWindowSeconds: 2, driftMinRows: 50 },
      // Fires at the first evaluation with traffic; the second stays pending for an hour.
      models: { alerts: [
        { name: 'HighLatency', signal: 'latency_p95_ms', op: '>', threshold: 0, for: '0s', severity: 'warning' },
        { name: 'SlowLatencyCreep', signal: 'latency_p95_ms', op: '>', threshold: 0, for: '1h', severity: 'info' },
      ] },
    });
    assert.ok(existsSync(join(server.repo, 'income/1/reference.profile.json')), 'the income example ships its reference profile');

    // Older applicants than the reference data: age drifts, the rest does not.
    const load = new LoadGenerator({
      url: server.url, model: 'income', rows: readIncomeRows(ROOT), concurrency: 6, feedbackShare: 0.5,
      idPrefix: `e2e-${Date.now().toString(36)}`, multiRowEvery: 8, multiRows: 4,
      shift: (row) => { row[0] = row[0]! + 1.2; },
    });
    load.start();
    t.after(() => load.stop());

    const page = await browser.newPage();
    t.after(() => page.close());
    const problems = watch(page, server.url);

    const res = await page.goto(`${server.url}/`);
    assert.equal(res?.status(), 200);
    assert.match(res.headers()['content-security-policy'] ?? '', /default-src 'none'/);

    // Models table: income, version 1, READY.
    const incomeRow = page.locator('#models tbody tr[data-model="income"][data-version="1"]');
    await incomeRow.locator('.state', { hasText: 'READY' }).waitFor({ timeout: WAIT_MS });

    // Charts drawn from the stored time series (uPlot canvases with points).
    await until('the charts to draw points', async () => {
      const n = { throughput: await drawn(page, 'throughput'), latency: await drawn(page, 'latency'), memory: await drawn(page, 'memory'), batch: await drawn(page, 'batch') };
      return (n.throughput >= 8 && n.latency >= 12 && n.memory >= 4 && n.batch >= 4) || JSON.stringify(n);
    });
    for (const id of ['throughput', 'latency', 'errors', 'batch', 'memory', 'accuracy', 'labelled', 'drift']) {
      assert.equal(await page.locator(`[data-chart="${id}"] canvas`).count(), 1, `chart ${id} has a canvas`);
    }

    // The alert that fires at once, above the one that stays pending.
    await page.locator('#alerts tbody tr[data-alert="HighLatency"][data-state="firing"]').waitFor({ timeout: WAIT_MS });
    await page.locator('#alerts tbody tr[data-alert="SlowLatencyCreep"][data-state="pending"]').waitFor({ timeout: WAIT_MS });
    const order = (await rowData(page, '#alerts tbody tr')).map((r) => r.state);
    assert.deepEqual([...order].sort((a, b) => ['firing', 'pending', 'resolved'].indexOf(a!) - ['firing', 'pending', 'resolved'].indexOf(b!)), order, 'firing before pending before resolved');
    assert.match(await page.locator('#alerts tbody tr[data-alert="HighLatency"]').innerText(), /p95 latency is [\d.]+ ms for income version 1/);

    // Drift: a closed window lists every column, worst first; the shifted age leads and drifted.
    await page.locator('#drift-features tbody tr[data-column]').first().waitFor({ timeout: WAIT_MS });
    const columns = (await rowData(page, '#drift-features tbody tr[data-column]'))
      .map((r) => ({ name: r.column!, ratio: Number(r.ratio), drifted: r.drifted === 'true' }));
    assert.ok(columns.length >= 10, `drift rows: ${columns.length}`);
    assert.equal(columns[0]!.name, 'age');
    assert.equal(columns[0]!.drifted, true);
    for (let i = 1; i < columns.length; i++) {
      const [a, b] = [columns[i - 1]!, columns[i]!];
      assert.ok(Number(a.drifted) > Number(b.drifted) || (a.drifted === b.drifted && a.ratio >= b.ratio), `worst first: ${a.name} before ${b.name}`);
    }
    assert.match(await page.locator('#drift-verdict').innerText(), /^Drift in the last window of [\d,]+ rows/);
    await page.locator('[data-chart="drift-features"] .u-legend', { hasText: 'age' }).waitFor({ timeout: WAIT_MS });

    // Live accuracy on labelled decisions, and the confidence-based estimate marked as one.
    await until('live accuracy in the models table', async () => {
      const text = await incomeRow.locator('td.quality').innerText();
      return /accuracy \d\.\d{3} on [\d,]+ labelled decisions? in the last 24 h/.test(text) || text;
    });
    assert.match(await incomeRow.locator('td.quality').innerText(), /estimate\s+accuracy ≈ \d\.\d{3} from the confidences of [\d,]+ recent decisions/);
    await until('the accuracy chart to draw', async () => (await drawn(page, 'accuracy')) >= 4);

    // Decision log: find one request by id, open its inputs and outputs.
    const id = load.stats.ids[5];
    assert.ok(id !== undefined, `answered requests: ${load.stats.answered}; errors: ${load.errors.join('; ')}`);
    await page.locator('#dl-id').fill(id);
    await page.locator('#dl-id').press('Enter');
    const found = page.locator(`#decisions tbody tr[data-id="${id}"]`);
    await found.waitFor({ timeout: WAIT_MS });
    await until('the id search to leave one row', async () => (await page.locator('#decisions tbody tr[data-id]').count()) === 1);
    assert.match(await found.innerText(), /success/);
    await found.getByRole('button', { name: `Inputs and outputs of ${id}` }).click();
    const details = page.locator('#decisions tbody tr.details:not([hidden]) pre');
    await details.waitFor({ timeout: WAIT_MS });
    const json = await details.innerText();
    assert.match(json, /"inputs": \[/);
    assert.match(json, /"outputs": \[/);
    assert.match(json, new RegExp(`"id": "${id}"`));

    // A rejected applicant's raw record (explain.log: adverse): its stored explanation is drawn
    // as bars, one per raw field the model uses, with the reasons and the counterfactual in words.
    const edge = JSON.parse(readFileSync(join(ROOT, 'examples/requests/income-edge.json'), 'utf8')) as { id: string };
    const answered = await fetch(`${server.url}/v1/models/income:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(edge) });
    assert.equal(answered.status, 200);
    assert.equal(((await answered.json()) as { predictions: { outcome: string }[] }).predictions[0]!.outcome, 'rejected', 'the fixture is a rejected applicant');
    await server.app.explainer!.settled();
    await server.app.decisionLog!.flush();
    await page.locator('#dl-id').fill(edge.id);
    await page.locator('#dl-id').press('Enter');
    const rejectedRow = page.locator(`#decisions tbody tr[data-id="${edge.id}"]`);
    await rejectedRow.waitFor({ timeout: WAIT_MS });
    await rejectedRow.getByRole('button', { name: `Inputs and outputs of ${edge.id}` }).click();
    const explanation = page.locator('#decisions tbody tr.details:not([hidden]) section.explanation');
    await explanation.waitFor({ timeout: WAIT_MS });
    assert.equal(await explanation.locator('svg.contributions rect').count(), 12, 'one bar per raw field the income model uses');
    assert.match(await explanation.locator('h4').innerText(), /^Why: P\(>50K\) = \d[\d.e-]* against 0\.\d+ on average \(exact Shapley values over 4096 coalitions × 16 background records\)$/);
    assert.match(await explanation.locator('ol.reasons li').first().innerText(), /lowered P\(>50K\) by/);
    assert.match(await explanation.locator('p.counterfactual').innerText(), /^would be approved with /);

    // The fairness panel (monitoring.sensitive: sex, race) lists the applicant's groups from its raw record.
    await until('the fairness panel to list the rejected applicant\'s groups', async () => (await page.locator('#fairness-groups tbody tr[data-attribute="sex"][data-group="Male"]').count()) === 1);
    assert.match(await page.locator('#fairness-summary').innerText(), /Groups under 30 decisions are shown in grey and not compared/);

    await screenshot(page, 'dashboard.png', (m) => t.diagnostic(m));

    // A narrow window: the page itself never scrolls sideways (tables scroll in their panels).
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const [scrollWidth, clientWidth] = await page.evaluate('[document.documentElement.scrollWidth, document.documentElement.clientWidth]') as [number, number];
    assert.ok(scrollWidth <= clientWidth, `page scrolls sideways at 390 px: ${scrollWidth} > ${clientWidth}`);
    await screenshot(page, 'dashboard-narrow.png', (m) => t.diagnostic(m));

    await load.stop();
    assert.equal(load.stats.failed, 0, `failed requests: ${load.errors.join('; ')}`);
    assert.deepEqual(problems, [], 'the page loads without console errors, failed requests or other hosts');
  });

  test('with monitoring switched off the page still lists the models, without errors', { timeout: 30_000 }, async (t) => {
    const server = await incomeServer(t, { monitoring: { enabled: false } });
    const page = await browser.newPage();
    t.after(() => page.close());
    const problems = watch(page, server.url);
    await page.goto(`${server.url}/`);
    await page.locator('#models tbody tr[data-model="income"] .state', { hasText: 'READY' }).waitFor({ timeout: WAIT_MS });
    await page.locator('#status', { hasText: 'Monitoring is switched off' }).waitFor({ timeout: WAIT_MS });
    assert.match(await page.locator('#decisions-summary').innerText(), /switched off/);
    await page.waitForTimeout(500);
    assert.deepEqual(problems, []);
  });
});
