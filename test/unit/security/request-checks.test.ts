/**
 * Host (DNS rebinding), Origin (other web pages) and Content-Type checks, and the redaction
 * of file paths and ONNX Runtime source locations, as pure functions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isBerthError } from '../../../src/errors.js';
import { Redactor } from '../../../src/security/redact.js';
import { checkContentType, HostCheck, isLoopbackAddress, OriginCheck } from '../../../src/security/request-checks.js';

function code(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    assert.ok(isBerthError(e), String(e));
    return e.code;
  }
  return undefined;
}

function message(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected an error');
}

describe('Host check', () => {
  const loop = new HostCheck({ loopback: true, allowedHosts: ['berth.internal', 'api.example.com:8443'] });

  test('a loopback server answers loopback names on its own port and the allowed hosts', () => {
    for (const h of ['localhost:8000', '127.0.0.1:8000', '[::1]:8000', 'LOCALHOST:8000', 'berth.internal:8000', 'berth.internal:1']) assert.equal(code(() => loop.check(h, 8000, false)), undefined, h);
    assert.equal(code(() => loop.check('localhost', 80, false)), undefined, 'no port = the scheme default');
    assert.equal(code(() => loop.check('localhost', 443, true)), undefined);
    assert.equal(code(() => loop.check('api.example.com:8443', 8000, false)), undefined);
  });

  test('DNS-rebinding Host refused: another name, another port, garbage', () => {
    for (const h of ['evil.example:8000', 'localhost:8001', 'localhost', 'api.example.com:8000', '127.0.0.1.evil.example:8000', 'localhost:8000@evil', '']) {
      assert.equal(code(() => loop.check(h, 8000, false)), 'BERTH_ERR_HOST_NOT_ALLOWED', h);
    }
    assert.match(message(() => loop.check('evil.example:8000', 8000, false)), /Host 'evil\.example:8000' is not allowed.*server\.allowedHosts/);
  });

  test('beyond loopback with no allow-list there is no Host check; with one there is', () => {
    assert.equal(code(() => new HostCheck({ loopback: false, allowedHosts: [] }).check('anything:1', 8000, false)), undefined);
    const listed = new HostCheck({ loopback: false, allowedHosts: ['berth.example.com'] });
    assert.equal(code(() => listed.check('berth.example.com', 443, true)), undefined);
    assert.equal(code(() => listed.check('10.0.0.5:8000', 8000, false)), 'BERTH_ERR_HOST_NOT_ALLOWED');
  });

  test('bad allow-list entries name the field', () => {
    assert.match(message(() => new HostCheck({ loopback: true, allowedHosts: ['http://x'] })), /server\.allowedHosts\[0\]/);
  });

  test('loopback addresses', () => {
    for (const a of ['127.0.0.1', '::1', '[::1]', 'localhost']) assert.ok(isLoopbackAddress(a), a);
    for (const a of ['0.0.0.0', '::', '127.0.0.2', '10.0.0.1']) assert.ok(!isLoopbackAddress(a), a);
  });
});

describe('Origin check', () => {
  const oc = new OriginCheck(['https://grafana.example.com', 'http://localhost:3000/']);

  test('no Origin (curl, SDKs) and the server\'s own origin pass', () => {
    assert.equal(code(() => oc.check(undefined, '127.0.0.1:8000')), undefined);
    assert.equal(code(() => oc.check('http://127.0.0.1:8000', '127.0.0.1:8000')), undefined);
    assert.equal(code(() => oc.check('https://berth.example.com', 'berth.example.com')), undefined);
  });

  test('allowed origins pass, normalized', () => {
    assert.equal(code(() => oc.check('https://GRAFANA.example.com', '127.0.0.1:8000')), undefined);
    assert.equal(code(() => oc.check('https://grafana.example.com:443', '127.0.0.1:8000')), undefined);
    assert.equal(code(() => oc.check('http://localhost:3000', '127.0.0.1:8000')), undefined);
    assert.ok(oc.listed('http://localhost:3000'));
  });

  test('cross-origin requests refused: other sites, another port, null, garbage', () => {
    for (const o of ['https://evil.example', 'http://127.0.0.1:8001', 'null', 'file://', 'http://grafana.example.com', 'garbage']) {
      assert.equal(code(() => oc.check(o, '127.0.0.1:8000')), 'BERTH_ERR_ORIGIN_NOT_ALLOWED', o);
    }
    assert.match(message(() => oc.check('https://evil.example', '127.0.0.1:8000')), /Origin 'https:\/\/evil\.example' is not allowed.*server\.allowedOrigins/);
  });

  test('bad allow-list entries name the field', () => {
    assert.match(message(() => new OriginCheck(['grafana.example.com'])), /server\.allowedOrigins\[0\]/);
    assert.match(message(() => new OriginCheck(['https://a.example/path'])), /server\.allowedOrigins\[0\]/);
  });
});

describe('Content-Type check', () => {
  test('JSON routes take application/json (any parameters), infer also octet-stream', () => {
    for (const ct of ['application/json', 'Application/JSON; charset=utf-8']) assert.equal(code(() => checkContentType('json', ct, true)), undefined, ct);
    assert.equal(code(() => checkContentType('infer', 'application/octet-stream', true)), undefined);
    assert.equal(code(() => checkContentType('json', 'application/octet-stream', true)), 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  test('the types a page sends without preflight are refused, with or without a body', () => {
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      assert.equal(code(() => checkContentType('infer', ct, true)), 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', ct);
      assert.equal(code(() => checkContentType('json', ct, false)), 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', `${ct}, empty body`);
    }
  });

  test('a body needs a Content-Type; a bodyless control request does not', () => {
    assert.equal(code(() => checkContentType('json', undefined, false)), undefined);
    assert.match(message(() => checkContentType('infer', undefined, true)), /Content-Type header missing: this endpoint accepts application\/json or application\/octet-stream/);
  });

  test('Content-Type: json gets a 415 naming the header and the accepted types', () => {
    const m = message(() => checkContentType('infer', 'json', true));
    assert.match(m, /Content-Type 'json' is not a media type/);
    assert.match(m, /application\/json or application\/octet-stream/);
  });
});

describe('redaction', () => {
  const r = new Redactor(['/srv/berth/models']);

  test('the repository root is cut off model paths, other text kept', () => {
    const text = 'Load model from /srv/berth/models/income/1/model.onnx failed:Protobuf parsing failed.';
    assert.ok(r.applies(text));
    assert.equal(r.redact(text), 'Load model from income/1/model.onnx failed:Protobuf parsing failed.');
    assert.equal(r.redact('cannot read /srv/berth/models: EACCES'), 'cannot read <repository>: EACCES');
    assert.equal(r.redact('/srv/berth/models-old/x'), '/srv/berth/models-old/x', 'a sibling directory is not the root');
    assert.ok(!r.applies('nothing to see'));
  });

  test('ONNX Runtime source locations and C++ signatures are dropped, the condition kept', () => {
    // The message ONNX Runtime 1.x gives for a Reshape to an impossible shape (seen through the server).
    const ort = "Non-zero status code returned while running Reshape node. Name:'r' Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/tensor/reshape_helper.h:91 onnxruntime::ReshapeHelper::ReshapeHelper(const onnxruntime::TensorShape&, onnxruntime::TensorShapeVector&, bool) input_shape_size == requested_shape_size was false. The input tensor cannot be reshaped to the requested shape. Input shape:{1,4}, requested shape:{3,3}";
    assert.equal(r.redact(ort), "Non-zero status code returned while running Reshape node. Name:'r' Status Message: input_shape_size == requested_shape_size was false. The input tensor cannot be reshaped to the requested shape. Input shape:{1,4}, requested shape:{3,3}");
    const withReturnType = 'Status Message: /onnxruntime_src/onnxruntime/core/framework/execution_frame.cc:171 onnxruntime::common::Status onnxruntime::IExecutionFrame::GetOrCreateNodeOutputMLValue(int, int, const onnxruntime::TensorShape*, OrtValue*&, const onnxruntime::Node&) shape && tensor.Shape() == *shape was false.';
    assert.equal(r.redact(withReturnType), 'Status Message: shape && tensor.Shape() == *shape was false.');
  });
});
