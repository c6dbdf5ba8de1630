/**
 * @module quantize/dynamic
 * Dynamic INT8: weights are quantized once, at conversion time (int8, symmetric, per tensor
 * or per output channel); activations are quantized at run time, per batch, by
 * DynamicQuantizeLinear (uint8, asymmetric, range = that batch's min/max). No calibration
 * data is needed. Bias stays float and is added after the scale multiply.
 *
 * Two output forms, same arithmetic:
 *   - 'onnx': DynamicQuantizeLinear → MatMulInteger → Cast → Mul(x_scale × w_scale) [→ Add bias],
 *     standard ONNX ops (what ORT's quantize_dynamic writes); ORT fuses the chain into
 *     DynamicQuantizeMatMul when it loads the model;
 *   - 'contrib': com.microsoft DynamicQuantizeMatMul directly, bias included.
 * Conv always uses ConvInteger (there is no fused contrib op for it). Gemm (which ORT's tool
 * leaves in float) is handled as MatMul with B transposed when transB=1 and alpha folded into
 * the weight scale; beta·C becomes the bias.
 */
import { BerthError } from '../errors.js';
import { makeNode } from '../onnx/build.js';
import { attrFloat, attrInt, getAttribute, initializerMap, NameAllocator, topologicalSort } from '../onnx/graph.js';
import { inferElemTypes } from '../onnx/infer-types.js';
import { DataType, type ModelProto, type NodeProto } from '../onnx/types.js';
import { addInitializer, ensureNodeNames, ensureOpset, floatInitializer, opsetVersion, removeUnusedInitializers, type NodeDecision } from './common.js';
import { quantizeTensor, type QuantType } from './params.js';

export type DynamicFormat = 'onnx' | 'contrib';

export interface DynamicOptions {
  perChannel: boolean;
  reduceRange: boolean;
  weightType: QuantType;
  format: DynamicFormat;
  opTypes?: ReadonlySet<string>;
  exclude: ReadonlySet<string>;
}

export const DYNAMIC_SUPPORTED_OPS = new Set(['MatMul', 'Gemm', 'Conv']);
/**
 * Quantized when no --op-types is given. Conv is opt-in: ONNX Runtime's ConvInteger measured
 * 3.8× (batch 1) to 8× (batch 32) slower than float Conv on the digits CNN, so dynamic Conv
 * only saves size; static (QDQ → QLinearConv) is the mode for CNNs.
 */
