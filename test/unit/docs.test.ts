import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fillPage, generatedSections } from '../../src/docs/reference.js';
import { ERROR_CODES } from '../../src/errors.js';
import { ServerMetrics } from '../../src/metrics/server-metrics.js';

test('the generated reference tables in docs/ match the code (run npm run docs after changing it)', async () => {
  for (const [file, sections] of Object.entries(await generatedSections())) {
    const page = readFileSync(file, 'utf8');
    assert.equal(fillPage(page, sections), page, `${file} is out of date: run npm run docs`);
  }
});

test('docs/errors.md documents every error code', () => {
  const page = readFileSync('docs/errors.md', 'utf8');
  for (const code of Object.keys(ERROR_CODES)) assert.ok(page.includes(`\`${code}\``), `${code} is missing from docs/errors.md`);
});

test('docs/metrics.md documents exactly the berth_ metrics the server registers', async () => {
  const page = readFileSync('docs/metrics.md', 'utf8');
  const documented = new Set([...page.matchAll(/`(berth_[a-z_]+)`/g)].map((m) => m[1]!));
  const registered = new Set((await new ServerMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name));
  assert.deepEqual([...documented].sort(), [...registered].sort());
});
