import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { AlertEngine, holds } from '../../../src/monitoring/alerts/engine.js';
import { defaultAlertRules, resolveAlertRules } from '../../../src/monitoring/alerts/config.js';
import { fingerprint } from '../../../src/monitoring/alerts/fingerprint.js';
import { registerAlertMetrics } from '../../../src/monitoring/alerts/metrics.js';
import { FakeClock, MIN, RecordingNotifier, SEC, T0, sample, setup } from './helpers.js';

const LATENCY = { name: 'HighLatency', signal: 'latency_p95_ms', op: '>', threshold: 100, for: '1m', severity: 'warning' } as const;

test('pending → firing exactly at `for`: every 15 s, the alert fires at the first evaluation ≥ 1 min after it became active', () => {
  const { rec, evalAt } = setup([LATENCY]);
  assert.deepEqual(evalAt(0, [sample('latency_p95_ms', 80)]), [], 'below threshold: inactive');
  let s = evalAt(15 * SEC, [sample('latency_p95_ms', 150)]);
  assert.equal(s.length, 1);
  assert.equal(s[0]!.state, 'pending');
  assert.equal(s[0]!.activeAt, T0 + 15 * SEC);
  assert.equal(s[0]!.firedAt, undefined);
  for (const t of [30, 45, 60]) {
    s = evalAt(t * SEC, [sample('latency_p95_ms', 150 + t)]);
    assert.equal(s[0]!.state, 'pending', `still pending at ${t}s (held ${t - 15}s < 60s)`);
    assert.equal(s[0]!.value, 150 + t, 'value follows the latest sample');
  }
  assert.equal(rec.notifications.length, 0, 'pending alerts are not notified');
  s = evalAt(75 * SEC, [sample('latency_p95_ms', 170)]);
  assert.equal(s[0]!.state, 'firing', 'held exactly 60 s at 75 s');
  assert.equal(s[0]!.firedAt, T0 + 75 * SEC);
  assert.equal(s[0]!.activeAt, T0 + 15 * SEC);
  assert.deepEqual(rec.summary(), ['change:firing:HighLatency@income/1=firing*']);
  const a = rec.notifications[0]!.alerts[0]!;
  assert.equal(a.startsAt, T0 + 75 * SEC, 'startsAt is when it fired, as Prometheus sends it');
  assert.equal(a.endsAt, undefined);
});

test('for: 0s fires at the first evaluation; the value at the threshold does not satisfy ">"', () => {
  const { rec, evalAt } = setup([{ ...LATENCY, for: '0s' }]);
  assert.deepEqual(evalAt(0, [sample('latency_p95_ms', 100)]), []);
  const s = evalAt(10 * SEC, [sample('latency_p95_ms', 100.001)]);
  assert.equal(s[0]!.state, 'firing');
  assert.equal(s[0]!.activeAt, s[0]!.firedAt);
  assert.equal(rec.notifications.length, 1);
});

test('firing → resolved at the first evaluation where the condition fails; resolved alerts stay listed for the retention time', () => {
  const { rec, evalAt } = setup([{ ...LATENCY, for: '0s' }], { resolvedRetentionMs: 5 * MIN });
  evalAt(0, [sample('latency_p95_ms', 150)]);
  evalAt(30 * SEC, [sample('latency_p95_ms', 150)]);
  const s = evalAt(60 * SEC, [sample('latency_p95_ms', 90)]);
  assert.equal(s.length, 1);
  assert.equal(s[0]!.state, 'resolved');
  assert.equal(s[0]!.resolvedAt, T0 + 60 * SEC);
  assert.equal(s[0]!.value, 150, 'the last value that met the condition');
  assert.deepEqual(rec.summary(), ['change:firing:HighLatency@income/1=firing*', 'change:resolved:HighLatency@income/1=resolved*']);
  const r = rec.notifications[1]!.alerts[0]!;
  assert.equal(r.startsAt, T0);
  assert.equal(r.endsAt, T0 + 60 * SEC);
  assert.equal(evalAt(6 * MIN, [sample('latency_p95_ms', 90)]).length, 1, 'exactly 5 min after: still listed');
  assert.deepEqual(evalAt(6 * MIN + 1, [sample('latency_p95_ms', 90)]), [], 'after the retention time: gone');
});

