/**
 * @module quantize/static-qdq
 * Static INT8 in QDQ form. Weights become int8 initializers read through DequantizeLinear;
 * each activation a quantized op reads or writes gets a QuantizeLinear→DequantizeLinear pair
 * with the scale and zero point from calibration. The model stays valid ONNX with float
 * semantics everywhere, and ONNX Runtime's QDQ fusions turn DQ→Conv→Q into QLinearConv,
 * DQ→MatMul→Q into QLinearMatMul and DQ→Gemm→Q into QGemm (int8 kernels).
 *
 * What is quantized, as ORT's QDQ quantizer does by default:
 *   - Conv, MatMul, Gemm: activation inputs (uint8, asymmetric), weights (int8, symmetric,
 *     per tensor or per output channel), bias as int32 with scale = input scale × weight scale;
 *   - Relu right after one of those is folded away: the output's QuantizeLinear uses the Relu
 *     output's range, whose zero point is the type minimum, so quantization itself clamps at 0;
 *   - MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze on a quantized input pass it
 *     through with the input's own scale and zero point, so ORT drops their QDQ and runs them
 *     on uint8 data.
 * Everything else (Softmax, ArgMax, …) stays float and reads the dequantized value.
 */
import { BerthError } from '../errors.js';
import { makeNode } from '../onnx/build.js';
import { attrFloat, attrInt, consumerMap, initializerMap, NameAllocator, producerMap, replaceInput, setAttribute, makeAttribute, topologicalSort } from '../onnx/graph.js';
import { inferElemTypes } from '../onnx/infer-types.js';
import { DataType, type ModelProto, type NodeProto } from '../onnx/types.js';
import type { TensorRange } from './calibrate.js';
import { addInitializer, ensureNodeNames, floatInitializer, opsetVersion, removeUnusedInitializers, type NodeDecision } from './common.js';
import { computeScaleZeroPoint, quantizeBias, quantizeTensor, quantRange, type QuantParams, type QuantType } from './params.js';

export interface StaticOptions {
  perChannel: boolean;
  reduceRange: boolean;
  activationType: QuantType;
  weightType: QuantType;
  /** Symmetric activation ranges (ORT's ActivationSymmetric; default false). */
  symmetricActivations: boolean;
  /** Op types to quantize (default: all supported). */
  opTypes?: ReadonlySet<string>;
  /** Node names to leave in float. */
  exclude: ReadonlySet<string>;
}

export const STATIC_COMPUTE_OPS = new Set(['Conv', 'MatMul', 'Gemm']);
export const STATIC_PASS_THROUGH_OPS = new Set(['MaxPool', 'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze']);
export const STATIC_SUPPORTED_OPS = new Set([...STATIC_COMPUTE_OPS, ...STATIC_PASS_THROUGH_OPS, 'Relu']);

interface WeightUse { node: NodeProto; input: number; axis: number; }
interface BiasUse { node: NodeProto; input: number; activation: string; weight: string; beta: number; }

export interface StaticPlan {
  decisions: NodeDecision[];
  /** Tensors that need calibrated ranges. */
  calibrate: string[];
  weights: WeightUse[];
  biases: BiasUse[];
  /** Relu nodes folded into their producer. */
  foldedRelus: Set<NodeProto>;
  /** Activation tensor → the tensor whose quant params it shares (pass-through ops). */
  shared: Map<string, string>;
  /** Every activation tensor that gets a Q/DQ pair. */
  activations: Set<string>;
}

