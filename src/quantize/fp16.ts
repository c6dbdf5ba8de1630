/**
 * @module quantize/fp16
 * FP16 conversion: float32 initializers, constants and computation become float16, halving
 * the weights. With `keepIoTypes` (the default) the model's inputs and outputs stay float32:
 * a Cast follows each float input and precedes each float output, so clients see no change.
 * Ops that need float32 (the blocklist, taken from onnxconverter-common's default: ML-domain
 * ops, Resize, Range, TopK, CumSum, Min, Max, …), nodes with subgraphs, custom-domain nodes
 * and `exclude`d nodes stay float32, with Casts on their boundaries. Values are clamped to
 * ±65504 (the largest float16) instead of overflowing to infinity.
 */
import { makeNode } from '../onnx/build.js';
import { consumerMap, getAttribute, initializerMap, NameAllocator, producerMap, topologicalSort } from '../onnx/graph.js';
import { inferElemTypes } from '../onnx/infer-types.js';
import { arrayToTensor, float32ToFloat16Array, tensorDims, tensorToFloat32 } from '../onnx/tensor.js';
import { DataType, type ModelProto, type NodeProto, type TensorProto } from '../onnx/types.js';
import { ensureNodeNames, type NodeDecision } from './common.js';

export const FP16_OP_BLOCKLIST = new Set([
  'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer',
  'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'RandomUniformLike', 'SVMClassifier',
  'SVMRegressor', 'Scaler', 'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'ZipMap', 'NonMaxSuppression', 'TopK',
  'RoiAlign', 'Resize', 'Range', 'CumSum', 'Min', 'Max', 'Upsample',
]);

export interface Fp16Options {
  keepIoTypes: boolean;
  exclude: ReadonlySet<string>;
  /** Extra op types to keep in float32. */
  blockOps?: ReadonlySet<string>;
}

const FP16_MAX = 65504;

function toFp16Tensor(t: TensorProto, name: string): TensorProto {
  const src = tensorToFloat32(t);
  const clamped = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) clamped[i] = Math.max(-FP16_MAX, Math.min(FP16_MAX, src[i]!));
  const out = arrayToTensor(name, DataType.FLOAT16, tensorDims(t), float32ToFloat16Array(clamped));
  if (t.docString) out.docString = t.docString;
  return out;
}

/** Converts the model in place; returns one decision per original node. */
export function convertToFp16(model: ModelProto, options: Fp16Options): NodeDecision[] {
  const graph = model.graph!;
  ensureNodeNames(graph);
  topologicalSort(graph);
  const types = inferElemTypes(graph);
  const inits = initializerMap(graph);
  const names = new NameAllocator(graph);
  const decisions: NodeDecision[] = [];
  const blockedReason = (n: NodeProto): string | undefined => {
    const op = n.opType ?? '';
    if ((n.domain ?? '') !== '' && n.domain !== 'ai.onnx') return `custom domain '${n.domain}'`;
    if (FP16_OP_BLOCKLIST.has(op) || options.blockOps?.has(op)) return `${op} is on the FP16 blocklist`;
    if ((n.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0)) return 'has subgraphs';
    if (options.exclude.has(n.name ?? '')) return 'excluded (--exclude or accuracy guard)';
    return undefined;
  };
  const blocked = new Set<NodeProto>();
  for (const n of graph.node ?? []) {
    const why = blockedReason(n);
    if (why !== undefined) blocked.add(n);
    const touchesFloat = [...(n.input ?? []), ...(n.output ?? [])].some((v) => types.get(v) === DataType.FLOAT);
    decisions.push({ node: n.name ?? '', opType: n.opType ?? '', quantized: why === undefined && touchesFloat, reason: why ?? (touchesFloat ? 'float16' : 'no float values') });
  }
  const consumers = consumerMap(graph);
  const producers = producerMap(graph);
  const isFloat = (v: string): boolean => types.get(v) === DataType.FLOAT;

  // Which float values end up float16: produced by a converted node, or a converted initializer.
  const half = new Set<string>();
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    if (t.dataType !== DataType.FLOAT) continue;
    const readers = consumers.get(name) ?? [];
    if (readers.some((r) => !blocked.has(r))) half.add(name);
  }
  graph.initializer = (graph.initializer ?? []).map((t) => (half.has(t.name ?? '') ? toFp16Tensor(t, t.name ?? '') : t));
  for (const n of graph.node ?? []) {
    if (blocked.has(n)) continue;
    for (const o of n.output ?? []) if (isFloat(o)) half.add(o);
    if (n.opType === 'Cast' && getAttribute(n, 'to') !== undefined && Number(getAttribute(n, 'to')!.i) === DataType.FLOAT) {
      getAttribute(n, 'to')!.i = DataType.FLOAT16;
    }
    for (const a of n.attribute ?? []) {
      if (a.t && a.t.dataType === DataType.FLOAT) a.t = toFp16Tensor(a.t, a.t.name ?? '');
    }
  }
  const inputNames = new Set((graph.input ?? []).map((v) => v.name ?? ''));
  for (const v of graph.input ?? []) {
    const name = v.name ?? '';
    if (inits.has(name) || !isFloat(name)) continue;
    if (!options.keepIoTypes) { half.add(name); v.type!.tensorType!.elemType = DataType.FLOAT16; }
  }

  // Casts where a reader wants the other precision.
  const casts = new Map<string, string>();
  const newNodes: NodeProto[] = [];
  const castOf = (value: string, to: number): string => {
    const key = `${value}|${to}`;
    let out = casts.get(key);
    if (out === undefined) {
      out = names.next(`${value}_${to === DataType.FLOAT16 ? 'fp16' : 'fp32'}`);
      newNodes.push(makeNode('Cast', [value], [out], { name: names.next(`${value}_cast_${to === DataType.FLOAT16 ? 'fp16' : 'fp32'}`), attributes: { to } }));
      casts.set(key, out);
    }
    return out;
  };
  for (const n of graph.node ?? []) {
    const wantHalf = !blocked.has(n);
    const inputs = n.input ?? [];
    for (let i = 0; i < inputs.length; i++) {
      const v = inputs[i]!;
      if (v === '' || !isFloat(v)) continue;
      const isHalf = half.has(v);
      if (wantHalf && !isHalf) inputs[i] = castOf(v, DataType.FLOAT16);
      else if (!wantHalf && isHalf) inputs[i] = castOf(v, DataType.FLOAT);
    }
  }
  // Outputs: with keepIoTypes a float16 output is produced under a new name and cast back.
  for (const v of graph.output ?? []) {
    const name = v.name ?? '';
    if (!isFloat(name) || !half.has(name)) continue;
    if (!options.keepIoTypes) { v.type!.tensorType!.elemType = DataType.FLOAT16; continue; }
    if (inputNames.has(name) || inits.has(name)) continue;
    const producer = producers.get(name)!;
    const renamed = names.next(`${name}_fp16`);
    producer.output = producer.output!.map((o) => (o === name ? renamed : o));
    for (const r of consumers.get(name) ?? []) r.input = r.input!.map((x) => (x === name ? renamed : x));
    newNodes.push(makeNode('Cast', [renamed], [name], { name: names.next(`${name}_cast_fp32`), attributes: { to: DataType.FLOAT } }));
  }
  for (const vi of graph.valueInfo ?? []) {
    if (half.has(vi.name ?? '') && vi.type?.tensorType?.elemType === DataType.FLOAT) vi.type.tensorType.elemType = DataType.FLOAT16;
  }
  graph.node!.push(...newNodes);
  topologicalSort(graph);
  return decisions;
}