test('keepFiringFor holds a firing alert after the condition stops; it resolves once held that long, and a new breach resets the hold', () => {
  const { rec, evalAt } = setup([{ ...LATENCY, for: '0s', keepFiringFor: '2m' }]);
  evalAt(0, [sample('latency_p95_ms', 150)]);
  let s = evalAt(1 * MIN, [sample('latency_p95_ms', 50)]);
  assert.equal(s[0]!.state, 'firing');
  assert.equal(s[0]!.keepFiringSince, T0 + 1 * MIN);
  s = evalAt(2 * MIN, [sample('latency_p95_ms', 50)]);
  assert.equal(s[0]!.state, 'firing', 'held 1 min of 2');
  s = evalAt(2 * MIN + 30 * SEC, [sample('latency_p95_ms', 130)]);
  assert.equal(s[0]!.state, 'firing');
  assert.equal(s[0]!.keepFiringSince, undefined, 'breach again: the hold is reset');
  assert.equal(s[0]!.value, 130);
  evalAt(3 * MIN, []); // no data from here on: the hold starts at 3 min
  s = evalAt(4 * MIN + 59 * SEC, []);
  assert.equal(s[0]!.state, 'firing', '1:59 into the hold');
  s = evalAt(5 * MIN, []);
  assert.equal(s[0]!.state, 'resolved', 'exactly 2 min into the hold');
  assert.equal(s[0]!.resolvedAt, T0 + 5 * MIN);
  assert.deepEqual(rec.summary(), ['change:firing:HighLatency@income/1=firing*', 'change:resolved:HighLatency@income/1=resolved*'], 'one firing, one resolved: no flapping notifications');
});

test('flapping: a pending alert whose condition fails goes back to inactive silently and starts over; a resolved alert that breaches again is a new alert', () => {
  const { rec, evalAt } = setup([LATENCY]);
  evalAt(0, [sample('latency_p95_ms', 150)]);
  evalAt(30 * SEC, [sample('latency_p95_ms', 150)]);
  assert.deepEqual(evalAt(45 * SEC, [sample('latency_p95_ms', 50)]), [], 'pending dropped, not listed as resolved');
  let s = evalAt(60 * SEC, [sample('latency_p95_ms', 150)]);
  assert.equal(s[0]!.activeAt, T0 + 60 * SEC, 'the clock of `for` starts over');
  assert.equal(evalAt(119 * SEC, [sample('latency_p95_ms', 150)])[0]!.state, 'pending');
  assert.equal(evalAt(120 * SEC, [sample('latency_p95_ms', 150)])[0]!.state, 'firing');
  evalAt(135 * SEC, []);
  s = evalAt(150 * SEC, [sample('latency_p95_ms', 150)]);
  assert.deepEqual(s.map((a) => a.state), ['pending', 'resolved'], 'the new alert pends again; the old one is listed as resolved');
  assert.equal(s[0]!.fingerprint, s[1]!.fingerprint, 'same labels, same fingerprint');
  evalAt(210 * SEC, [sample('latency_p95_ms', 150)]);
  assert.deepEqual(rec.summary(), [
    'change:firing:HighLatency@income/1=firing*',
    'change:resolved:HighLatency@income/1=resolved*',
    'change:firing:HighLatency@income/1=firing*',
  ]);
  assert.equal(rec.notifications[2]!.alerts[0]!.startsAt, T0 + 210 * SEC);
});

test('absent samples mean "no data": the condition fails (pending drops, firing resolves), other signals are unaffected; NaN counts as absent', () => {
  const { evalAt } = setup([
    { ...LATENCY, for: '0s' },
    { name: 'Queue', signal: 'queue_saturation', op: '>', threshold: 0.8, for: '1m' },
  ]);
  let s = evalAt(0, [sample('latency_p95_ms', 150), sample('queue_saturation', 0.9)]);
  assert.deepEqual(s.map((a) => `${a.name}:${a.state}`), ['HighLatency:firing', 'Queue:pending']);
  s = evalAt(30 * SEC, [sample('queue_saturation', 0.95)]);
  assert.deepEqual(s.map((a) => `${a.name}:${a.state}`), ['Queue:pending', 'HighLatency:resolved']);
  s = evalAt(45 * SEC, [sample('queue_saturation', Number.NaN)]);
  assert.deepEqual(s.map((a) => `${a.name}:${a.state}`), ['HighLatency:resolved']);
});