export const DYNAMIC_DEFAULT_OPS = new Set(['MatMul', 'Gemm']);

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** Rewrites the model in place; returns one decision per original node. */
export function quantizeDynamic(model: ModelProto, options: DynamicOptions): NodeDecision[] {
  const graph = model.graph!;
  const opset = opsetVersion(model);
  if (opset < 11) throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `dynamic quantization needs opset ≥ 11 (DynamicQuantizeLinear); the model uses ${opset}`);
  ensureNodeNames(graph);
  topologicalSort(graph);
  const types = inferElemTypes(graph);
  const inits = initializerMap(graph);
  const names = new NameAllocator(graph);
  const decisions: NodeDecision[] = [];
  const wType = options.weightType === 'int8' ? DataType.INT8 : DataType.UINT8;
  const symmetric = options.weightType === 'int8';
  const dql = new Map<string, [string, string, string]>();
  const out: NodeProto[] = [];
  let usedContrib = false;

  const isFloatActivation = (name: string | undefined): name is string =>
    name !== undefined && name !== '' && !inits.has(name) && types.get(name) === DataType.FLOAT;
  const quantizeActivation = (x: string): [string, string, string] => {
    let r = dql.get(x);
    if (r === undefined) {
      r = [names.next(`${x}_quantized`), names.next(`${x}_scale`), names.next(`${x}_zero_point`)];
      out.push(makeNode('DynamicQuantizeLinear', [x], [...r], { name: names.next(`${x}_QuantizeLinear`) }));
      dql.set(x, r);
    }
    return r;
  };

  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    const decide = (quantized: boolean, reason: string): void => { decisions.push({ node: node.name ?? '', opType: op, quantized, reason }); };
    const keep = (reason: string): void => { decide(false, reason); out.push(node); };
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') { keep(`custom domain '${node.domain}'`); continue; }
    if (!DYNAMIC_SUPPORTED_OPS.has(op)) { keep(`${op} has no weights to quantize dynamically`); continue; }
    if (options.opTypes === undefined && !DYNAMIC_DEFAULT_OPS.has(op)) { keep(`${op} is opt-in for dynamic mode (ConvInteger is slower than float Conv; use --mode static, or --op-types ${op})`); continue; }
    if (options.opTypes !== undefined && !options.opTypes.has(op)) { keep(`${op} not in --op-types`); continue; }
    if (options.exclude.has(node.name ?? '')) { keep('excluded (--exclude or accuracy guard)'); continue; }
    const [x, wName, cName] = node.input ?? [];
    if (!isFloatActivation(x)) { keep('first input is not a float activation'); continue; }
    const w = floatInitializer(inits, wName);
    if (w === undefined) { keep('weight is not a float initializer'); continue; }
    const y = node.output![0]!;
    const base = node.name!;

    if (op === 'Conv') {
      const q = quantizeTensor(w.data, w.dims, options.weightType, { symmetric, reduceRange: options.reduceRange, axis: options.perChannel ? 0 : undefined });
      const m = w.dims[0]!;
      const bcast = [1, m, ...w.dims.slice(2).map(() => 1)];
      const perChannel = q.axis !== undefined;
      const wq = addInitializer(graph, inits, names.next(`${wName}_quantized`), wType, w.dims, q.data);
      const zpData = wType === DataType.INT8 ? Int8Array.from(q.zeroPoints) : Uint8Array.from(q.zeroPoints);
      const wz = addInitializer(graph, inits, names.next(`${wName}_zero_point`), wType, perChannel ? [m] : [], zpData);
      const ws = addInitializer(graph, inits, names.next(`${wName}_scale`), DataType.FLOAT, perChannel ? bcast : [], q.scales);
      const [xq, xs, xz] = quantizeActivation(x);
      const attrs = (node.attribute ?? []).filter((a) => ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'].includes(a.name ?? ''));
      const yi = names.next(`${y}_output_quantized`);
      const conv = makeNode('ConvInteger', [xq, wq, xz, wz], [yi], { name: names.next(`${base}_quant`) });
      if (attrs.length > 0) conv.attribute = attrs;
      const yf = names.next(`${y}_output_quantized_cast_output`);
      const scale = names.next(`${base}_scales_mul_output`);
      const hasBias = cName !== undefined && cName !== '';
      const scaled = hasBias ? names.next(`${y}_scaled`) : y;
      out.push(conv,
        makeNode('Cast', [yi], [yf], { name: names.next(`${base}_cast`), attributes: { to: DataType.FLOAT } }),
        makeNode('Mul', [xs, ws], [scale], { name: names.next(`${base}_scales_mul`) }),
        makeNode('Mul', [yf, scale], [scaled], { name: names.next(`${base}_output_scale_mul`) }));
      if (hasBias) {
        const b = floatInitializer(inits, cName);
        if (b === undefined) { throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `Conv '${base}': bias '${cName}' is not a float initializer`); }
        const br = addInitializer(graph, inits, names.next(`${cName}_reshaped`), DataType.FLOAT, bcast, b.data);
        out.push(makeNode('Add', [scaled, br], [y], { name: names.next(`${base}_bias_add`) }));
      }
      decide(true, `ConvInteger, ${options.weightType} weights${perChannel ? ' per channel' : ''}`);
      continue;
    }

    // MatMul / Gemm → weight as [K, N].
    let k: number, n: number, data: Float32Array;
    let alpha = 1, beta = 1;
    if (op === 'Gemm') {
      if (attrInt(node, 'transA', 0) !== 0) { keep('Gemm with transA=1 is left in float'); continue; }
      if (w.dims.length !== 2) { keep('Gemm weight is not 2-D'); continue; }
      alpha = attrFloat(node, 'alpha', 1);
      beta = attrFloat(node, 'beta', 1);
      if (attrInt(node, 'transB', 0) === 1) { [n, k] = w.dims as [number, number]; data = transpose2d(w.data, n, k); }
      else { [k, n] = w.dims as [number, number]; data = w.data; }
    } else {
      if (w.dims.length !== 2) { keep(`MatMul weight has rank ${w.dims.length}; only 2-D weights are quantized`); continue; }
      [k, n] = w.dims as [number, number];
      data = w.data;
    }
    let bias: Float32Array | undefined;
    let biasGeneral: string | undefined;
    if (op === 'Gemm' && cName !== undefined && cName !== '') {
      const c = floatInitializer(inits, cName);
      if (c === undefined) { keep(`Gemm bias '${cName}' is not a float initializer`); continue; }
      const oneRow = c.data.length === n && (c.dims.length === 1 || (c.dims.length === 2 && c.dims[0] === 1));
      if (oneRow) bias = beta === 1 ? c.data : c.data.map((v) => v * beta);
      else biasGeneral = beta === 1 ? cName : addInitializer(graph, inits, names.next(`${cName}_beta`), DataType.FLOAT, c.dims, c.data.map((v) => v * beta));
    }
    const q = quantizeTensor(data, [k, n], options.weightType, { symmetric, reduceRange: options.reduceRange, axis: options.perChannel ? 1 : undefined });
    const perChannel = q.axis !== undefined;
    const scales = alpha === 1 ? q.scales : q.scales.map((s) => s * alpha);
    const wq = addInitializer(graph, inits, names.next(`${wName}_quantized`), wType, [k, n], q.data);
    const zpData = wType === DataType.INT8 ? Int8Array.from(q.zeroPoints) : Uint8Array.from(q.zeroPoints);
    const wz = addInitializer(graph, inits, names.next(`${wName}_zero_point`), wType, perChannel ? [n] : [], zpData);
    const ws = addInitializer(graph, inits, names.next(`${wName}_scale`), DataType.FLOAT, perChannel ? [n] : [], scales);
    const biasName = bias === undefined ? undefined : addInitializer(graph, inits, names.next(`${cName}_bias`), DataType.FLOAT, [n], bias);
    const needsAdd = biasName !== undefined || biasGeneral !== undefined;
    const finalAdd = (from: string): void => {
      out.push(makeNode('Add', [from, (biasName ?? biasGeneral)!], [y], { name: names.next(`${base}_bias_add`) }));
    };
    if (options.format === 'contrib') {
      usedContrib = true;
      const inputs = [x, wq, ws, wz];
      if (biasName !== undefined) inputs.push(biasName);
      const mmOut = biasGeneral !== undefined ? names.next(`${y}_matmul`) : y;
      out.push(makeNode('DynamicQuantizeMatMul', inputs, [mmOut], { name: names.next(`${base}_quant`), domain: 'com.microsoft' }));
      if (biasGeneral !== undefined) finalAdd(mmOut);
    } else {
      const [xq, xs, xz] = quantizeActivation(x);
      const yi = names.next(`${y}_output_quantized`);
      const yf = names.next(`${y}_output_quantized_cast_output`);
      const scale = names.next(`${base}_scales_mul_output`);
      const scaled = needsAdd ? names.next(`${y}_scaled`) : y;
      out.push(
        makeNode('MatMulInteger', [xq, wq, xz, wz], [yi], { name: names.next(`${base}_quant`) }),
        makeNode('Cast', [yi], [yf], { name: names.next(`${base}_cast`), attributes: { to: DataType.FLOAT } }),
        makeNode('Mul', [xs, ws], [scale], { name: names.next(`${base}_scales_mul`) }),
        makeNode('Mul', [yf, scale], [scaled], { name: names.next(`${base}_output_scale_mul`) }));
      if (needsAdd) finalAdd(scaled);
    }
    decide(true, `${options.format === 'contrib' ? 'DynamicQuantizeMatMul' : 'MatMulInteger'}, ${options.weightType} weights${perChannel ? ' per channel' : ''}${op === 'Gemm' ? (getAttribute(node, 'transB') ? ', B transposed' : '') : ''}`);
  }
  graph.node = out;
  if (usedContrib) ensureOpset(model, 'com.microsoft', 1);
  removeUnusedInitializers(graph);
  topologicalSort(graph);
  return decisions;
}
