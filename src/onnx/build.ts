/**
 * @module onnx/build
 * Builders for new ONNX objects (nodes, value infos, graphs, models) — the TypeScript
 * counterpart of onnx.helper, used by the quantizer and by tests that make small models.
 */
import { arrayToTensor, type NumericArray } from './tensor.js';
import { makeAttribute, type AttributeValue } from './graph.js';
import { DataType, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from './types.js';

export interface NodeSpec {
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

export function makeNode(opType: string, inputs: string[], outputs: string[], spec: NodeSpec = {}): NodeProto {
  const node: NodeProto = { input: inputs, output: outputs, opType };
  if (spec.name !== undefined) node.name = spec.name;
  if (spec.domain !== undefined && spec.domain !== '') node.domain = spec.domain;
  const attrs = Object.entries(spec.attributes ?? {});
  if (attrs.length > 0) node.attribute = attrs.map(([k, v]) => makeAttribute(k, v));
  return node;
}

/** A tensor value info; shape entries may be numbers or symbolic names ('batch'). Omit shape for "unknown". */
export function makeValueInfo(name: string, elemType: number, shape?: readonly (number | string)[]): ValueInfoProto {
  const tensorType: NonNullable<NonNullable<ValueInfoProto['type']>['tensorType']> = { elemType };
  if (shape !== undefined) {
    tensorType.shape = { dim: shape.map((d) => (typeof d === 'number' && d >= 0 ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) };
  }
  return { name, type: { tensorType } };
}

export function makeTensor(name: string, dataType: number, dims: readonly number[], data: NumericArray | readonly number[]): TensorProto {
  const arr: NumericArray = ArrayBuffer.isView(data) ? data : typedFor(dataType, data);
  return arrayToTensor(name, dataType, dims, arr);
}

function typedFor(dataType: number, data: readonly number[]): NumericArray {
  switch (dataType) {
    case DataType.FLOAT: return Float32Array.from(data);
    case DataType.DOUBLE: return Float64Array.from(data);
    case DataType.INT8: return Int8Array.from(data);
    case DataType.UINT8: case DataType.BOOL: return Uint8Array.from(data);
    case DataType.INT16: return Int16Array.from(data);
    case DataType.UINT16: case DataType.FLOAT16: return Uint16Array.from(data);
    case DataType.INT32: return Int32Array.from(data);
    case DataType.INT64: return BigInt64Array.from(data.map((v) => BigInt(v)));
    default: throw new Error(`makeTensor: no array type for data type ${dataType}`);
  }
}

export function makeGraph(name: string, nodes: NodeProto[], inputs: ValueInfoProto[], outputs: ValueInfoProto[], initializers: TensorProto[] = []): GraphProto {
  return { name, node: nodes, input: inputs, output: outputs, initializer: initializers };
}

export interface ModelSpec {
  /** ai.onnx opset (default 17). */
  opset?: number;
  /** Extra opsets, e.g. { 'com.microsoft': 1 }. */
  opsets?: Record<string, number>;
  irVersion?: number;
  producerName?: string;
}

export function makeModel(graph: GraphProto, spec: ModelSpec = {}): ModelProto {
  const opsetImport = [{ domain: '', version: spec.opset ?? 17 }];
  for (const [domain, version] of Object.entries(spec.opsets ?? {})) opsetImport.push({ domain, version });
  return {
    irVersion: spec.irVersion ?? 8,
    opsetImport,
    producerName: spec.producerName ?? 'berth',
    graph,
  };
}
