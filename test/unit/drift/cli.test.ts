/**
 * The `berth profile` / `berth drift` commands, spawned as a user runs them: exit codes
 * 0 / 1 / 2, a self-contained HTML report, the JSON report's shape, and error messages
 * that name the file and field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FIX = 'test/fixtures/drift';

function berth(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('profile, then drift from the profile: 0 on same-distribution data, 1 on shifted data, with HTML and JSON', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-drift-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const profilePath = join(dir, 'reference.profile.json');
  const p = await berth('profile', join(FIX, 'reference.csv'), '--schema', join(FIX, 'schema.json'), '-o', profilePath);
  assert.equal(p.code, 0, p.stderr);
  const profile = JSON.parse(readFileSync(profilePath, 'utf8'));
  assert.equal(profile.format, 'berth.profile/v2');
  assert.equal(profile.rows, 400);

  const html = join(dir, 'drift.html');
  const jsonFile = join(dir, 'drift.json');
  const [same, shifted, jsonOut] = await Promise.all([
    berth('drift', profilePath, join(FIX, 'current-same.csv')),
    berth('drift', profilePath, join(FIX, 'current-shifted.csv'), '--report', html, '--json', jsonFile),
    berth('drift', join(FIX, 'reference.csv'), join(FIX, 'current-shifted.csv'), '--schema', join(FIX, 'schema.json'), '--json'),
  ]);
  assert.equal(same.code, 0, same.stderr + same.stdout);
  assert.match(same.stdout, /^no drift/);
  assert.equal(shifted.code, 1, shifted.stderr);
  assert.match(shifted.stdout, /^DRIFT/);

  const page = readFileSync(html, 'utf8');
  assert.match(page, /<svg/);
  assert.doesNotMatch(page, /https?:\/\//, 'the report loads nothing from the network');
  assert.doesNotMatch(page, /<script|<link|<img|@import|url\(/);
  assert.match(page, /Drift detected/);
  assert.ok(page.length < 200_000, `report is ${page.length} bytes`);

  assert.equal(jsonOut.code, 1);
  const report = JSON.parse(jsonOut.stdout);
  assert.equal(report.format, 'berth.drift-report/v1');
  assert.equal(report.verdict.drift, true);
  assert.deepEqual(Object.keys(report).sort(), ['current', 'features', 'format', 'labels', 'multivariate', 'notes', 'options', 'outputs', 'reference', 'verdict']);
  const age = report.features.find((f: { name: string }) => f.name === 'age');
  for (const key of ['test', 'effect', 'drifted', 'decision', 'missing', 'chart', 'stats']) assert.ok(key in age, key);
  assert.deepEqual(Object.keys(age.test).sort(), ['alpha', 'method', 'name', 'pValue', 'pValueAdjusted', 'statistic']);
  assert.deepEqual(report.outputs.columns.map((c: { name: string }) => c.name), ['p_yes', 'predicted']);
  assert.ok(report.features.find((f: { name: string }) => f.name === 'color').unseen.drifted);
  assert.deepEqual(JSON.parse(readFileSync(jsonFile, 'utf8')).verdict, JSON.parse(shifted.stdout === '' ? '{}' : readFileSync(jsonFile, 'utf8')).verdict);
});

test('errors exit 2 and name the file, record or field', async () => {
  const [ragged, empty, badSchema, missingFile] = await Promise.all([
    berth('drift', join(FIX, 'reference.csv'), join(FIX, 'ragged.csv')),
    berth('drift', join(FIX, 'reference.csv'), join(FIX, 'header-only.csv')),
    berth('profile', join(FIX, 'reference.csv'), '--schema', join(FIX, 'schema-bad-role.json'), '-o', join(tmpdir(), 'never-written.json')),
    berth('drift', join(FIX, 'nope.profile.json'), join(FIX, 'current-same.csv')),
  ]);
  assert.equal(ragged.code, 2);
  assert.match(ragged.stderr, /BERTH_ERR_DRIFT_DATA: .*ragged\.csv: record 3 .* 2 fields, the header has 6/);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /header-only\.csv: no data rows/);
  assert.equal(badSchema.code, 2);
  assert.match(badSchema.stderr, /BERTH_ERR_DRIFT_SCHEMA: .*schema-bad-role\.json: columns\[0\] \("age"\): "role" must be one of/);
  assert.equal(missingFile.code, 2);
  assert.match(missingFile.stderr, /BERTH_ERR_FILE: .*nope\.profile\.json: cannot read profile \(no such file\)/);
});

test('berth drift prints a significant change below its effect threshold apart, with the snippets that set the threshold', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-drift-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The sex share of Adult's training split, and 3 points less over 16,281 rows (see below-effect.test.ts).
  writeFileSync(join(dir, 'ref.csv'), `sex\n${'Female\n'.repeat(10771)}${'Male\n'.repeat(21790)}`);
  writeFileSync(join(dir, 'cur.csv'), `sex\n${'Female\n'.repeat(4900)}${'Male\n'.repeat(11381)}`);
  const r = await berth('drift', join(dir, 'ref.csv'), join(dir, 'cur.csv'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sex\s+chi2\s+2\.78e-11\s+jensenshannon=0\.0273\s+significant, below the effect threshold \(0\.1\)/);
  assert.ok(r.stdout.includes('{"name":"sex","thresholds":{"effectMetric":"jensenshannon","effect":0.027}}'), r.stdout);
  assert.ok(r.stdout.includes('"sex": { effectMetric: jensenshannon, effect: 0.027 }'), r.stdout);
});
