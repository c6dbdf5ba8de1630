import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeModel, makeGraph, makeModel, parseModelMetadata, readModel, readModelMetadata } from '../../../src/onnx/index.js';

const files = [
  'examples/models/income/1/model.onnx',
  'examples/models/digits/1/model.onnx',
  ...readdirSync('test/fixtures/models').filter((f) => f.endsWith('.onnx')).map((f) => join('test/fixtures/models', f)),
];

test('the field walker reads the same doc string and metadata_props as the full protobuf decoder', () => {
  for (const f of files) {
    const fast = readModelMetadata(f);
    const full = readModel(f);
    assert.equal(fast.docString, full.docString ?? '', f);
    assert.deepEqual(fast.props, Object.fromEntries((full.metadataProps ?? []).map((p) => [p.key, p.value])), f);
    assert.equal(fast.producerName, full.producerName ?? '', f);
  }
  assert.equal(readModelMetadata('examples/models/income/1/model.onnx').props['berth.metrics.test_accuracy'], '0.855967');
});

test('a model written by Berth round-trips its metadata; truncated bytes throw instead of looping', () => {
  const model = makeModel(makeGraph('g', [], [], []));
  model.docString = 'doc ✓';
  model.modelVersion = 3;
  model.metadataProps = [{ key: 'a', value: '1' }, { key: 'b', value: 'two' }];
  const bytes = encodeModel(model);
  const m = parseModelMetadata(bytes);
  assert.equal(m.docString, 'doc ✓');
  assert.equal(m.modelVersion, 3);
  assert.deepEqual(m.props, { a: '1', b: 'two' });
  assert.throws(() => parseModelMetadata(bytes.subarray(0, bytes.length - 2)), /truncated/);
});
