/**
 * The example deployment's config (examples/berth.config.yaml, what `npm start` runs): it
 * loads, and it shortens exactly what `npm run demo` needs to show drift, an accuracy drop
 * and both alerts firing within a couple of minutes, leaving the production defaults alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { defaultAlertRules, resolveAlertRules } from '../../../src/monitoring/alerts/config.js';
import { resolveSettings } from '../../../src/repository/model-config.js';

const FILE = 'examples/berth.config.yaml';

test('npm start serves examples/models with examples/berth.config.yaml', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, `node dist/cli/main.js serve --repository examples/models --config ${FILE}`);
  assert.equal(pkg.scripts.demo, 'node dist/cli/main.js demo');
  assert.equal(pkg.scripts.predemo, pkg.scripts.prestart, 'npm run demo builds first, like npm start');
});

test('the example config: minutes instead of hours for the demo, the rest as the defaults', () => {
  const c = loadConfig({ file: FILE, env: {} });
  const d = loadConfig({ env: {} });
  assert.equal(c.monitoring.qualityWindowHours * 60, 3, 'a 3-minute quality window: a second demo run starts from fresh labels');
  assert.equal(c.monitoring.driftWindowSeconds, 30);
  assert.deepEqual({ ...c.monitoring, qualityWindowHours: 0, driftWindowSeconds: 0 }, { ...d.monitoring, qualityWindowHours: 0, driftWindowSeconds: 0 }, 'no other monitoring setting changes');
  const rules = resolveSettings(c.models, {}).alertRules;
  const defaults = resolveAlertRules(defaultAlertRules());
  const byName = new Map(rules.map((r) => [r.name, r]));
  assert.equal(byName.get('AccuracyDrop')?.forMs, 60_000);
  assert.equal(byName.get('DataDrift')?.forMs, 60_000);
  for (const r of defaults) {
    const got = byName.get(r.name)!;
    const expected = r.name === 'AccuracyDrop' || r.name === 'DataDrift' ? { ...r, for: '1m', forMs: 60_000 } : r;
    assert.deepEqual(got, expected, `${r.name}: only 'for' of the two demo rules changes`);
  }
  assert.equal(rules.length, defaults.length);
});
