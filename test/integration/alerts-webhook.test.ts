/**
 * The engine's notifications delivered over real HTTP to a webhook receiver on loopback:
 * the payload is Alertmanager's webhook format (version 4) field by field, failed deliveries
 * are retried with backoff and then given up and counted, and `evaluate` never waits.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { resolveAlertRules } from '../../src/monitoring/alerts/config.js';
import { AlertEngine } from '../../src/monitoring/alerts/engine.js';
import { fingerprint } from '../../src/monitoring/alerts/fingerprint.js';
import { registerAlertMetrics } from '../../src/monitoring/alerts/metrics.js';
import { WebhookNotifier, type WebhookNotifierOptions } from '../../src/monitoring/alerts/webhook.js';
import { FakeClock, MIN, T0, sample } from '../unit/alerts/helpers.js';

interface Received {
  at: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A webhook receiver on 127.0.0.1:0 that answers with the next status of `statuses` (then 200), or hangs. */
async function receiver(t: TestContext, statuses: (number | 'hang')[] = []) {
  const received: Received[] = [];
  const waiting: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ at: performance.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      const status = statuses.shift() ?? 200;
      for (const w of waiting.splice(0)) w();
      if (status === 'hang') return;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'receiver says no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  /** Resolves once `n` requests have arrived. */
  const until = async (n: number) => {
    while (received.length < n) await new Promise<void>((resolve) => waiting.push(resolve));
  };
  return { url: `http://127.0.0.1:${port}/hook?x=1`, received, until };
}

function notifierWith(t: TestContext, url: string, options: Partial<WebhookNotifierOptions> = {}) {
  const registry = new Registry();
  const metrics = registerAlertMetrics(registry);
  const notifier = new WebhookNotifier({ url, name: 'ops-webhook', initialBackoffMs: 20, maxBackoffMs: 1000, timeoutMs: 2000, random: () => 1, metrics, ...options });
  t.after(() => notifier.close());
  const counts = async () => Object.fromEntries((await registry.getSingleMetric('berth_alert_notifications_total')!.get()).values.map((v) => [`${v.labels.receiver}/${v.labels.outcome}`, v.value]));
  return { notifier, counts };
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function assertStringMap(v: unknown, what: string): asserts v is Record<string, string> {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `${what} is an object`);
  for (const [k, x] of Object.entries(v)) assert.equal(typeof x, 'string', `${what}.${k} is a string`);
}

