import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXAMPLES, getJson, postJson, startServer } from '../helpers/server.js';
import { join } from 'node:path';

test('serves the income example over V2', async (t) => {
  const s = await startServer({ models: [{ name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') }] });
  t.after(() => s.close());
  const meta = await getJson(`${s.url}/v2/models/income`);
  assert.equal(meta.status, 200);
  const row = new Array(91).fill(0);
  const r = await postJson(`${s.url}/v2/models/income/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 91], data: row }] });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.outputs[0].name, 'probabilities');
});
