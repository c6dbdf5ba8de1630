/**
 * @module onnx/infer-types
 * Element-type inference for every value in a graph (no shapes). ONNX models carry types
 * only for inputs, outputs and initializers; the quantizer and the FP16 pass need to know
 * which intermediate values are float. A rule table covers the standard ops whose output
 * type is not simply their first input's; values it cannot type are left out of the map.
 */
import { attrInt, getAttribute } from './graph.js';
import { DataType, toNumber, type GraphProto, type NodeProto } from './types.js';

const BOOL_OPS = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OPS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
/** Ops whose output type follows input `index` rather than input 0. */
const FOLLOWS_INPUT: Record<string, number> = { Where: 1, OneHot: 2, CastLike: 1 };

/** Value name → TensorProto data type, for every value whose type is known or inferable. */
export function inferElemTypes(graph: GraphProto, outer?: ReadonlyMap<string, number>): Map<string, number> {
  const types = new Map<string, number>(outer ?? []);
  for (const t of graph.initializer ?? []) types.set(t.name ?? '', t.dataType ?? 0);
  for (const list of [graph.input, graph.valueInfo, graph.output]) {
    for (const v of list ?? []) {
      const et = v.type?.tensorType?.elemType;
      if (et !== undefined && et !== 0) types.set(v.name ?? '', et);
    }
  }
  for (const node of graph.node ?? []) {
    const outs = nodeOutputTypes(node, types);
    (node.output ?? []).forEach((o, i) => {
      const t = outs[i];
      if (o !== '' && t !== undefined && !types.has(o)) types.set(o, t);
    });
  }
  return types;
}

function nodeOutputTypes(node: NodeProto, types: ReadonlyMap<string, number>): (number | undefined)[] {
  const op = node.opType ?? '';
  const domain = node.domain ?? '';
  const inputs = node.input ?? [];
  const inType = (i: number): number | undefined => {
    const name = inputs[i];
    return name === undefined || name === '' ? undefined : types.get(name);
  };
  const n = (node.output ?? []).length;
  const all = (t: number | undefined): (number | undefined)[] => new Array<number | undefined>(n).fill(t);

  if (domain === 'ai.onnx.ml') return all(undefined);
  if (domain === 'com.microsoft') {
    if (op === 'DynamicQuantizeMatMul' || op === 'MatMulIntegerToFloat') return all(DataType.FLOAT);
    return [inType(0)];
  }
  if (BOOL_OPS.has(op)) return all(DataType.BOOL);
  if (INT64_OPS.has(op)) return all(DataType.INT64);
  switch (op) {
    case 'Cast': return [attrInt(node, 'to', 0)];
    case 'Constant': {
      const a = node.attribute?.[0];
      if (a === undefined) return [undefined];
      if (a.name === 'value') return [a.t?.dataType];
      if (a.name === 'value_float' || a.name === 'value_floats') return [DataType.FLOAT];
      if (a.name === 'value_int' || a.name === 'value_ints') return [DataType.INT64];
      if (a.name === 'value_string' || a.name === 'value_strings') return [DataType.STRING];
      return [undefined];
    }
    case 'ConstantOfShape': return [getAttribute(node, 'value')?.t?.dataType ?? DataType.FLOAT];
    case 'QuantizeLinear': {
      const zp = inType(2);
      const od = attrInt(node, 'output_dtype', 0);
      return [zp ?? (od !== 0 ? od : DataType.UINT8)];
    }
    case 'DequantizeLinear': return [inType(1) ?? DataType.FLOAT];
    case 'DynamicQuantizeLinear': return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
    case 'MatMulInteger': case 'ConvInteger': return [DataType.INT32];
    case 'QLinearMatMul': case 'QLinearConv': return [inType(7) ?? inType(2)];
    case 'MaxPool': return [inType(0), DataType.INT64];
    case 'TopK': return [inType(0), DataType.INT64];
    case 'Unique': return [inType(0), DataType.INT64, DataType.INT64, DataType.INT64];
    case 'RandomNormal': case 'RandomUniform': return [attrInt(node, 'dtype', DataType.FLOAT)];
    case 'RandomNormalLike': case 'RandomUniformLike': case 'EyeLike': {
      const d = getAttribute(node, 'dtype');
      return [d === undefined ? inType(0) : toNumber(d.i)];
    }
    case 'Multinomial': return [attrInt(node, 'dtype', DataType.INT32)];
    case 'If': case 'Loop': case 'Scan': {
      const body = getAttribute(node, op === 'If' ? 'then_branch' : 'body')?.g;
      const outs = (body?.output ?? []).map((v) => v.type?.tensorType?.elemType || undefined);
      // Loop's body outputs start with the condition; Scan's map one to one.
      return op === 'Loop' ? outs.slice(1) : outs;
    }
    default: {
      const idx = FOLLOWS_INPUT[op] ?? 0;
      return all(inType(idx));
    }
  }
}
