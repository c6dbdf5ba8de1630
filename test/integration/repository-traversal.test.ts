/**
 * The repository API only ever reaches the repository's own model directories: a name with
 * a path in it, an alias of a served model, or a symlink out of the repository is refused
 * before anything is read or loaded.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, fixture, getJson, postJson, startServer } from '../helpers/server.js';

test('regression: POST /v2/repository/models/..%2Foutside%2Fevil/load served a model from outside the repository', async (t) => {
  const outside = mkdtempSync(join(tmpdir(), 'berth-outside-'));
  mkdirSync(join(outside, 'evil/1'), { recursive: true });
  cpSync(fixture('mlp_torch.onnx'), join(outside, 'evil/1/model.onnx'));
  const s = await startServer({ models: [{ name: 'digits', file: join(EXAMPLES, 'digits/1/model.onnx') }] });
  t.after(async () => {
    await s.close();
    rmSync(outside, { recursive: true, force: true });
  });
  // A symlinked model directory pointing outside is not a repository model either.
  symlinkSync(join(outside, 'evil'), join(s.repo, 'linked'));
  const sessionsBefore = s.app.pool.sessionCounts().reduce((a, b) => a + b, 0);
  const rel = join('..', outside.slice(1), 'evil').replace(/\//g, '%2F');
  for (const name of [rel, '..%2F..%2F..%2Ftmp', '.%2Fdigits', 'digits%2F.', 'digits%2F', 'digits%2F..%2F..', '.hidden', 'linked', '%2Fetc']) {
    const r = await postJson(`${s.url}/v2/repository/models/${name}/load`, {});
    assert.equal(r.status, 404, `${name}: ${JSON.stringify(r.json)}`);
    assert.equal(r.json.code, 'BERTH_ERR_MODEL_NOT_FOUND', name);
    assert.match(r.json.error, /is one directory of the repository/);
  }
  assert.equal(s.app.pool.sessionCounts().reduce((a, b) => a + b, 0), sessionsBefore, 'no session was loaded for an alias or an outside path');
  const index = (await postJson(`${s.url}/v2/repository/index`, {})).json as { name: string }[];
  assert.deepEqual(index.map((e) => e.name), ['digits']);
  assert.equal((await getJson(`${s.url}/v2/models/${rel}`)).status, 404);
  // The real name still loads.
  assert.equal((await postJson(`${s.url}/v2/repository/models/digits/load`, {})).status, 200);
});

test('a berth.yaml whose defaultModelFilename is a path is refused', async (t) => {
  const repo = mkdtempSync(join(tmpdir(), 'berth-repo-'));
  mkdirSync(join(repo, 'm/1'), { recursive: true });
  cpSync(fixture('mlp_torch.onnx'), join(repo, 'm/1/model.onnx'));
  writeFileSync(join(repo, 'm/berth.yaml'), 'defaultModelFilename: ../../elsewhere.onnx\n');
  const s = await startServer({ repo });
  t.after(async () => {
    await s.close();
    rmSync(repo, { recursive: true, force: true });
  });
  const e = ((await postJson(`${s.url}/v2/repository/index`, {})).json as { name: string; state: string; reason: string }[]).find((x) => x.name === 'm')!;
  assert.equal(e.state, 'UNAVAILABLE');
  assert.match(e.reason, /defaultModelFilename/);
});
