/**
 * The preprocessing pipeline is versioned with the model: a version's spec is found in its
 * folder (else the model's), its content hash is shown in metadata and the index, and a
 * version whose spec is not the one its model was trained with refuses to load while the
 * previous version keeps serving.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { specHash } from '../../src/preprocessing/spec-hash.js';
import { EXAMPLES, getJson, postJson, startServer } from '../helpers/server.js';
import { infer, readJson, waitFor } from '../helpers/v2.js';

const INCOME_DIR = join(EXAMPLES, 'income');
const SPEC = JSON.parse(readFileSync(join(INCOME_DIR, 'preprocessing.json'), 'utf8')) as Record<string, unknown> & { hash: string; features: { mean?: number }[] };

type IndexEntry = { name: string; version?: string; state: string; reason: string; preprocessing_hash?: string };

test('regression: a version whose preprocessing spec differs from the one its model was trained with refuses to load, naming both hashes', { timeout: 60_000 }, async (t) => {
  const s = await startServer({ models: [{ name: 'income', file: join(INCOME_DIR, '1/model.onnx') }] });
  t.after(() => s.close());
  cpSync(join(INCOME_DIR, 'preprocessing.json'), join(s.repo, 'income/preprocessing.json'));
  await postJson(`${s.url}/v2/repository/models/income/load`, {});
  const meta = (await getJson(`${s.url}/v2/models/income`)).json;
  assert.equal(meta.parameters.preprocessing_hash, SPEC.hash, 'the model folder\'s spec serves version 1');
  assert.equal(meta.parameters.preprocessing_kind, 'tabular');
  const idx = async (): Promise<IndexEntry[]> => (await postJson(`${s.url}/v2/repository/index`, {})).json as IndexEntry[];
  assert.equal((await idx()).find((e) => e.version === '1')!.preprocessing_hash, SPEC.hash);

  // Version 2: the same model, but a spec with another mean for age (correctly re-hashed).
  const changed = structuredClone(SPEC);
  changed.features[0]!.mean = 40;
  delete (changed as { hash?: string }).hash;
  changed.hash = specHash(changed);
  mkdirSync(join(s.repo, 'income/2'));
  writeFileSync(join(s.repo, 'income/2/preprocessing.json'), JSON.stringify(changed));
  cpSync(join(INCOME_DIR, '1/model.onnx'), join(s.repo, 'income/2/model.onnx'));
  const v2 = await waitFor('version 2 refused', async () => (await idx()).find((e) => e.version === '2' && e.state === 'UNAVAILABLE'));
  assert.match(v2.reason, new RegExp(`income/2/preprocessing\\.json hashes to ${changed.hash}, but the model was trained with spec ${SPEC.hash}`));
  // Version 1 keeps serving.
  assert.equal((await infer(`${s.url}/v2/models/income/infer`, readJson('examples/requests/income.json'))).status, 200);
  assert.equal((await getJson(`${s.url}/v2/models/income`)).json.versions.join(), '1');

  // A spec edited after its hash was written is refused as well.
  const stale = structuredClone(SPEC);
  stale.features[0]!.mean = 41;
  writeFileSync(join(s.repo, 'income/2/preprocessing.json'), JSON.stringify(stale));
  const v2b = await waitFor('version 2 refused again', async () => (await idx()).find((e) => e.version === '2' && /edited after its hash was written/.test(e.reason)));
  assert.equal(v2b.state, 'UNAVAILABLE');

  // The trained-with spec in the version folder (pretty-printed differently: the hash is of the content) loads.
  writeFileSync(join(s.repo, 'income/2/preprocessing.json'), JSON.stringify(SPEC, null, 1));
  const ok = await waitFor('version 2 READY', async () => (await idx()).find((e) => e.version === '2' && e.state === 'READY'));
  assert.equal(ok.preprocessing_hash, SPEC.hash);
});
