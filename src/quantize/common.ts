/**
 * @module quantize/common
 * Pieces the dynamic, static and FP16 passes share: stable node ids, the per-node decision
 * record that ends up in the report, initializer bookkeeping and opset checks.
 */
import { BerthError } from '../errors.js';
import { makeTensor } from '../onnx/build.js';
import { consumerMap, initializerMap } from '../onnx/graph.js';
import { isExternal, tensorDims, tensorToFloat32, type NumericArray } from '../onnx/tensor.js';
import { DataType, toNumber, type GraphProto, type ModelProto, type TensorProto } from '../onnx/types.js';

/** What happened to one node, for the report and the accuracy guard. */
export interface NodeDecision {
  /** The node's name (unnamed nodes get `<OpType>_<index>`, the same on every run). */
  node: string;
  opType: string;
  quantized: boolean;
  reason: string;
}

/** Gives every unnamed node a deterministic unique name, so decisions can refer to it. */
export function ensureNodeNames(graph: GraphProto): void {
  const taken = new Set((graph.node ?? []).map((n) => n.name ?? '').filter((n) => n !== ''));
  (graph.node ?? []).forEach((n, i) => {
    if (n.name !== undefined && n.name !== '') return;
    let name = `${n.opType ?? 'Node'}_${i}`;
    for (let k = 1; taken.has(name); k++) name = `${n.opType ?? 'Node'}_${i}_${k}`;
    taken.add(name);
    n.name = name;
  });
}

export function opsetVersion(model: ModelProto, domain = ''): number {
  const entry = (model.opsetImport ?? []).find((o) => (o.domain ?? '') === domain || (domain === '' && o.domain === 'ai.onnx'));
  return entry === undefined ? 0 : toNumber(entry.version);
}

export function ensureOpset(model: ModelProto, domain: string, version: number): void {
  const list = (model.opsetImport ??= []);
  if (!list.some((o) => (o.domain ?? '') === domain)) list.push({ domain, version });
}

/** A float initializer as Float32Array (a view where possible), or undefined if `name` is not one. */
export function floatInitializer(inits: ReadonlyMap<string, TensorProto>, name: string | undefined): { tensor: TensorProto; data: Float32Array; dims: number[] } | undefined {
  if (name === undefined || name === '') return undefined;
  const t = inits.get(name);
  if (t === undefined || t.dataType !== DataType.FLOAT || isExternal(t)) return undefined;
  return { tensor: t, data: tensorToFloat32(t), dims: tensorDims(t) };
}

/** Adds an initializer to the graph and to the lookup map. */
export function addInitializer(graph: GraphProto, inits: Map<string, TensorProto>, name: string, dataType: number, dims: readonly number[], data: NumericArray | readonly number[]): string {
  const t = makeTensor(name, dataType, dims, data);
  (graph.initializer ??= []).push(t);
  inits.set(name, t);
  return name;
}

/** Drops initializers nothing reads any more (graph outputs and inputs count as reads). */
export function removeUnusedInitializers(graph: GraphProto): void {
  const used = new Set<string>(consumerMap(graph).keys());
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  const names = new Set(graph.initializer.map((t) => t.name));
  // Inputs that merely declared a dropped initializer (IR < 4 style) go too.
  const initNamesBefore = initializerMap(graph);
  graph.input = (graph.input ?? []).filter((v) => names.has(v.name) || !initNamesBefore.has(v.name ?? '') || used.has(v.name ?? ''));
}

/** True when the graph has at least one float initializer of the given minimum size. */
export function hasFloatWeights(graph: GraphProto, minElements = 2): boolean {
  return (graph.initializer ?? []).some((t) => t.dataType === DataType.FLOAT && tensorDims(t).reduce((a, d) => a * d, 1) >= minElements);
}

export function noWeightsError(mode: string): BerthError {
  return new BerthError('BERTH_ERR_QUANTIZE_NO_WEIGHTS', `the model has no float weights that ${mode} quantization can convert (no FLOAT initializers feeding MatMul, Gemm or Conv)`);
}
