/**
 * How errors are answered and logged: a client's deadline passing (504) is a line at info
 * level without a stack, a server fault is an error with its stack; bodies are redacted.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { BerthError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logging/logger.js';
import { Redactor } from '../../../src/security/redact.js';
import { errorHandler } from '../../../src/server/http-errors.js';

test('a 504 is logged at info without a stack; a 500 at error with one; bodies lose the repository path', async (t) => {
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l));
      cb();
    },
  });
  const logger = createLogger('info', sink);
  const http = Fastify();
  t.after(() => http.close());
  http.setErrorHandler(errorHandler(logger, new Redactor(['/srv/models'])));
  http.get('/late', async () => {
    throw new BerthError('BERTH_ERR_DEADLINE_EXCEEDED', "request 'r1' waited in the queue past its deadline and was not run");
  });
  http.get('/broken', async () => {
    throw new BerthError('BERTH_ERR_INFERENCE_FAILED', 'ONNX Runtime failed: Load model from /srv/models/a/1/model.onnx failed');
  });

  const late = await http.inject({ url: '/late' });
  assert.equal(late.statusCode, 504);
  const broken = await http.inject({ url: '/broken' });
  assert.equal(broken.statusCode, 500);
  assert.equal(broken.json().error, 'ONNX Runtime failed: Load model from a/1/model.onnx failed');

  const lateLines = lines.filter((l) => l.code === 'BERTH_ERR_DEADLINE_EXCEEDED');
  assert.equal(lateLines.length, 1);
  assert.equal(lateLines[0].level, 30, 'info');
  assert.ok(!JSON.stringify(lateLines[0]).includes('"stack"'), JSON.stringify(lateLines[0]));
  const brokenLines = lines.filter((l) => l.code === 'BERTH_ERR_INFERENCE_FAILED');
  assert.equal(brokenLines[0]?.level, 50, 'error');
  assert.ok(JSON.stringify(brokenLines[0]).includes('"stack"'));
  assert.ok(JSON.stringify(brokenLines[0]).includes('/srv/models/a/1/model.onnx'), 'the log keeps the path');
});
