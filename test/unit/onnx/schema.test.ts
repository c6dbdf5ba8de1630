/**
 * @module test/unit/onnx/schema
 * The checked-in descriptor must equal a fresh parse of onnx.proto (run
 * `npx tsx src/onnx/generate-descriptor.ts` after editing the schema).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ONNX_DESCRIPTOR } from '../../../src/onnx/descriptor.js';
import { descriptorFromProto } from '../../../src/onnx/generate-descriptor.js';

test('descriptor.ts is generated from onnx.proto', () => {
  const proto = readFileSync(fileURLToPath(new URL('../../../src/onnx/onnx.proto', import.meta.url)), 'utf8');
  assert.deepEqual(JSON.parse(JSON.stringify(descriptorFromProto(proto))), JSON.parse(JSON.stringify(ONNX_DESCRIPTOR)));
});

test('schema carries IR 10 fields (TensorProto.metadata_props, NodeProto.overload, INT4)', () => {
  const onnx = (ONNX_DESCRIPTOR as { nested: { onnx: { nested: Record<string, { fields?: Record<string, { id: number }>; nested?: Record<string, { values?: Record<string, number> }> }> } } }).nested.onnx.nested;
  assert.equal(onnx.TensorProto!.fields!.metadataProps!.id, 16);
  assert.equal(onnx.NodeProto!.fields!.overload!.id, 8);
  assert.equal(onnx.TensorProto!.nested!.DataType!.values!.INT4, 22);
  assert.equal(onnx.FunctionProto!.fields!.valueInfo!.id, 12);
});
