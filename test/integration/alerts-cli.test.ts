/**
 * `berth alerts export` over a real repository and server config on disk: rules merged
 * from the defaults, the server config and each model's berth.yaml, written as a file
 * that promtool accepts; bad rules fail with the file and field named.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import { parse } from 'yaml';
import { exportAlertRules, registerAlertsCommand } from '../../src/cli/alerts.js';

function repo(t: { after: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-alerts-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const models = join(dir, 'models');
  mkdirSync(join(models, 'income', '1'), { recursive: true });
  mkdirSync(join(models, 'churn', '1'), { recursive: true });
  writeFileSync(
    join(models, 'income', 'berth.yaml'),
    ['maxBatchSize: 16', 'alerts:', '  - name: HighLatency', '    threshold: 250', '    keepFiringFor: 10m', '  - name: HighMemory', '    enabled: false', '  - name: LowAccuracy', '    signal: accuracy', "    op: '<'", '    threshold: 0.8', '    for: 30m', '    severity: critical', ''].join('\n'),
  );
  writeFileSync(join(models, 'churn', 'berth.yaml'), 'maxBatchSize: 8\n');
  const config = join(dir, 'berth.config.yaml');
  writeFileSync(config, ['repository:', `  path: ${JSON.stringify(models)}`, 'models:', '  alerts:', '    - name: HighMemory', '      threshold: 512', ''].join('\n'));
  return { dir, models, config };
}

test('berth alerts export merges defaults ← server config ← berth.yaml and writes a file promtool accepts', async (t) => {
  const { dir, config } = repo(t);
  const out = join(dir, 'rules.yml');
  const program = new Command('berth').exitOverride();
  registerAlertsCommand(program);
  const write = process.stdout.write;
  let printed = '';
  process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['alerts', 'export', '--config', config, '-o', out], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  assert.equal(process.exitCode, 0);
  process.exitCode = undefined;
  assert.match(printed, /wrote .*rules\.yml: 16 rules \(defaults; own rules for income\)/);
  const file = parse(readFileSync(out, 'utf8')) as { groups: { name: string; rules: { alert: string; expr: string; keep_firing_for?: string }[] }[] };
  assert.deepEqual(file.groups.map((g) => g.name), ['berth', 'berth-income']);
  const [defaults, income] = file.groups as [(typeof file.groups)[0], (typeof file.groups)[0]];
  assert.ok(defaults.rules.find((r) => r.alert === 'HighMemory')!.expr.endsWith('> 512'), 'server config threshold');
  assert.ok(defaults.rules.every((r) => r.expr.includes('model!~"income"')), 'churn has no alerts of its own: the defaults cover it');
  assert.deepEqual(income.rules.map((r) => r.alert), ['HighLatency', 'HighErrorRate', 'AnomalyRate', 'AccuracyDrop', 'DataDrift', 'FairnessDisparity', 'QueueSaturation', 'LowAccuracy']);
  assert.equal(income.rules[0]!.keep_firing_for, '10m');
  const r = spawnSync('promtool', ['check', 'rules', out], { encoding: 'utf8' });
  assert.equal(r.error, undefined, `promtool could not run: ${String(r.error)}`);
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('a bad rule in a berth.yaml fails naming the file, the rule and the field', async (t) => {
  const { models } = repo(t);
  writeFileSync(join(models, 'churn', 'berth.yaml'), 'alerts:\n  - name: HighErrorRate\n    threshold: 5\n');
  await assert.rejects(exportAlertRules({ repository: models }), {
    code: 'BERTH_ERR_ALERT_RULE',
    message: /churn[/\\]berth\.yaml: alerts\[0\] \(HighErrorRate\): threshold 5 is out of range for error_rate/,
  });
  writeFileSync(join(models, 'churn', 'berth.yaml'), 'alerts:\n  - name: X\n    signal: latency\n');
  await assert.rejects(exportAlertRules({ repository: models }), { code: 'BERTH_ERR_ALERT_RULE', message: /churn[/\\]berth\.yaml: alerts: \[0\]\.signal/ });
});
