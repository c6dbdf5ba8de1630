/**
 * @module test/integration/quantize-batch-invariance
 * Issue 10 item 7, from `berth quantize` to the server: the measured batch invariance the
 * quantizer writes into a model (`berth.quantize.batch_invariant`) decides whether the
 * server merges requests for it. Dynamic INT8 of the income model is served unbatched with
 * the reason; static QDQ of the same model is batched. Real models, real HTTP on loopback.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runQuantize, type QuantizeFlags } from '../../src/cli/quantize.js';
import { readModel } from '../../src/onnx/io.js';
import { entriesToMap } from '../../src/onnx/types.js';
import { EXAMPLES, ROOT, getJson, makeRepository, startServer } from '../helpers/server.js';

const base: QuantizeFlags = {
  mode: 'dynamic', method: 'minmax', calibrationLimit: 1000, guard: false, weightType: 'int8', activationType: 'uint8',
  dynamicFormat: 'onnx', keepIoTypes: true, threads: 1, latency: false, servedBatch: 32, splitSeed: 1,
  validation: join(ROOT, 'examples/data/adult/test-encoded.json'), validationLimit: 2000,
};

test('a dynamic-INT8 model measured batch-dependent is served unbatched; a static one is batched', async (t) => {
  const repo = makeRepository([{ name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') }]);
  const src = join(repo, 'income/1/model.onnx');
  const quiet = { out: (): void => {}, err: (): void => {} };
  assert.equal(await runQuantize(src, { ...base, mode: 'dynamic', intoRepository: repo }, quiet), 0);
  assert.equal(await runQuantize(src, { ...base, mode: 'static', intoRepository: repo }, quiet), 0);
  const flag = (v: number): string | undefined => entriesToMap(readModel(join(repo, `income/${v}/model.onnx`)).metadataProps).get('berth.quantize.batch_invariant');
  assert.equal(flag(2), 'false', 'dynamic: rows differ alone vs in a batch of 32');
  assert.equal(flag(3), 'true', 'static: fixed scales');

  const s = await startServer({ repo, config: { models: { versionPolicy: { all: {} } } } });
  t.after(() => s.close());
  const dynamic = (await getJson(`${s.url}/v2/models/income/versions/2`)).json;
  const fixed = (await getJson(`${s.url}/v2/models/income/versions/3`)).json;
  assert.equal(dynamic.parameters.batching, false);
  assert.match(dynamic.parameters.batching_reason, /berth\.quantize\.batch_invariant=false/);
  assert.equal(fixed.parameters.batching, true, fixed.parameters.batching_reason);
});
