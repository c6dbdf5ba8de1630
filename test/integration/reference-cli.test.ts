/**
 * `berth reference` on a version directory: profiles the model's inputs and outputs on
 * reference data, and follows the model's berth.yaml `monitoring:` section (class names
 * here), so the profile's columns are the ones the server watches.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, ROOT } from '../helpers/server.js';

const MAIN = join(ROOT, 'src/cli/main.ts');

test('berth reference follows the model config: class names from berth.yaml name the predicted column\'s categories', { timeout: 60_000 }, (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-reference-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  cpSync(join(EXAMPLES, 'income/1/model.onnx'), join(repo, 'income/1/model.onnx'));
  writeFileSync(join(repo, 'income/berth.yaml'), 'monitoring:\n  classes: [low, high]\n');
  const res = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'reference', join(repo, 'income/1'),
    '--raw', join(ROOT, 'examples/data/adult/adult.test.gz'), '--preprocessing', join(EXAMPLES, 'income/preprocessing.json'), '--limit', '2000'], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /2000 rows, 94 columns/);
  const profile = JSON.parse(readFileSync(join(repo, 'income/1/reference.profile.json'), 'utf8')) as { columns: { name: string; role: string; type: string; categories?: { counts?: Record<string, number> } }[] };
  assert.equal(profile.columns[0]!.name, 'age', 'feature names from the preprocessing spec');
  const predicted = profile.columns.find((c) => c.role === 'prediction')!;
  assert.ok(predicted !== undefined && predicted.type === 'categorical');
  const text = JSON.stringify(predicted);
  assert.ok(text.includes('"high"') && text.includes('"low"') && !text.includes('">50K"'), text.slice(0, 300));
});
