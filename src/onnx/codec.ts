/**
 * @module onnx/codec
 * Encodes and decodes ONNX protobuf messages with protobufjs, using the schema in
 * `descriptor.ts`. Decoding a Node `Buffer` leaves every `bytes` field (raw_data above all)
 * as a view into that buffer, so a 2 GB model is held in memory once, not twice.
 * Fields are written in field-number order, as ONNX's C++ serializer does, so a decoded
 * model re-encodes to the same bytes.
 */
import protobuf from 'protobufjs';
import { BerthError, messageOf } from '../errors.js';
import { ONNX_DESCRIPTOR } from './descriptor.js';
import type { ModelProto, TensorProto } from './types.js';

/** Protobuf messages cannot exceed 2 GiB; bigger models must move weights to external data. */
export const MAX_PROTO_BYTES = 2 ** 31 - 1;

const root = protobuf.Root.fromJSON(ONNX_DESCRIPTOR as protobuf.INamespace);
const ModelType = root.lookupType('onnx.ModelProto');
const TensorType = root.lookupType('onnx.TensorProto');

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a serialized ModelProto. Throws BERTH_ERR_ONNX_DECODE on malformed input. */
export function decodeModel(bytes: Uint8Array, what = 'model'): ModelProto {
  let model: ModelProto;
  try {
    model = ModelType.decode(asBuffer(bytes)) as unknown as ModelProto;
  } catch (err) {
    throw new BerthError('BERTH_ERR_ONNX_DECODE', `${what} is not a valid ONNX model (protobuf decode failed: ${messageOf(err)})`, { cause: err });
  }
  if (!model.graph) {
    throw new BerthError('BERTH_ERR_ONNX_DECODE', `${what} is not a valid ONNX model: it has no graph`);
  }
  return model;
}

/** Serializes a ModelProto. Throws BERTH_ERR_ONNX_TOO_LARGE past the 2 GiB protobuf limit. */
export function encodeModel(model: ModelProto): Buffer {
  const writer = ModelType.encode(model as unknown as protobuf.Message);
  if (writer.len > MAX_PROTO_BYTES) {
    throw new BerthError('BERTH_ERR_ONNX_TOO_LARGE',
      `the model would serialize to ${writer.len} bytes, over protobuf's 2 GiB limit; write it with external data`);
  }
  return asBuffer(writer.finish());
}

/** Serialized size in bytes without building the buffer. */
export function encodedModelSize(model: ModelProto): number {
  return ModelType.encode(model as unknown as protobuf.Message).len;
}

export function decodeTensor(bytes: Uint8Array): TensorProto {
  return TensorType.decode(asBuffer(bytes)) as unknown as TensorProto;
}

export function encodeTensor(tensor: TensorProto): Buffer {
  return asBuffer(TensorType.encode(tensor as unknown as protobuf.Message).finish());
}
