/**
 * The exported Prometheus rules, checked by Prometheus' own tools: `promtool check rules`
 * on the file, and `promtool test rules` with input series for Berth's metrics. The
 * expected alerts of the promtool test are what Berth's engine fires on the same signals,
 * minute by minute, so one test proves both that the PromQL fires when it should and that
 * Prometheus and the engine agree on timing (for, keep_firing_for), labels and annotation
 * text. promtool is required (Debian package prometheus): without it the test fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { defaultAlertRules, resolveAlertRules, type AlertRule } from '../../src/monitoring/alerts/config.js';
import { AlertEngine } from '../../src/monitoring/alerts/engine.js';
import { toPrometheusRules } from '../../src/monitoring/alerts/prometheus.js';
import type { AlertState, SignalSample } from '../../src/monitoring/alerts/types.js';
import { FakeClock, MIN } from '../unit/alerts/helpers.js';

function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  assert.equal(r.error, undefined, `promtool could not run (install Debian's prometheus package, as .ci/run does): ${String(r.error)}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const MB = 1048576;
const TIB = 2 ** 40;
const MINUTES = 30;

/** Model "income" has rules of its own; every other model gets the defaults. */
const defaults = resolveAlertRules(defaultAlertRules());
const income = resolveAlertRules(defaultAlertRules(), {
  where: 'income/berth.yaml alerts',
  rules: [
    { name: 'HighLatency', threshold: 500 },
    { name: 'HighMemory', keepFiringFor: '5m', annotations: { description: 'raw {{ $value }}, {{ $value | humanize }}B-ish, {{ printf "%.2f" $value }} MB' } },
    { name: 'QueueSaturation', threshold: 0.1, annotations: { summary: 'queue {{ printf "%.2f" $value }} ({{ $value | humanizePercentage }})' } },
    { name: 'LowAccuracy', signal: 'accuracy', op: '<', threshold: 0.85, for: '10m', severity: 'critical', annotations: { summary: 'accuracy {{ $value }} on {{ $labels.model }}' } },
  ],
});
const rulesFor = (model: string): readonly AlertRule[] => (model === 'income' ? income : defaults);

/**
 * Input series (1 sample a minute from t=0) and the signals Berth would compute from the
 * same traffic at minute m. Rates need two samples, so latency and error rate start at 1m.
 */
const series: { series: string; values: string }[] = [];
const add = (s: string, values: string) => series.push({ series: s, values });
const latencyBuckets = (model: string, perBucket: Record<string, number>) => {
  for (const [le, inc] of Object.entries(perBucket)) add(`berth_inference_request_duration_seconds_bucket{model="${model}",version="1",le="${le}",instance="a"}`, `0+${inc}x${MINUTES}`);
};
// slow: every request between 100 and 250 ms → p95 = 100 + 150·0.95 = 242.5 ms. fast: all under 50 ms → 47.5 ms.
latencyBuckets('slow', { '0.05': 0, '0.1': 0, '0.25': 600, '+Inf': 600 });
latencyBuckets('income', { '0.05': 0, '0.1': 0, '0.25': 600, '+Inf': 600 });
latencyBuckets('fast', { '0.05': 600, '0.1': 600, '0.25': 600, '+Inf': 600 });
// slow: 60 errors in 600 requests (invalid ones count as requests, not as failures) → 10 %.
for (const [outcome, inc] of [['success', 480], ['invalid', 60], ['error', 60]] as const) add(`berth_inference_requests_total{model="slow",version="1",outcome="${outcome}",instance="a"}`, `0+${inc}x${MINUTES}`);
for (const [outcome, inc] of [['success', 600], ['error', 0]] as const) add(`berth_inference_requests_total{model="fast",version="1",outcome="${outcome}",instance="a"}`, `0+${inc}x${MINUTES}`);
const gauge = (s: string, v: number) => add(s, `${v}+0x${MINUTES}`);
for (const [model, validated, live] of [['slow', 0.9, 0.8], ['fast', 0.9, 0.88], ['income', 0.82, 0.8]] as const) {
  gauge(`berth_model_validated_accuracy{model="${model}",version="1",instance="a"}`, validated);
  gauge(`berth_model_quality{model="${model}",version="1",metric="accuracy",instance="a"}`, live);
  gauge(`berth_model_quality{model="${model}",version="1",metric="f1",instance="a"}`, 0.1);
}
gauge('berth_drift_share{model="slow",version="1",instance="a"}', 0.25);
gauge('berth_drift_share{model="fast",version="1",instance="a"}', 0);
// Two replicas of slow: one queue 90 % full, one 12.5 %.
for (const [model, instance, depth] of [['slow', 'a', 900], ['slow', 'b', 125], ['fast', 'a', 10], ['income', 'a', 125]] as const) {
  gauge(`berth_inference_queue_depth{model="${model}",version="1",instance="${instance}"}`, depth);
  gauge(`berth_inference_queue_capacity{model="${model}",version="1",instance="${instance}"}`, 1000);
}
gauge('berth_model_memory_bytes{model="slow",version="1",instance="a"}', 50 * MB);
gauge('berth_model_memory_bytes{model="fast",version="1",instance="a"}', 50 * MB);
gauge('berth_model_memory_bytes{model="big",version="1",instance="a"}', 1.5e9);
// income: 1 TiB for minutes 0–9, then 0: HighMemory is held 5 min by keepFiringFor, then resolves.
add('berth_model_memory_bytes{model="income",version="1",instance="a"}', `${TIB}+0x9 0+0x${MINUTES - 10}`);