test('alerts are kept apart by labels: model, version and sample labels (per-feature drift) give separate alerts with distinct, stable fingerprints', () => {
  const { rec, evalAt } = setup([
    { ...LATENCY, for: '0s' },
    { name: 'DataDrift', signal: 'drift', op: '>', threshold: 0, for: '0s', severity: 'warning' },
  ]);
  const s = evalAt(0, [
    sample('latency_p95_ms', 150, 'income', '1'),
    sample('latency_p95_ms', 50, 'income', '2'),
    sample('latency_p95_ms', 300, 'churn', '1'),
    sample('drift', 1, 'income', '1', { feature: 'age' }),
    sample('drift', 1, 'income', '1', { feature: 'workclass' }),
    sample('drift', 0, 'income', '1', { feature: 'hours' }),
    sample('drift', 0.5, 'income', '1', { feature: '' }),
  ]);
  const keys = s.map((a) => `${a.name}/${a.model}/${a.version}/${a.labels.feature ?? '-'}`).sort();
  assert.deepEqual(keys, ['DataDrift/income/1/-', 'DataDrift/income/1/age', 'DataDrift/income/1/workclass', 'HighLatency/churn/1/-', 'HighLatency/income/1/-']);
  assert.equal(new Set(s.map((a) => a.fingerprint)).size, 5);
  for (const a of s) {
    assert.equal(a.fingerprint, fingerprint(a.labels), 'fingerprint = FNV-1a of the labels');
    assert.match(a.fingerprint, /^[0-9a-f]{16}$/);
  }
  const age = s.find((a) => a.labels.feature === 'age')!;
  assert.deepEqual(age.labels, { alertname: 'DataDrift', feature: 'age', model: 'income', severity: 'warning', version: '1' });
  // Grouped by alertname and model: income's two drift alerts travel together.
  assert.deepEqual(rec.notifications.map((n) => n.groupKey).sort(), [
    '{}:{alertname="DataDrift", model="income"}',
    '{}:{alertname="HighLatency", model="churn"}',
    '{}:{alertname="HighLatency", model="income"}',
  ]);
  const drift = rec.notifications.find((n) => n.groupLabels.alertname === 'DataDrift')!;
  assert.equal(drift.alerts.length, 3);
  // Same labels again later: same fingerprints.
  const again = evalAt(MIN, [sample('drift', 1, 'income', '1', { feature: 'age' })]);
  assert.equal(again.find((a) => a.labels.feature === 'age' && a.state === 'firing')!.fingerprint, age.fingerprint);
});

test('a group is re-sent every repeat interval while it fires, with its other alerts; a new alert in the group re-sends at once', () => {
  const { rec, evalAt } = setup([{ ...LATENCY, for: '0s' }], { repeatIntervalMs: 10 * MIN });
  evalAt(0, [sample('latency_p95_ms', 150, 'income', '1')]);
  evalAt(9 * MIN + 59 * SEC, [sample('latency_p95_ms', 150, 'income', '1')]);
  assert.equal(rec.notifications.length, 1);
  evalAt(10 * MIN, [sample('latency_p95_ms', 150, 'income', '1')]);
  assert.deepEqual(rec.summary().slice(1), ['repeat:firing:HighLatency@income/1=firing']);
  evalAt(12 * MIN, [sample('latency_p95_ms', 150, 'income', '1'), sample('latency_p95_ms', 150, 'income', '2')]);
  assert.deepEqual(rec.summary().slice(2), ['change:firing:HighLatency@income/1=firing,HighLatency@income/2=firing*']);
  evalAt(21 * MIN, [sample('latency_p95_ms', 150, 'income', '1'), sample('latency_p95_ms', 150, 'income', '2')]);
  assert.equal(rec.notifications.length, 3, 'the repeat clock restarted at 12 min');
  evalAt(22 * MIN, [sample('latency_p95_ms', 150, 'income', '2')]);
  assert.deepEqual(rec.summary().slice(3), ['change:firing:HighLatency@income/1=resolved*,HighLatency@income/2=firing']);
  evalAt(23 * MIN, []);
  assert.deepEqual(rec.summary().slice(4), ['change:resolved:HighLatency@income/2=resolved*']);
  evalAt(60 * MIN, []);
  assert.equal(rec.notifications.length, 5, 'nothing fires: nothing repeats');
});

test('disabled rules and rules per model: a model can switch a default off or change its threshold', () => {
  const defaults = resolveAlertRules(defaultAlertRules());
  const income = resolveAlertRules(defaultAlertRules(), { where: 'income', rules: [{ name: 'HighLatency', threshold: 500 }, { name: 'HighMemory', enabled: false }] });
  const clock = new FakeClock();
  const engine = new AlertEngine({ rules: (model) => (model === 'income' ? income : defaults), clock });
  engine.evaluate([
    sample('memory_mb', 400, 'income'),
    sample('memory_mb', 400, 'churn'),
    sample('latency_p95_ms', 300, 'income'),
    sample('latency_p95_ms', 300, 'churn'),
  ]);
  assert.deepEqual(engine.alerts().map((a) => `${a.name}@${a.model}:${a.state}`), ['HighMemory@churn:firing', 'HighLatency@churn:pending']);
});

test('threshold operators, with values exactly at the threshold', () => {
  for (const [op, at, above, below] of [['>', false, true, false], ['>=', true, true, false], ['<', false, false, true], ['<=', true, false, true]] as const) {
    assert.equal(holds(5, op, 5), at, `5 ${op} 5`);
    assert.equal(holds(5.0001, op, 5), above, `5.0001 ${op} 5`);
    assert.equal(holds(4.9999, op, 5), below, `4.9999 ${op} 5`);
    assert.equal(holds(Number.NaN, op, 5), false, `NaN ${op} 5`);
  }
  const { evalAt } = setup([{ name: 'LowAccuracy', signal: 'accuracy', op: '<', threshold: 0.8, for: '0s' }]);
  assert.deepEqual(evalAt(0, [sample('accuracy', 0.8)]), []);
  assert.equal(evalAt(MIN, [sample('accuracy', 0.79)])[0]!.state, 'firing');
});

