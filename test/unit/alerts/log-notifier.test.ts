import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { resolveAlertRules } from '../../../src/monitoring/alerts/config.js';
import { AlertEngine } from '../../../src/monitoring/alerts/engine.js';
import { LogNotifier } from '../../../src/monitoring/alerts/log-notifier.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeClock, MIN, T0, sample } from './helpers.js';

test('the log notifier writes one line per transition (firing: warn, critical: error, resolved: info), none for repeats', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger('info', sink);
  const clock = new FakeClock();
  const engine = new AlertEngine({
    rules: resolveAlertRules([
      { name: 'HighLatency', signal: 'latency_p95_ms', op: '>', threshold: 100, severity: 'warning', annotations: { summary: 'p95 {{ $value }} ms' } },
      { name: 'HighErrorRate', signal: 'error_rate', op: '>', threshold: 0.05, severity: 'critical' },
    ]),
    clock,
    notifiers: [new LogNotifier({ logger })],
    repeatIntervalMs: MIN,
    groupBy: ['alertname'],
  });
  engine.evaluate([sample('latency_p95_ms', 150, 'income', '1'), sample('error_rate', 0.2)]);
  clock.at(MIN);
  engine.evaluate([sample('latency_p95_ms', 150, 'income', '1'), sample('latency_p95_ms', 180, 'income', '2'), sample('error_rate', 0.2)]); // a repeat for errors, income/2 fires
  clock.at(2 * MIN);
  engine.evaluate([sample('error_rate', 0.2)]);
  const got = lines.map((l) => [l.level, l.msg]);
  assert.deepEqual(got, [
    [40, 'alert firing: HighLatency (income version 1): p95 150 ms'],
    [50, 'alert firing: HighErrorRate (income version 1): value 0.2'],
    [40, 'alert firing: HighLatency (income version 2): p95 180 ms'],
    [30, 'alert resolved: HighLatency (income version 1): p95 150 ms'],
    [30, 'alert resolved: HighLatency (income version 2): p95 180 ms'],
  ]);
  const first = lines[0]!.alert as Record<string, unknown>;
  assert.equal(first.alertname, 'HighLatency');
  assert.equal(first.status, 'firing');
  assert.equal(first.startsAt, new Date(T0).toISOString());
  assert.match(first.fingerprint as string, /^[0-9a-f]{16}$/);
  assert.equal((lines[3]!.alert as Record<string, unknown>).endsAt, new Date(T0 + 2 * MIN).toISOString());
});
