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

test('berth reference with labelled held-out rows writes the calibration beside the profile; without them it says why there is none', { timeout: 60_000 }, (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-reference-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  cpSync(join(EXAMPLES, 'income/1/model.onnx'), join(repo, 'income/1/model.onnx'));
  const base = ['--import', 'tsx', MAIN, 'reference', join(repo, 'income/1'), '--raw', join(ROOT, 'examples/data/adult/adult.data.gz'), '--preprocessing', join(EXAMPLES, 'income/preprocessing.json'), '--limit', '1000'];
  const plain = spawnSync(process.execPath, base, { encoding: 'utf8' });
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /no calibration written: give --calibration-raw or --calibration-data/);
  const res = spawnSync(process.execPath, [...base, '--calibration-raw', join(ROOT, 'examples/data/adult/adult.test.gz'), '--calibration-limit', '2000'], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /reference\.calibration\.json: isotonic calibration on 2000 labelled rows \(accuracy 0\.8\d+; expected calibration error [\d.]+ before, [\d.]+ after\)/);
  const cal = JSON.parse(readFileSync(join(repo, 'income/1/reference.calibration.json'), 'utf8')) as { format: string; rows: number; classes: string[]; positiveClass: string; source: string };
  assert.deepEqual([cal.format, cal.rows, cal.positiveClass], ['berth.calibration/v1', 2000, '>50K']);
  assert.match(cal.source, /adult\.test\.gz \(first 2000 records\)/);
  const noLabels = spawnSync(process.execPath, [...base, '--calibration-data', join(ROOT, 'examples/data/digits/test-images.f32')], { encoding: 'utf8' });
  assert.equal(noLabels.status, 2);
  assert.match(noLabels.stderr, /--calibration-data needs --calibration-labels/);
});