test('annotations are rendered per alert from the templates, with the latest value', () => {
  const { rec, evalAt } = setup([
    {
      ...LATENCY,
      for: '0s',
      labels: { team: 'ml' },
      annotations: { summary: 'p95 of {{ $labels.model }} v{{ $labels.version }} is {{ $value | printf "%.1f" }} ms', description: 'team {{$labels.team}}, raw {{ $value }}, missing {{ $labels.nope }}' },
    },
    { name: 'Errors', signal: 'error_rate', op: '>', threshold: 0.05, annotations: { summary: '{{ $value | humanizePercentage }} fail' } },
  ]);
  let s = evalAt(0, [sample('latency_p95_ms', 153.25), sample('error_rate', 0.0725)]);
  const lat = s.find((a) => a.name === 'HighLatency')!;
  assert.deepEqual(lat.annotations, { summary: 'p95 of income v1 is 153.2 ms', description: 'team ml, raw 153.25, missing <no value>' });
  assert.equal(lat.labels.team, 'ml');
  assert.equal(s.find((a) => a.name === 'Errors')!.annotations.summary, '7.25% fail');
  s = evalAt(MIN, [sample('latency_p95_ms', 2_000_000), sample('error_rate', 0.0725)]);
  assert.equal(s.find((a) => a.name === 'HighLatency')!.annotations.description, 'team ml, raw 2e+06, missing <no value>', 'Go formatting of $value');
  assert.equal(rec.notifications[0]!.alerts[0]!.annotations.summary !== undefined, true);
});

test('fingerprints are those of Prometheus/Alertmanager: FNV-1a 64 of the sorted labels, independent of key order', () => {
  // Test vectors of prometheus/common (model/signature_test.go).
  assert.equal(fingerprint({}), (14695981039346656037n).toString(16));
  assert.equal(fingerprint({ name: 'garland, briggs', fear: 'love is not enough' }), (5799056148416392346n).toString(16).padStart(16, '0'));
  assert.equal(
    fingerprint({ 'first-label': 'first-label-value', 'second-label': 'second-label-value', 'third-label': 'third-label-value' }),
    (13843036195897128121n).toString(16).padStart(16, '0'),
  );
  assert.equal(fingerprint({ b: '2', a: '1' }), fingerprint({ a: '1', b: '2' }));
  assert.notEqual(fingerprint({ a: '1', b: '2' }), fingerprint({ a: '12' }), 'the separator keeps name/value boundaries');
  assert.notEqual(fingerprint({ a: 'é' }), fingerprint({ a: 'e' }));
});

test('berth_alerts counts active alerts by name and state after each evaluation', async () => {
  const registry = new Registry();
  const metrics = registerAlertMetrics(registry);
  const { evalAt } = setup([LATENCY, { ...LATENCY, name: 'Slow', for: '0s' }], { metrics });
  evalAt(0, [sample('latency_p95_ms', 150, 'a'), sample('latency_p95_ms', 150, 'b')]);
  const read = async () => (await registry.getSingleMetric('berth_alerts')!.get()).values.map((v) => `${v.labels.alertname}/${v.labels.state}=${v.value}`).sort();
  assert.deepEqual(await read(), ['HighLatency/pending=2', 'Slow/firing=2']);
  evalAt(MIN, []);
  assert.deepEqual(await read(), [], 'resolved alerts are not counted');
});

test('a notifier that throws does not stop evaluation or the other notifiers', () => {
  const clock = new FakeClock();
  const rec = new RecordingNotifier();
  const errors: string[] = [];
  const logger = { error: (_o: unknown, msg: string) => errors.push(msg), debug: () => {} } as never;
  const engine = new AlertEngine({
    rules: resolveAlertRules([{ ...LATENCY, for: '0s' }]),
    clock,
    logger,
    notifiers: [{ name: 'broken', notify: () => { throw new Error('boom'); } }, rec],
  });
  engine.evaluate([sample('latency_p95_ms', 150)]);
  assert.equal(rec.notifications.length, 1);
  assert.match(errors[0]!, /broken failed: boom/);
});

test('engine options are checked', () => {
  assert.throws(() => new AlertEngine({ rules: [], repeatIntervalMs: 0 }), { code: 'BERTH_ERR_ALERT_CONFIG', message: /repeatIntervalMs/ });
  assert.throws(() => new AlertEngine({ rules: [], groupBy: [] }), { code: 'BERTH_ERR_ALERT_CONFIG', message: /groupBy/ });
});
