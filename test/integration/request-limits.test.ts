/**
 * Bodies that would stall the server are refused before they are parsed: a body larger than
 * the version's signature can need (413, from Content-Length or counted as it streams in) and
 * JSON nested beyond any tensor's depth (400).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXAMPLES, fixture, getJson, startServer } from '../helpers/server.js';
import { infer, readJson } from '../helpers/v2.js';

function chunkedPost(url: string, chunks: Buffer[]): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) }));
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    for (const c of chunks) req.write(c);
    req.end();
  });
}

test('regression: a 60 MB nested body inside the server\'s 64 MiB limit blocked the event loop — bodies are bounded by the signature and by nesting depth', { timeout: 60_000 }, async (t) => {
  const s = await startServer({
    models: [
      { name: 'income', file: join(EXAMPLES, 'income/1/model.onnx') },
      { name: 'identity', file: fixture('identity_all_types.onnx') },
    ],
  });
  t.after(() => s.close());
  const meta = (await getJson(`${s.url}/v2/models/income`)).json;
  const limit = meta.parameters.max_request_bytes as number;
  // 32 rows × 91 floats × 64 bytes + 64 KiB of envelope.
  assert.equal(limit, 65536 + 32 * 91 * 64);
  assert.equal((await getJson(`${s.url}/v2/models/identity`)).json.parameters.max_request_bytes, 64 * 1024 * 1024, 'a BYTES input is not bounded by its signature');

  // Over the version's limit, by Content-Length: 413 at once, naming the limit.
  const big = `{"inputs":[{"name":"features","datatype":"FP32","shape":[1,91],"data":[${'0,'.repeat(limit / 2)}0]}]}`;
  const r1 = await infer(`${s.url}/v2/models/income/infer`, big);
  assert.equal(r1.status, 413, JSON.stringify(r1.json));
  assert.equal(r1.json.code, 'BERTH_ERR_BODY_TOO_LARGE');
  assert.match(r1.json.error, new RegExp(`larger than model 'income' can need \\(${limit} bytes`));
  // The same without a Content-Length (chunked): counted as it arrives.
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const r2 = await chunkedPost(`${s.url}/v2/models/income/infer`, [Buffer.from('{"inputs":'), ...Array.from({ length: 8 }, () => chunk)]);
  assert.equal(r2.status, 413, JSON.stringify(r2.body));
  assert.equal(r2.body.code, 'BERTH_ERR_BODY_TOO_LARGE');

  // Deep nesting is refused before JSON.parse, whatever the model.
  const deep = `{"inputs":[{"name":"in_float32","datatype":"FP32","shape":[1,3],"data":${'['.repeat(200_000)}${']'.repeat(200_000)}}]}`;
  for (const model of ['identity', 'income']) {
    const r = await infer(`${s.url}/v2/models/${model}/infer`, deep);
    if (model === 'income') {
      assert.equal(r.status, 413, 'income: over its size limit first');
      continue;
    }
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error, /^inputs\[0\]\.data(\[0\])+: JSON nested more than 40 levels deep/);
  }
  // Nesting that matches a tensor's shape is fine, and the server keeps serving.
  const ok = await infer(`${s.url}/v2/models/income/infer`, readJson('examples/requests/income.json'));
  assert.equal(ok.status, 200);
});
