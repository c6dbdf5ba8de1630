import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { EXAMPLES, ROOT, getJson, makeRepository, postJson, startServer } from '../helpers/server.js';

const MAIN = join(ROOT, 'src/cli/main.ts');

/** First n rows of the pre-encoded Adult test split (float32 LE, 91 per row) and their labels. */
function adultRows(n: number): { rows: number[][]; labels: number[] } {
  const buf = gunzipSync(readFileSync(join(ROOT, 'examples/data/adult/test-encoded.f32.gz')));
  const f = new Float32Array(buf.buffer, buf.byteOffset, n * 91);
  const labels = [...readFileSync(join(ROOT, 'examples/data/adult/test-labels.u8')).subarray(0, n)];
  return { rows: Array.from({ length: n }, (_, i) => Array.from(f.subarray(i * 91, (i + 1) * 91))), labels };
}

test('a model quantized with berth quantize --into-repository is served as the next version with unchanged inputs and outputs', async (t) => {
  const repo = makeRepository([{ name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') }]);
  const q = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'quantize', join(repo, 'income/1/model.onnx'), '--mode', 'dynamic', '--into-repository', repo, '--no-latency', '--validation', join(ROOT, 'examples/data/adult/test-encoded.json'), '--validation-limit', '2000', '--max-accuracy-drop', '1'], { encoding: 'utf8' });
  assert.equal(q.status, 0, q.stderr + q.stdout);
  assert.ok(existsSync(join(repo, 'income/2/model.onnx')), 'written as version 2');

  const s = await startServer({ repo, config: { models: { versionPolicy: { all: {} } } } });
  t.after(() => s.close());
  const fp32 = (await getJson(`${s.url}/v2/models/income/versions/1`)).json;
  const int8 = (await getJson(`${s.url}/v2/models/income/versions/2`)).json;
  assert.deepEqual(int8.inputs, fp32.inputs);
  assert.deepEqual(int8.outputs, fp32.outputs);

  const { rows, labels } = adultRows(200);
  const body = { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, 91], data: rows }], outputs: [{ name: 'label' }] };
  const a = await postJson(`${s.url}/v2/models/income/versions/1/infer`, { ...body, inputs: [{ ...body.inputs[0], shape: [32, 91], data: rows.slice(0, 32) }] });
  assert.equal(a.status, 200, JSON.stringify(a.json));
  // The unversioned request reaches the highest version: the quantized one.
  const latest = await postJson(`${s.url}/v2/models/income/infer`, { ...body, inputs: [{ ...body.inputs[0], shape: [32, 91], data: rows.slice(0, 32) }] });
  assert.equal(latest.json.model_version, '2');

  let agree = 0;
  let correct1 = 0;
  let correct2 = 0;
  for (let start = 0; start < rows.length; start += 32) {
    const chunk = rows.slice(start, start + 32);
    const req = { inputs: [{ name: 'features', datatype: 'FP32', shape: [chunk.length, 91], data: chunk }], outputs: [{ name: 'label' }] };
    const r1 = await postJson(`${s.url}/v2/models/income/versions/1/infer`, req);
    const r2 = await postJson(`${s.url}/v2/models/income/versions/2/infer`, req);
    assert.equal(r2.status, 200, JSON.stringify(r2.json));
    const l1: number[] = r1.json.outputs[0].data;
    const l2: number[] = r2.json.outputs[0].data;
    l1.forEach((v, i) => {
      if (v === l2[i]) agree += 1;
      if (v === labels[start + i]) correct1 += 1;
      if (l2[i] === labels[start + i]) correct2 += 1;
    });
  }
  assert.ok(agree / rows.length >= 0.97, `INT8 agrees with FP32 on ${agree}/${rows.length} rows`);
  assert.ok(Math.abs(correct1 - correct2) <= rows.length * 0.02, `accuracy FP32 ${correct1}, INT8 ${correct2} of ${rows.length}`);
});