/** Decides what to quantize. Expects a topologically sorted graph with named nodes. */
export function planStatic(model: ModelProto, options: StaticOptions): StaticPlan {
  const graph = model.graph!;
  ensureNodeNames(graph);
  topologicalSort(graph);
  const types = inferElemTypes(graph);
  const inits = initializerMap(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const isFloatActivation = (name: string | undefined): name is string =>
    name !== undefined && name !== '' && !inits.has(name) && types.get(name) === DataType.FLOAT;
  const plan: StaticPlan = { decisions: [], calibrate: [], weights: [], biases: [], foldedRelus: new Set(), shared: new Map(), activations: new Set() };
  const calibrated = new Set<string>();
  const addActivation = (name: string): void => {
    plan.activations.add(name);
    if (!plan.shared.has(name)) calibrated.add(name);
  };
  const allowed = (op: string): boolean => options.opTypes === undefined || options.opTypes.has(op);

  // Pass 1: compute ops (and the Relus they fold); pass 2, in graph order: pass-through ops
  // whose input pass 1 (or an earlier pass-through) quantized.
  const decided = new Map<NodeProto, NodeDecision>();
  const decide = (node: NodeProto, quantized: boolean, reason: string): void => {
    decided.set(node, { node: node.name ?? '', opType: node.opType ?? '', quantized, reason });
  };
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    const inputs = node.input ?? [];
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') { decide(node, false, `custom domain '${node.domain}'`); continue; }
    if (plan.foldedRelus.has(node)) { decide(node, true, 'folded into the preceding quantized op (its QuantizeLinear clamps at 0)'); continue; }
    if (options.exclude.has(node.name ?? '')) { decide(node, false, 'excluded (--exclude or accuracy guard)'); continue; }
    if (!STATIC_SUPPORTED_OPS.has(op)) { decide(node, false, `${op} is not quantized in static mode`); continue; }
    if (!allowed(op)) { decide(node, false, `${op} not in --op-types`); continue; }
    if (!STATIC_COMPUTE_OPS.has(op)) continue;
    {
      const [a, b, c] = inputs;
      if (!isFloatActivation(a)) { decide(node, false, 'first input is not a float activation'); continue; }
      const weight = floatInitializer(inits, b);
      let axis = 0;
      if (op === 'Gemm') {
        if (weight === undefined || weight.dims.length !== 2) { decide(node, false, 'B is not a 2-D float initializer'); continue; }
        axis = attrInt(node, 'transB', 0) === 1 ? 0 : 1;
      } else if (op === 'MatMul') {
        if (weight === undefined && !isFloatActivation(b)) { decide(node, false, 'second input is neither a float weight nor a float activation'); continue; }
        if (weight !== undefined && weight.dims.length < 2) { decide(node, false, 'weight has rank < 2'); continue; }
        axis = weight === undefined ? 0 : weight.dims.length - 1;
      } else if (weight === undefined) {
        decide(node, false, 'weight is not a float initializer'); continue;
      }
      let bias: ReturnType<typeof floatInitializer>;
      if ((op === 'Conv' || op === 'Gemm') && c !== undefined && c !== '') {
        bias = floatInitializer(inits, c);
        const outChannels = weight!.dims[axis]!;
        const biasOk = bias !== undefined && bias.data.length === outChannels && (bias.dims.length === 1 || (bias.dims.length === 2 && bias.dims[0] === 1));
        if (!biasOk) { decide(node, false, `bias '${c}' is not a float initializer of shape [${outChannels}]`); continue; }
      }
      addActivation(a);
      if (weight !== undefined) plan.weights.push({ node, input: 1, axis });
      else addActivation(b!);
      if (bias !== undefined) plan.biases.push({ node, input: 2, activation: a, weight: b!, beta: op === 'Gemm' ? attrFloat(node, 'beta', 1) : 1 });
      // Output: fold a following Relu when it is the only reader and zero is the type minimum.
      const out = node.output?.[0] ?? '';
      const readers = consumers.get(out) ?? [];
      const relu = readers.length === 1 && readers[0]!.opType === 'Relu' && !graphOutputs.has(out) && !options.symmetricActivations
        && !options.exclude.has(readers[0]!.name ?? '') && allowed('Relu') ? readers[0]! : undefined;
      if (relu !== undefined) {
        plan.foldedRelus.add(relu);
        addActivation(relu.output![0]!);
      } else {
        addActivation(out);
      }
      decide(node, true, weight === undefined ? 'both inputs are activations (QLinearMatMul)' : `int8 weights${options.perChannel ? ' per channel' : ''}${bias ? ', int32 bias' : ''}`);
      continue;
    }
  }
  for (const node of graph.node ?? []) {
    if (decided.has(node)) continue;
    const op = node.opType ?? '';
    if (op === 'Relu') { decide(node, false, 'Relu is folded only right after a quantized Conv/MatMul/Gemm'); continue; }
    const [x] = node.input ?? [];
    const outs = (node.output ?? []).filter((o) => o !== '');
    if (x === undefined || !plan.activations.has(x) || outs.length !== 1) { decide(node, false, 'input is not quantized'); continue; }
    const source = plan.shared.get(x) ?? x;
    plan.shared.set(outs[0]!, source);
    calibrated.delete(outs[0]!);
    plan.activations.add(outs[0]!);
    decide(node, true, 'runs on uint8 data with its input\'s scale');
  }
  plan.decisions = (graph.node ?? []).map((n) => decided.get(n)!);
  plan.calibrate = [...calibrated];
  return plan;
}

