import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { SIGNAL_NAMES, defaultAlertRules, resolveAlertRules } from '../../../src/monitoring/alerts/config.js';
import { signalExpression, toPrometheusRules } from '../../../src/monitoring/alerts/prometheus.js';

interface PromRule { alert: string; expr: string; for?: string; keep_firing_for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface RulesFile { groups: { name: string; rules: PromRule[] }[] }

test('the export has a defaults group that excludes models with their own group, and one scoped group per model', () => {
  const defaults = resolveAlertRules(defaultAlertRules());
  const income = resolveAlertRules(defaultAlertRules(), { where: 'income', rules: [{ name: 'HighLatency', threshold: 250, keepFiringFor: '10m', labels: { team: 'ml' } }, { name: 'HighMemory', enabled: false }] });
  const text = toPrometheusRules({ income, 'a.b|c': defaults, empty: [] }, { defaultRules: defaults });
  assert.match(text, /^# Prometheus alerting rules for Berth/);
  const file = parse(text) as RulesFile;
  assert.deepEqual(file.groups.map((g) => g.name), ['berth', 'berth-a.b|c', 'berth-income']);
  const [all, odd, inc] = file.groups as [RulesFile['groups'][0], RulesFile['groups'][0], RulesFile['groups'][0]];
  assert.equal(all.rules.length, 8);
  for (const r of all.rules) {
    assert.ok(r.expr.includes('model!~"a\\\\.b\\\\|c|empty|income"'), `defaults exclude the listed models (regex-escaped): ${r.expr}`);
    assert.equal(r.labels?.model, undefined);
  }
  for (const r of odd.rules) assert.ok(r.expr.includes('model="a.b|c"') && !r.expr.includes('!~'), r.expr);
  assert.deepEqual(inc.rules.map((r) => r.alert), ['HighLatency', 'HighErrorRate', 'AnomalyRate', 'AccuracyDrop', 'DataDrift', 'FairnessDisparity', 'QueueSaturation']);
  const lat = inc.rules[0]!;
  assert.equal(lat.expr, '(histogram_quantile(0.95, sum by (model, version, le) (rate(berth_inference_request_duration_seconds_bucket{model="income"}[5m]))) * 1000) > 250');
  assert.equal(lat.for, '5m');
  assert.equal(lat.keep_firing_for, '10m');
  assert.deepEqual(lat.labels, { team: 'ml', model: 'income', severity: 'warning' });
  assert.equal(lat.annotations?.summary, defaults[0]!.annotations.summary, 'templates are written as they are: Prometheus renders them the same way');
  const mem = all.rules.find((r) => r.alert === 'HighMemory')!;
  assert.equal(mem.for, undefined, 'for: 0s is left out');
  assert.equal(mem.keep_firing_for, undefined);
});

test('every signal has an expression over Berth\'s metric names, one series per model and version', () => {
  const expected: Record<(typeof SIGNAL_NAMES)[number], string> = {
    accuracy: 'avg by (model, version) (berth_model_quality{metric="accuracy", model="m"})',
    accuracy_drop: 'avg by (model, version) (berth_model_validated_accuracy{model="m"}) - avg by (model, version) (berth_model_quality{metric="accuracy", model="m"})',
    latency_p95_ms: 'histogram_quantile(0.95, sum by (model, version, le) (rate(berth_inference_request_duration_seconds_bucket{model="m"}[2m]))) * 1000',
    error_rate: 'sum by (model, version) (rate(berth_inference_requests_total{outcome=~"error|timeout|rejected", model="m"}[2m])) / sum by (model, version) (rate(berth_inference_requests_total{model="m"}[2m]))',
    anomaly_rate: 'sum by (model, version) (rate(berth_anomaly_rows_total{flagged="true", model="m"}[2m])) / sum by (model, version) (rate(berth_anomaly_rows_total{model="m"}[2m]))',
    memory_mb: 'max by (model, version) (berth_model_memory_bytes{model="m"}) / 1048576',
    drift: 'max by (model, version) (berth_drift_share{model="m"})',
    queue_saturation: 'max by (model, version) (berth_inference_queue_depth{model="m"} / berth_inference_queue_capacity{model="m"})',
    fairness_parity_ratio: 'min by (model, version) (berth_fairness_demographic_parity_ratio{model="m"})',
  };
  for (const s of SIGNAL_NAMES) assert.equal(signalExpression(s, 'model="m"', '2m'), expected[s], s);
  assert.equal(signalExpression('drift'), 'max by (model, version) (berth_drift_share)', 'unscoped');
});

test('model names are quoted safely in matchers and a bad rate window is refused', () => {
  const rules = resolveAlertRules([{ name: 'X', signal: 'drift', op: '>', threshold: 0 }]);
  const file = parse(toPrometheusRules({ 'we"ird\\name': rules })) as RulesFile;
  assert.equal(file.groups[0]!.rules[0]!.expr, '(max by (model, version) (berth_drift_share{model="we\\"ird\\\\name"})) > 0');
  assert.throws(() => toPrometheusRules({}, { rateWindow: '5 minutes' }), { code: 'BERTH_ERR_ALERT_RULE', message: /rateWindow/ });
  assert.deepEqual(parse(toPrometheusRules({})), { groups: [] });
});
