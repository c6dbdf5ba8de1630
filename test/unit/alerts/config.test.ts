import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { AlertRulesSchema, defaultAlertRules, resolveAlertRules } from '../../../src/monitoring/alerts/config.js';
import { formatDuration, parseDuration } from '../../../src/monitoring/alerts/duration.js';

test('the defaults follow the seed: p95 latency > 100 ms, memory > 100 MB, error rate > 5 %, anomalous rows > 5 %, accuracy drop > 0.05, drift, group selection-rate ratio < 0.8, queue > 80 %', () => {
  const rules = resolveAlertRules(defaultAlertRules());
  assert.deepEqual(
    rules.map((r) => `${r.name}: ${r.signal} ${r.op} ${r.threshold} for ${r.for} (${r.severity})`),
    [
      'HighLatency: latency_p95_ms > 100 for 5m (warning)',
      'HighMemory: memory_mb > 100 for 0s (warning)',
      'HighErrorRate: error_rate > 0.05 for 5m (critical)',
      'AnomalyRate: anomaly_rate > 0.05 for 15m (warning)',
      'AccuracyDrop: accuracy_drop > 0.05 for 15m (critical)',
      'DataDrift: drift > 0 for 15m (warning)',
      'FairnessDisparity: fairness_parity_ratio < 0.8 for 30m (warning)',
      'QueueSaturation: queue_saturation > 0.8 for 1m (warning)',
    ],
  );
  assert.ok(Value.Check(AlertRulesSchema, defaultAlertRules()), 'the defaults are valid config themselves');
  for (const r of rules) assert.ok(r.annotations.summary !== undefined && r.annotations.description !== undefined, `${r.name} has a summary and a description`);
});

test('docs/alerts.md lists every default rule with its values', () => {
  const page = readFileSync('docs/alerts.md', 'utf8');
  for (const r of resolveAlertRules(defaultAlertRules())) {
    const row = `| \`${r.name}\` | \`${r.signal}\` | \`${r.op} ${r.threshold}\` | ${r.for} | ${r.severity} |`;
    assert.ok(page.includes(row), `docs/alerts.md lacks the row: ${row}`);
  }
});

test('layers merge by name, field by field: a model changes a threshold, adds labels, switches a default off, adds its own rule', () => {
  const rules = resolveAlertRules(
    defaultAlertRules(),
    { where: 'server config models.alerts', rules: [{ name: 'HighLatency', threshold: 250, labels: { team: 'ml' } }] },
    {
      where: 'income/berth.yaml alerts',
      rules: [
        { name: 'HighLatency', for: '10m', keepFiringFor: '5m', labels: { page: 'yes' }, annotations: { runbook_url: 'https://runbooks/latency' } },
        { name: 'HighMemory', enabled: false },
        { name: 'LowAccuracy', signal: 'accuracy', op: '<', threshold: 0.8, for: '30m', severity: 'critical' },
      ],
    },
  );
  const byName = new Map(rules.map((r) => [r.name, r]));
  assert.equal(byName.has('HighMemory'), false);
  const lat = byName.get('HighLatency')!;
  assert.equal(lat.threshold, 250);
  assert.equal(lat.for, '10m');
  assert.equal(lat.forMs, 600_000);
  assert.equal(lat.keepFiringForMs, 300_000);
  assert.deepEqual(lat.labels, { team: 'ml', page: 'yes' });
  assert.equal(lat.annotations.runbook_url, 'https://runbooks/latency');
  assert.ok(lat.annotations.summary!.includes('p95 latency'), 'annotations merge by key');
  const low = byName.get('LowAccuracy')!;
  assert.deepEqual([low.signal, low.op, low.threshold, low.forMs, low.keepFiringForMs, low.severity], ['accuracy', '<', 0.8, 1_800_000, 0, 'critical']);
  assert.deepEqual(low.annotations, {});
});

test('invalid rules are refused with a message that names the place and the field', () => {
  const bad = (rules: unknown, re: RegExp) => assert.throws(() => resolveAlertRules(defaultAlertRules(), { where: 'm/berth.yaml alerts', rules: rules as never }), { code: 'BERTH_ERR_ALERT_RULE', message: re });
  bad([{ name: 'New', signal: 'accuracy', op: '<' }], /m\/berth\.yaml alerts\[0\] \(New\): .*needs threshold/);
  bad([{ name: 'X', signal: 'cpu', op: '>', threshold: 1 }], /\[0\]\.signal/);
  bad([{ name: 'X', signal: 'error_rate', op: '>', threshold: 5 }], /threshold 5 is out of range for error_rate, which is a fraction 0\.\.1 \(0\.05 = 5%\)/);
  bad([{ name: 'High Latency', threshold: 1 }], /\[0\]\.name/);
  bad([{ name: 'HighLatency', for: '5 minutes' }], /\[0\]\.for/);
  bad([{ name: 'HighLatency', for: '1m5h' }], /\[0\]\.for/);
  bad([{ name: 'HighLatency', severity: 'page' }], /\[0\]\.severity/);
  bad([{ name: 'HighLatency', labels: { model: 'x' } }], /labels\.model: Berth sets this label itself/);
  bad([{ name: 'HighLatency', labels: { 'bad-name': 'x' } }], /labels/);
  bad([{ name: 'HighLatency', treshold: 1 }], /\[0\]\.treshold: unknown field/);
  bad([{ name: 'HighLatency', annotations: { summary: '{{ .Labels.model }}' } }], /annotations\.summary: unsupported template argument/);
  bad([{ name: 'HighLatency', threshold: 1 }, { name: 'HighLatency', threshold: 2 }], /appears twice/);
  bad({ name: 'HighLatency' }, /expected array/);
});

test('durations: Prometheus grammar in, canonical Prometheus strings out', () => {
  for (const [text, ms, canonical] of [['0', 0, '0s'], ['0s', 0, '0s'], ['30s', 30_000, '30s'], ['5m', 300_000, '5m'], ['90m', 5_400_000, '1h30m'], ['1h30m', 5_400_000, '1h30m'], ['1d', 86_400_000, '1d'], ['2w', 14 * 86_400_000, '2w'], ['1y', 365 * 86_400_000, '1y'], ['1500ms', 1500, '1s500ms'], ['10d', 864_000_000, '10d']] as const) {
    assert.equal(parseDuration(text), ms, text);
    assert.equal(formatDuration(ms), canonical, text);
  }
  for (const text of ['', '5', '1m1h', '-5m', '5 m', '1.5h', 'm']) assert.throws(() => parseDuration(text, 'for'), { code: 'BERTH_ERR_ALERT_RULE', message: /^for: / }, text);
});