/**
 * QDQ needs QuantizeLinear (opset 10) and, per channel, DequantizeLinear's axis (opset 13).
 * Checked before calibrating, which can take long, and again when rewriting.
 */
export function checkStaticOpset(model: ModelProto, perChannel: boolean): void {
  const opset = opsetVersion(model);
  if (opset < 10) throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `static quantization needs opset ≥ 10 (QuantizeLinear); the model uses opset ${opset} — convert it to a newer opset first, or use --mode dynamic or fp16`);
  if (perChannel && opset < 13) {
    throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `per-channel quantization needs opset ≥ 13 (DequantizeLinear axis); the model uses opset ${opset} — drop --per-channel`);
  }
}

/** Rewrites the graph into QDQ form. `ranges` must cover `plan.calibrate`. */
export function applyStatic(model: ModelProto, plan: StaticPlan, ranges: ReadonlyMap<string, TensorRange>, options: StaticOptions): void {
  const graph = model.graph!;
  checkStaticOpset(model, options.perChannel);
  const inits = initializerMap(graph);
  const names = new NameAllocator(graph);
  const newNodes: NodeProto[] = [];
  const qType = options.activationType === 'uint8' ? DataType.UINT8 : DataType.INT8;
  const wType = options.weightType === 'uint8' ? DataType.UINT8 : DataType.INT8;
  const [aMin, aMax] = quantRange(options.activationType, { symmetric: options.symmetricActivations, reduceRange: false });

  // Activation parameters.
  const params = new Map<string, QuantParams>();
  for (const t of plan.calibrate) {
    const r = ranges.get(t);
    if (r === undefined) throw new BerthError('BERTH_ERR_QUANTIZE_CALIBRATION', `no calibrated range for tensor '${t}'`);
    params.set(t, computeScaleZeroPoint(r.min, r.max, aMin, aMax, options.symmetricActivations));
  }
  const paramsOf = (t: string): QuantParams => params.get(plan.shared.get(t) ?? t)!;

  // Folded Relus: the producer writes the Relu's output directly.
  for (const relu of plan.foldedRelus) {
    const producer = producerMap(graph).get(relu.input![0]!)!;
    producer.output![0] = relu.output![0]!;
  }
  graph.node = (graph.node ?? []).filter((n) => !plan.foldedRelus.has(n));

  // Weights.
  const weightScales = new Map<string, Float32Array>();
  const weightCache = new Map<string, string>();
  for (const use of plan.weights) {
    const name = use.node.input![use.input]!;
    let dq = weightCache.get(`${name}|${use.axis}`);
    if (dq === undefined) {
      const w = floatInitializer(inits, name)!;
      const q = quantizeTensor(w.data, w.dims, options.weightType, { symmetric: true, reduceRange: options.reduceRange, axis: options.perChannel ? use.axis : undefined });
      const qName = addInitializer(graph, inits, names.next(`${name}_quantized`), wType, w.dims, q.data);
      const perChannel = q.axis !== undefined;
      const sName = addInitializer(graph, inits, names.next(`${name}_scale`), DataType.FLOAT, perChannel ? [q.scales.length] : [], q.scales);
      const zp = wType === DataType.INT8 ? Int8Array.from(q.zeroPoints) : Uint8Array.from(q.zeroPoints);
      const zName = addInitializer(graph, inits, names.next(`${name}_zero_point`), wType, perChannel ? [zp.length] : [], zp);
      dq = names.next(`${name}_DequantizeLinear_Output`);
      newNodes.push(makeNode('DequantizeLinear', [qName, sName, zName], [dq], {
        name: names.next(`${name}_DequantizeLinear`), ...(perChannel ? { attributes: { axis: use.axis } } : {}),
      }));
      weightCache.set(`${name}|${use.axis}`, dq);
      weightScales.set(dq, q.scales);
    }
    use.node.input![use.input] = dq;
  }

  // Biases: int32, scale = input scale × weight scale, zero point 0.
  for (const use of plan.biases) {
    const name = use.node.input![use.input]!;
    const b = floatInitializer(inits, name)!;
    const data = use.beta === 1 ? b.data : b.data.map((v) => v * use.beta);
    const wScales = weightScales.get(use.node.input![1]!)!;
    const q = quantizeBias(data, paramsOf(use.activation).scale, wScales);
    const qName = addInitializer(graph, inits, names.next(`${name}_quantized`), DataType.INT32, [data.length], q.data);
    const perChannel = q.scales.length > 1;
    const sName = addInitializer(graph, inits, names.next(`${name}_quantized_scale`), DataType.FLOAT, perChannel ? [q.scales.length] : [], q.scales);
    const zName = addInitializer(graph, inits, names.next(`${name}_quantized_zero_point`), DataType.INT32, perChannel ? [q.scales.length] : [], new Int32Array(q.scales.length));
    const dq = names.next(`${name}_DequantizeLinear_Output`);
    newNodes.push(makeNode('DequantizeLinear', [qName, sName, zName], [dq], { name: names.next(`${name}_DequantizeLinear`), ...(perChannel ? { attributes: { axis: 0 } } : {}) }));
    use.node.input![use.input] = dq;
    if (use.beta !== 1) setAttribute(use.node, makeAttribute('beta', { float: 1 }));
  }

  // Activations: Q→DQ after the producer; every reader takes the DQ output.
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const paramNames = new Map<string, [string, string]>();
  const consumers = consumerMap(graph);
  const producers = producerMap(graph);
  for (const t of plan.activations) {
    const p = paramsOf(t);
    const key = plan.shared.get(t) ?? t;
    let pn = paramNames.get(key);
    if (pn === undefined) {
      const zpData = qType === DataType.UINT8 ? Uint8Array.of(p.zeroPoint) : Int8Array.of(p.zeroPoint);
      pn = [addInitializer(graph, inits, names.next(`${key}_scale`), DataType.FLOAT, [], Float32Array.of(p.scale)),
        addInitializer(graph, inits, names.next(`${key}_zero_point`), qType, [], zpData)];
      paramNames.set(key, pn);
    }
    const readers = consumers.get(t) ?? [];
    let source = t;
    let dqOut: string;
    if (graphOutputs.has(t)) {
      const producer = producers.get(t);
      if (producer === undefined) continue; // a graph input that is also an output: leave it alone
      source = names.next(`${t}_QuantizeLinear_Input`);
      producer.output = producer.output!.map((o) => (o === t ? source : o));
      dqOut = t;
    } else {
      dqOut = names.next(`${t}_DequantizeLinear_Output`);
      replaceInput(readers, t, dqOut);
    }
    const qOut = names.next(`${t}_QuantizeLinear_Output`);
    newNodes.push(makeNode('QuantizeLinear', [source, ...pn], [qOut], { name: names.next(`${t}_QuantizeLinear`) }));
    newNodes.push(makeNode('DequantizeLinear', [qOut, ...pn], [dqOut], { name: names.next(`${t}_DequantizeLinear`) }));
  }
  graph.node!.push(...newNodes);
  removeUnusedInitializers(graph);
  topologicalSort(graph);
}