function signalsAt(m: number): SignalSample[] {
  const s = (signal: SignalSample['signal'], model: string, value: number): SignalSample => ({ signal, model, version: '1', value });
  const out: SignalSample[] = [
    s('accuracy_drop', 'slow', 0.9 - 0.8), s('accuracy', 'slow', 0.8),
    s('accuracy_drop', 'fast', 0.9 - 0.88), s('accuracy', 'fast', 0.88),
    s('accuracy_drop', 'income', 0.82 - 0.8), s('accuracy', 'income', 0.8),
    s('drift', 'slow', 0.25), s('drift', 'fast', 0),
    s('queue_saturation', 'slow', 0.9), s('queue_saturation', 'fast', 0.01), s('queue_saturation', 'income', 125 / 1000),
    s('memory_mb', 'slow', 50), s('memory_mb', 'fast', 50), s('memory_mb', 'big', 1.5e9 / MB), s('memory_mb', 'income', m < 10 ? TIB / MB : 0),
  ];
  if (m >= 1) out.push(s('latency_p95_ms', 'slow', 242.5), s('latency_p95_ms', 'income', 242.5), s('latency_p95_ms', 'fast', 47.5), s('error_rate', 'slow', 0.1), s('error_rate', 'fast', 0));
  return out;
}

const EVAL_TIMES = [0, 1, 5, 6, 9, 10, 14, 15, 16, 30];

test('exported rules pass promtool check rules and promtool test rules, firing exactly when Berth\'s engine fires', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-alerts-'));
  try {
    const rulesText = toPrometheusRules({ income }, { defaultRules: defaults });
    writeFileSync(join(dir, 'rules.yml'), rulesText);
    const check = promtool(['check', 'rules', join(dir, 'rules.yml')]);
    assert.equal(check.status, 0, check.output);
    assert.match(check.output, new RegExp(`SUCCESS: ${defaults.length + income.length} rules found`));

    // Run the engine on the same signals, one evaluation a minute, as Prometheus does.
    const clock = new FakeClock();
    const engine = new AlertEngine({ rules: (model) => rulesFor(model), clock });
    const firing = new Map<number, AlertState[]>();
    for (let m = 0; m <= MINUTES; m++) {
      clock.at(m * MIN);
      engine.evaluate(signalsAt(m));
      firing.set(m, engine.alerts().filter((a) => a.state === 'firing'));
    }
    const at = (m: number) => firing.get(m)!.map((a) => `${a.name}@${a.model}`).sort();
    // What should fire, spelled out: the promtool run below checks Prometheus agrees.
    assert.deepEqual(at(0), ['HighMemory@big', 'HighMemory@income'], 'memory has for: 0s');
    assert.deepEqual(at(1), ['HighMemory@big', 'HighMemory@income', 'QueueSaturation@income', 'QueueSaturation@slow'], 'queue saturation: for 1m');
    assert.deepEqual(at(5), at(1), 'latency and errors pend from 1m: not yet at 5m');
    assert.deepEqual(at(6), [...at(1), 'HighErrorRate@slow', 'HighLatency@slow'].sort());
    assert.deepEqual(at(10), [...at(6), 'LowAccuracy@income'].sort());
    assert.ok(at(14).includes('HighMemory@income'), 'memory fell at 10m; keepFiringFor 5m holds the alert at 14m');
    assert.deepEqual(at(15), ['AccuracyDrop@slow', 'DataDrift@slow', 'HighErrorRate@slow', 'HighLatency@slow', 'HighMemory@big', 'LowAccuracy@income', 'QueueSaturation@income', 'QueueSaturation@slow']);
    const mem = firing.get(0)!.find((a) => a.model === 'income' && a.name === 'HighMemory')!;
    assert.equal(mem.annotations.description, 'raw 1.048576e+06, 1.049MB-ish, 1048576.00 MB');
    assert.equal(firing.get(1)!.find((a) => a.name === 'QueueSaturation' && a.model === 'income')!.annotations.summary, 'queue 0.12 (12.5%)', 'Go rounds the tie 0.125 to even');

    const alertNames = [...new Set([...defaults, ...income].map((r) => r.name))].sort();
    const alertRuleTests = EVAL_TIMES.flatMap((m) =>
      alertNames.map((name) => ({
        eval_time: `${m}m`,
        alertname: name,
        exp_alerts: firing.get(m)!.filter((a) => a.name === name).map((a) => {
          const { alertname: _, ...labels } = a.labels;
          return { exp_labels: labels, exp_annotations: a.annotations };
        }),
      })),
    );
    const unitTest = { rule_files: ['rules.yml'], evaluation_interval: '1m', tests: [{ interval: '1m', input_series: series, alert_rule_test: alertRuleTests }] };
    writeFileSync(join(dir, 'test.yml'), stringify(unitTest, { lineWidth: 0 }));
    const run = promtool(['test', 'rules', join(dir, 'test.yml')]);
    assert.equal(run.status, 0, `promtool test rules failed:\n${run.output}`);
    assert.match(run.output, /SUCCESS/);

    // The check has teeth: one expected alert taken away makes promtool fail.
    const tampered = structuredClone(unitTest);
    const t6 = tampered.tests[0]!.alert_rule_test.find((c) => c.eval_time === '6m' && c.alertname === 'HighLatency')!;
    assert.equal(t6.exp_alerts.length, 1);
    t6.exp_alerts = [];
    writeFileSync(join(dir, 'tampered.yml'), stringify(tampered, { lineWidth: 0 }));
    const bad = promtool(['test', 'rules', join(dir, 'tampered.yml')]);
    assert.notEqual(bad.status, 0, 'promtool should reject a wrong expectation');
    assert.match(bad.output, /HighLatency/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rules file with only the defaults (no model overrides) passes promtool check rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-alerts-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), toPrometheusRules({}, { defaultRules: defaults }));
    const check = promtool(['check', 'rules', join(dir, 'rules.yml')]);
    assert.equal(check.status, 0, check.output);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
