/**
 * `berth reference` writes the version's anomaly profile from the same reference rows as the
 * drift profile (raw records through a tabular spec, or encoded tensors), says what it wrote,
 * and can skip it (--no-anomaly) or write only it (--anomaly-only).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { checkAnomalyProfile, type OodModel } from '../../src/anomaly/profile.js';
import { EXAMPLES, ROOT } from '../helpers/server.js';

const MAIN = join(ROOT, 'src/cli/main.ts');

function version(t: TestContext, model: string): string {
  const repo = mkdtempSync(join(tmpdir(), 'berth-reference-anomaly-'));
  t.after(() => rmSync(repo, { recursive: true, force: true }));
  cpSync(join(EXAMPLES, `${model}/1/model.onnx`), join(repo, `${model}/1/model.onnx`));
  return join(repo, `${model}/1`);
}

const reference = (dir: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'reference', dir, ...args], { encoding: 'utf8' });
const read = (dir: string) => checkAnomalyProfile(JSON.parse(readFileSync(join(dir, 'anomaly.profile.json'), 'utf8')), 'anomaly.profile.json');
const RAW = ['--raw', join(ROOT, 'examples/data/adult/adult.data.gz'), '--preprocessing', join(EXAMPLES, 'income/preprocessing.json')];

test('raw records through the spec: the anomaly profile beside the drift profile, with raw field ranges and categories, and what was written', { timeout: 60_000 }, (t) => {
  const dir = version(t, 'income');
  const res = reference(dir, [...RAW, '--limit', '3000']);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /reference\.profile\.json: 3000 rows/);
  assert.match(res.stdout, /anomaly\.profile\.json: anomaly profile on 3000 rows, 12 raw fields \(5 numeric ranges, 7 categorical\); OOD threshold [\d.]+ \(Mahalanobis distance² over 91 elements; 99% of the reference rows score at or below it\)/);
  const p = read(dir);
  assert.deepEqual([p.rows, p.input.name, p.input.width], [3000, 'features', 91]);
  const age = p.fields!.find((f) => f.name === 'age')!;
  assert.equal(age.type, 'numeric');
  const sex = p.fields!.find((f) => f.name === 'sex')!;
  assert.ok(sex.type === 'categorical' && sex.counts.Male! + sex.counts.Female! === 3000);
  assert.equal((p.ood as OodModel).referenceScores.length, 1000);
});

test('encoded tensors (--data): element ranges and the OOD score in input space; --anomaly-only leaves the drift profile alone', { timeout: 60_000 }, (t) => {
  const dir = version(t, 'digits');
  const res = reference(dir, ['--data', join(ROOT, 'examples/data/digits/test-images.f32'), '--anomaly-only']);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /anomaly profile on 360 rows, 64 input elements' ranges; OOD threshold [\d.]+ \(Mahalanobis distance² over 64 elements/);
  assert.ok(!existsSync(join(dir, 'reference.profile.json')), 'only the anomaly profile');
  const p = read(dir);
  assert.deepEqual([p.input.name, p.input.width, p.fields], ['image', 64, undefined]);
  assert.equal(p.elements.max[0], 0, 'the corner pixel is blank in every image');
  assert.equal(Math.max(...p.elements.max), 1);
});

test('--no-anomaly writes the drift profile only and says the server runs only field checks; contradictory flags are refused', { timeout: 60_000 }, (t) => {
  const dir = version(t, 'income');
  const res = reference(dir, [...RAW, '--limit', '500', '--no-anomaly']);
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /no anomaly profile written \(--no-anomaly\)/);
  assert.ok(existsSync(join(dir, 'reference.profile.json')) && !existsSync(join(dir, 'anomaly.profile.json')));
  const both = reference(dir, [...RAW, '--limit', '500', '--no-anomaly', '--anomaly-only']);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--anomaly-only and --no-anomaly contradict each other/);
});