/** Checks every field of an Alertmanager v4 webhook payload, types included. */
function assertAlertmanagerPayload(body: unknown): asserts body is Record<string, unknown> & { alerts: Record<string, unknown>[] } {
  assert.ok(typeof body === 'object' && body !== null);
  const p = body as Record<string, unknown>;
  assert.deepEqual(Object.keys(p).sort(), ['alerts', 'commonAnnotations', 'commonLabels', 'externalURL', 'groupKey', 'groupLabels', 'receiver', 'status', 'truncatedAlerts', 'version']);
  assert.equal(p.version, '4');
  assert.equal(typeof p.groupKey, 'string');
  assert.equal(typeof p.truncatedAlerts, 'number');
  assert.ok(p.status === 'firing' || p.status === 'resolved');
  assert.equal(typeof p.receiver, 'string');
  assert.equal(typeof p.externalURL, 'string');
  assertStringMap(p.groupLabels, 'groupLabels');
  assertStringMap(p.commonLabels, 'commonLabels');
  assertStringMap(p.commonAnnotations, 'commonAnnotations');
  assert.ok(Array.isArray(p.alerts) && p.alerts.length > 0);
  for (const a of p.alerts as Record<string, unknown>[]) {
    assert.deepEqual(Object.keys(a).sort(), ['annotations', 'endsAt', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status']);
    assert.ok(a.status === 'firing' || a.status === 'resolved');
    assertStringMap(a.labels, 'alert.labels');
    assertStringMap(a.annotations, 'alert.annotations');
    assert.match(a.startsAt as string, RFC3339);
    assert.match(a.endsAt as string, RFC3339);
    assert.equal(typeof a.generatorURL, 'string');
    assert.match(a.fingerprint as string, /^[0-9a-f]{16}$/);
    assert.equal(a.fingerprint, fingerprint(a.labels as Record<string, string>), 'fingerprint of the alert\'s labels');
  }
}

test('firing and resolved notifications arrive as Alertmanager webhook payloads (version 4), field by field', async (t) => {
  const hook = await receiver(t);
  const { notifier, counts } = notifierWith(t, hook.url, { headers: { authorization: 'Bearer s3cret' } });
  const clock = new FakeClock();
  const engine = new AlertEngine({
    rules: resolveAlertRules([
      { name: 'HighLatency', signal: 'latency_p95_ms', op: '>', threshold: 100, for: '1m', severity: 'warning', labels: { team: 'ml' }, annotations: { summary: 'p95 of {{ $labels.model }} v{{ $labels.version }} is {{ $value | printf "%.0f" }} ms', description: 'Latency is high.' } },
    ]),
    clock,
    notifiers: [notifier],
    externalUrl: 'http://berth.example:8000/',
  });
  const both = (a: number, b: number) => [sample('latency_p95_ms', a, 'income', '1'), sample('latency_p95_ms', b, 'income', '2')];
  clock.at(0);
  engine.evaluate(both(150, 250));
  clock.at(MIN);
  engine.evaluate(both(160, 260));
  await hook.until(1);

  const [first] = hook.received;
  assert.equal(first!.method, 'POST');
  assert.equal(first!.url, '/hook?x=1');
  assert.equal(first!.headers['content-type'], 'application/json');
  assert.equal(first!.headers.authorization, 'Bearer s3cret');
  const fired = first!.body;
  assertAlertmanagerPayload(fired);
  assert.equal(fired.status, 'firing');
  assert.equal(fired.receiver, 'ops-webhook');
  assert.equal(fired.groupKey, '{}:{alertname="HighLatency", model="income"}');
  assert.equal(fired.truncatedAlerts, 0);
  assert.equal(fired.externalURL, 'http://berth.example:8000');
  assert.deepEqual(fired.groupLabels, { alertname: 'HighLatency', model: 'income' });
  assert.deepEqual(fired.commonLabels, { alertname: 'HighLatency', model: 'income', severity: 'warning', team: 'ml' });
  assert.deepEqual(fired.commonAnnotations, { description: 'Latency is high.' });
  assert.deepEqual(fired.alerts, [
    {
      status: 'firing',
      labels: { alertname: 'HighLatency', model: 'income', severity: 'warning', team: 'ml', version: '1' },
      annotations: { summary: 'p95 of income v1 is 160 ms', description: 'Latency is high.' },
      startsAt: new Date(T0 + MIN).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://berth.example:8000/api/alerts',
      fingerprint: fingerprint({ alertname: 'HighLatency', model: 'income', severity: 'warning', team: 'ml', version: '1' }),
    },
    {
      status: 'firing',
      labels: { alertname: 'HighLatency', model: 'income', severity: 'warning', team: 'ml', version: '2' },
      annotations: { summary: 'p95 of income v2 is 260 ms', description: 'Latency is high.' },
      startsAt: new Date(T0 + MIN).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://berth.example:8000/api/alerts',
      fingerprint: fingerprint({ alertname: 'HighLatency', model: 'income', severity: 'warning', team: 'ml', version: '2' }),
    },
  ]);

  // Version 2 recovers: the group goes out again, v1 still firing, v2 resolved with its endsAt.
  clock.at(2 * MIN);
  engine.evaluate(both(170, 90));
  await hook.until(2);
  const partly = hook.received[1]!.body;
  assertAlertmanagerPayload(partly);
  assert.equal(partly.status, 'firing');
  assert.deepEqual(partly.alerts.map((a) => [a.status, (a.labels as Record<string, string>).version, a.endsAt]), [
    ['firing', '1', '0001-01-01T00:00:00Z'],
    ['resolved', '2', new Date(T0 + 2 * MIN).toISOString()],
  ]);
  assert.deepEqual(partly.commonAnnotations, { description: 'Latency is high.' });

  clock.at(3 * MIN);
  engine.evaluate([]);
  await hook.until(3);
  const resolved = hook.received[2]!.body;
  assertAlertmanagerPayload(resolved);
  assert.equal(resolved.status, 'resolved');
  assert.deepEqual(resolved.alerts.map((a) => [a.status, a.startsAt, a.endsAt]), [['resolved', new Date(T0 + MIN).toISOString(), new Date(T0 + 3 * MIN).toISOString()]]);
  assert.deepEqual(resolved.commonAnnotations, { summary: 'p95 of income v1 is 170 ms', description: 'Latency is high.' });

  await engine.flush();
  assert.deepEqual(await counts(), { 'ops-webhook/success': 3, 'ops-webhook/failure': 0 });
});

test('a receiver that answers 500 then 200 gets the same payload again after an exponential backoff', async (t) => {
  const hook = await receiver(t, [500, 503, 200]);
  const { notifier, counts } = notifierWith(t, hook.url, { initialBackoffMs: 40 });
  const clock = new FakeClock();
  const engine = new AlertEngine({ rules: resolveAlertRules([{ name: 'Mem', signal: 'memory_mb', op: '>', threshold: 100 }]), clock, notifiers: [notifier] });
  engine.evaluate([sample('memory_mb', 300)]);
  await notifier.flush();
  assert.equal(hook.received.length, 3);
  assert.deepEqual(hook.received[1]!.body, hook.received[0]!.body);
  assert.deepEqual(hook.received[2]!.body, hook.received[0]!.body);
  // random() = 1 pins the jitter at its top: waits of 40 ms, then 80 ms.
  const gap1 = hook.received[1]!.at - hook.received[0]!.at;
  const gap2 = hook.received[2]!.at - hook.received[1]!.at;
  assert.ok(gap1 >= 39 && gap2 >= 79, `backoff waits ${gap1.toFixed(1)} ms then ${gap2.toFixed(1)} ms`);
  assert.deepEqual(await counts(), { 'ops-webhook/success': 1, 'ops-webhook/failure': 0 });
  assert.deepEqual([notifier.backoffMs(1), notifier.backoffMs(2), notifier.backoffMs(3)], [40, 80, 160]);
});

test('a receiver that keeps failing is given up after maxAttempts and the failure is counted; a 4xx is not retried', async (t) => {
  const hook = await receiver(t, [500, 500, 500, 500, 400]);
  const { notifier, counts } = notifierWith(t, hook.url, { maxAttempts: 3, initialBackoffMs: 5 });
  const clock = new FakeClock();
  const engine = new AlertEngine({ rules: resolveAlertRules([{ name: 'Mem', signal: 'memory_mb', op: '>', threshold: 100 }]), clock, notifiers: [notifier] });
  engine.evaluate([sample('memory_mb', 300, 'a')]);
  await notifier.flush();
  assert.equal(hook.received.length, 3, 'three attempts, then given up');
  assert.deepEqual(await counts(), { 'ops-webhook/success': 0, 'ops-webhook/failure': 1 });
  hook.received.length = 0;
  engine.evaluate([sample('memory_mb', 300, 'a'), sample('memory_mb', 300, 'b')]); // b: new group; its first answer is 500, then 400
  await notifier.flush();
  assert.equal(hook.received.length, 2, 'a 500 is retried, a 400 is final');
  assert.deepEqual(await counts(), { 'ops-webhook/success': 0, 'ops-webhook/failure': 2 });
});

test('evaluate never waits for a slow receiver; attempts time out; notifications queued behind a slow one are merged', async (t) => {
  const hook = await receiver(t, ['hang', 200]);
  const { notifier, counts } = notifierWith(t, hook.url, { timeoutMs: 300, maxAttempts: 2, initialBackoffMs: 10 });
  const clock = new FakeClock();
  const engine = new AlertEngine({ rules: resolveAlertRules([{ name: 'Mem', signal: 'memory_mb', op: '>', threshold: 100 }]), clock, notifiers: [notifier], groupBy: ['alertname'] });
  let started = performance.now();
  engine.evaluate([sample('memory_mb', 300, 'a')]);
  assert.ok(performance.now() - started < 50, 'evaluate returned without waiting for the receiver');
  await hook.until(1); // the receiver holds the first request and never answers
  clock.at(MIN);
  started = performance.now();
  engine.evaluate([sample('memory_mb', 300, 'b')]); // a resolves, b fires: queued behind the hanging delivery
  clock.at(2 * MIN);
  engine.evaluate([sample('memory_mb', 300, 'b'), sample('memory_mb', 300, 'c')]); // c fires: merged into the queued one
  assert.ok(performance.now() - started < 50, 'still no waiting');
  await notifier.flush();
  // First delivery: attempt 1 hangs until the 300 ms timeout, attempt 2 gets 200. Then one merged delivery.
  assert.equal(hook.received.length, 3);
  const merged = hook.received[2]!.body;
  assertAlertmanagerPayload(merged);
  assert.deepEqual(merged.alerts.map((a) => `${(a.labels as Record<string, string>).model}:${a.status}`).sort(), ['a:resolved', 'b:firing', 'c:firing']);
  assert.deepEqual(await counts(), { 'ops-webhook/success': 2, 'ops-webhook/failure': 0 });
});

test('webhook options are checked, naming the option', () => {
  assert.throws(() => new WebhookNotifier({ url: 'not a url' }), { code: 'BERTH_ERR_ALERT_CONFIG', message: /url/ });
  assert.throws(() => new WebhookNotifier({ url: 'ftp://x/' }), { code: 'BERTH_ERR_ALERT_CONFIG', message: /http or https/ });
  assert.throws(() => new WebhookNotifier({ url: 'http://x/', maxAttempts: 0 }), { code: 'BERTH_ERR_ALERT_CONFIG', message: /maxAttempts/ });
  assert.throws(() => new WebhookNotifier({ url: 'http://x/', timeoutMs: 1.5 }), { code: 'BERTH_ERR_ALERT_CONFIG', message: /timeoutMs/ });
});
