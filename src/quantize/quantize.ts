/**
 * @module quantize/quantize
 * The `berth quantize` pipeline: read the FP32 model, convert it (dynamic INT8, static INT8
 * in QDQ form, or FP16), check the result loads and runs in ONNX Runtime, measure size,
 * latency and accuracy against the original, and — when accuracy drops past the limit —
 * keep the most sensitive nodes in float until it holds (the accuracy guard). Nothing is
 * written here; `writeQuantized` writes the model and its report atomically.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { BerthError } from '../errors.js';
import { decodeModel, encodeModel } from '../onnx/codec.js';
import { valueElemType, valueShape } from '../onnx/graph.js';
import { allTensors, loadExternalData, modelSizeOnDisk, readWholeFile, sha256File, writeFileAtomic } from '../onnx/io.js';
import { isExternal } from '../onnx/tensor.js';
import { inferElemTypes } from '../onnx/infer-types.js';
import { DataType, type ModelProto } from '../onnx/types.js';
import { chooseReduceRange, cpuIsa, type CpuInfo, type ReduceRangeChoice } from './cpu.js';
import { calibrate, type CalibrationMethod, type TensorRange } from './calibrate.js';
import { hasFloatWeights, noWeightsError, type NodeDecision } from './common.js';
import type { Dataset, InputSpec } from './data.js';
import { fixedBatch } from './data.js';
import { DYNAMIC_SUPPORTED_OPS, quantizeDynamic, type DynamicFormat } from './dynamic.js';
import { chooseOutput, maxAbsDiff, measureLatency, percentEqual, predictedClasses, runDataset, type LatencyResult } from './evaluate.js';
import { convertToFp16 } from './fp16.js';
import type { QuantType } from './params.js';
import { createOrtRunner, type CreateRunner, type Feeds, type HostTensor } from './runner.js';
import { applyStatic, planStatic, STATIC_COMPUTE_OPS, STATIC_SUPPORTED_OPS, type StaticOptions } from './static-qdq.js';

export type QuantizeMode = 'dynamic' | 'static' | 'fp16';

export interface QuantizeOptions {
  mode: QuantizeMode;
  method?: CalibrationMethod;
  perChannel?: boolean;
  /** 7-bit weights. Undefined: chosen from `cpu` (on for x86 without VNNI), else off. */
  reduceRange?: boolean;
  /** The CPU the model is meant for (the CLI reads /proc/cpuinfo); picks the reduce-range default. */
  cpu?: CpuInfo;
  activationType?: QuantType;
  weightType?: QuantType;
  symmetricActivations?: boolean;
  dynamicFormat?: DynamicFormat;
  opTypes?: string[];
  exclude?: string[];
  keepIoTypes?: boolean;
  calibration?: Dataset;
  validation?: Dataset;
  /** Allowed accuracy (or agreement) drop in percentage points. */
  maxAccuracyDrop?: number;
  /** Keep sensitive nodes in float until the drop holds (default true when a limit is set). */
  guard?: boolean;
  /** Output to score (default: first float [n, C≥2] output). */
  scoreOutput?: string;
  percentile?: number;
  bins?: number;
  calibrationBatchSize?: number;
  threads?: number;
  /** Batch sizes to time (default [1, 32]); [] skips latency. */
  latencyBatches?: number[];
  latencyMinTimeMs?: number;
  createRunner?: CreateRunner;
  log?: (message: string) => void;
}

export interface AccuracyReport {
  metric: 'accuracy' | 'agreement';
  output: string;
  samples: number;
  /** Percent; for 'agreement' FP32 is 100 by definition. */
  fp32: number;
  quantized: number;
  /** Percentage points lost (fp32 − quantized). */
  drop: number;
  limit?: number;
  maxAbsDiff: number;
}

export interface GuardReport {
  triggered: boolean;
  initialDrop?: number;
  sensitivity: { node: string; opType: string; recovered: number }[];
  keptFloat: string[];
}

export interface QuantizeReport {
  tool: string;
  createdAt: string;
  source: { path: string; sha256: string; bytes: number };
  output?: { path: string; bytes: number };
  mode: QuantizeMode;
  method: string;
  settings: Record<string, unknown>;
  size: { fp32Bytes: number; quantizedBytes: number; ratio: number };
  /** The CPU the latency was measured on and the INT8 defaults were chosen for (when known). */
  cpu?: { model?: string; isa: string };
  /** How --reduce-range was decided (INT8 modes). */
  reduceRange?: ReduceRangeChoice;
  latency: { threads: number; batches: { batch: number; fp32Ms: number; quantizedMs: number; ratio: number; runs: number }[] };
  accuracy?: AccuracyReport;
  guard: GuardReport;
  nodes: NodeDecision[];
  summary: { quantized: number; float: number };
}

export interface QuantizeResult {
  bytes: Buffer;
  report: QuantizeReport;
}

const TOOL = 'berth 0.1.0';

/** Model inputs as the data loader wants them. */
export function modelInputSpecs(model: ModelProto): InputSpec[] {
  const graph = model.graph!;
  const inits = new Set((graph.initializer ?? []).map((t) => t.name));
  return (graph.input ?? []).filter((v) => !inits.has(v.name)).map((v) => ({
    name: v.name ?? '', elemType: valueElemType(v) ?? DataType.FLOAT, shape: valueShape(v),
  }));
}

/** Synthetic inputs for timing when no data is given: uniform [0, 1) floats, zeros otherwise. */
export function syntheticFeeds(inputs: InputSpec[], batch: number): Feeds {
  const feeds: Feeds = {};
  let seed = 12345;
  const rand = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
  for (const i of inputs) {
    const dims = (i.shape ?? [-1]).map((d, k) => (k === 0 ? batch : d < 0 ? 1 : d));
    const n = dims.reduce((a, d) => a * d, 1);
    if (i.elemType === DataType.INT64) feeds[i.name] = { type: 'int64', data: new BigInt64Array(n), dims };
    else feeds[i.name] = { type: 'float32', data: Float32Array.from({ length: n }, rand), dims };
  }
  return feeds;
}

/** Loads the source once; every variant starts from a fresh decode that shares the weight bytes. */
class SourceModel {
  readonly bytes: Buffer;
  readonly dir: string;
  private readonly external = new Map<string, Uint8Array>();

  constructor(readonly path: string) {
    this.bytes = readWholeFile(path);
    this.dir = dirname(resolve(path));
    const first = decodeModel(this.bytes, `'${path}'`);
    const ext = [...allTensors(first)].filter(isExternal);
    if (ext.length > 0) {
      loadExternalData(first, this.dir);
      for (const t of ext) this.external.set(t.name ?? '', t.rawData!);
    }
  }

  /** The FP32 model as one buffer (the file itself unless weights were external). */
  inlineBytes(): Uint8Array {
    return this.external.size === 0 ? this.bytes : encodeModel(this.fresh());
  }

  fresh(): ModelProto {
    const model = decodeModel(this.bytes, `'${this.path}'`);
    if (this.external.size > 0) {
      for (const t of allTensors(model)) {
        if (!isExternal(t)) continue;
        t.rawData = this.external.get(t.name ?? '')!;
        t.externalData = [];
        delete t.dataLocation;
      }
    }
    return model;
  }
}

function setMetadata(model: ModelProto, entries: Record<string, string>): void {
  const keep = (model.metadataProps ?? []).filter((e) => !(e.key ?? '').startsWith('berth.quantize.'));
  model.metadataProps = [...keep, ...Object.entries(entries).map(([key, value]) => ({ key, value }))];
}

export async function quantize(sourcePath: string, options: QuantizeOptions): Promise<QuantizeResult> {
  const log = options.log ?? ((): void => {});
  const createRunner = options.createRunner ?? createOrtRunner;
  const threads = options.threads ?? 0;
  const source = new SourceModel(sourcePath);
  const sha256 = sha256File(sourcePath);
  const probe = source.fresh();
  const inputs = modelInputSpecs(probe);
  const supported = options.mode === 'dynamic' ? DYNAMIC_SUPPORTED_OPS : options.mode === 'static' ? STATIC_SUPPORTED_OPS : undefined;
  for (const op of options.opTypes ?? []) {
    if (supported !== undefined && !supported.has(op)) {
      throw new BerthError('BERTH_ERR_QUANTIZE_UNSUPPORTED_OP', `--op-types ${op}: ${options.mode} mode quantizes only ${[...supported].join(', ')}`);
    }
  }
  if (!hasFloatWeights(probe.graph!)) throw noWeightsError(options.mode);
  const opTypes = options.opTypes === undefined ? undefined : new Set(options.opTypes);
  const reduceChoice: ReduceRangeChoice | undefined = options.mode === 'fp16' ? undefined
    : options.cpu !== undefined ? chooseReduceRange(options.cpu, options.reduceRange)
    : { reduceRange: options.reduceRange ?? false, source: 'flag', isa: 'unknown', reason: options.reduceRange ? 'reduceRange set by the caller' : 'reduceRange not set and no CPU given: full 8-bit weights' };
  const reduceRange = reduceChoice?.reduceRange ?? false;
  if (reduceChoice !== undefined) log(`reduce-range ${reduceRange ? 'on' : 'off'}: ${reduceChoice.reason}`);
  const method = options.mode === 'static' ? options.method ?? 'minmax' : options.mode === 'dynamic' ? `dynamic-${options.dynamicFormat ?? 'onnx'}` : 'fp16';

  // Static: calibrate every float activation once; any exclusion set then reuses the ranges.
  let ranges: Map<string, TensorRange> | undefined;
  const staticOptions = (exclude: Set<string>): StaticOptions => ({
    perChannel: options.perChannel ?? false, reduceRange,
    activationType: options.activationType ?? 'uint8', weightType: options.weightType ?? 'int8',
    symmetricActivations: options.symmetricActivations ?? false, exclude, ...(opTypes ? { opTypes } : {}),
  });
  if (options.mode === 'static') {
    const data = options.calibration;
    if (data === undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', 'static quantization needs calibration data (--calibration FILE)');
    const model = source.fresh();
    const plan = planStatic(model, staticOptions(new Set()));
    const types = inferElemTypes(model.graph!);
    const inits = new Set((model.graph!.initializer ?? []).map((t) => t.name));
    const all = new Set(plan.calibrate);
    for (const n of model.graph!.node ?? []) for (const o of n.output ?? []) if (types.get(o) === DataType.FLOAT && !inits.has(o)) all.add(o);
    log(`calibrating ${all.size} tensors on ${data.count} samples (${options.method ?? 'minmax'})`);
    ranges = await calibrate(source.inlineBytes(), [...all], data, createRunner, {
      method: options.method ?? 'minmax', threads,
      ...(options.percentile !== undefined ? { percentile: options.percentile } : {}),
      ...(options.bins !== undefined ? { bins: options.bins } : {}),
      ...(options.calibrationBatchSize !== undefined ? { batchSize: options.calibrationBatchSize } : {}),
    });
  }

  const build = (exclude: Set<string>): { bytes: Buffer; decisions: NodeDecision[] } => {
    const model = source.fresh();
    let decisions: NodeDecision[];
    if (options.mode === 'dynamic') {
      decisions = quantizeDynamic(model, {
        perChannel: options.perChannel ?? false, reduceRange, weightType: options.weightType ?? 'int8',
        format: options.dynamicFormat ?? 'onnx', exclude, ...(opTypes ? { opTypes } : {}),
      });
    } else if (options.mode === 'static') {
      const plan = planStatic(model, staticOptions(exclude));
      applyStatic(model, plan, ranges!, staticOptions(exclude));
      decisions = plan.decisions;
    } else {
      decisions = convertToFp16(model, { keepIoTypes: options.keepIoTypes ?? true, exclude, ...(opTypes ? { blockOps: new Set<string>() } : {}) });
    }
    if (!decisions.some((d) => d.quantized) && exclude.size === 0) {
      const why = [...new Set(decisions.filter((d) => ['MatMul', 'Gemm', 'Conv'].includes(d.opType)).map((d) => `${d.opType}: ${d.reason}`))];
      throw why.length === 0 ? noWeightsError(options.mode)
        : new BerthError('BERTH_ERR_QUANTIZE_NO_WEIGHTS', `nothing to quantize in ${options.mode} mode — ${why.join('; ')}`);
    }
    setMetadata(model, {
      'berth.quantize.mode': options.mode,
      'berth.quantize.method': method,
      'berth.quantize.source_sha256': sha256,
      'berth.quantize.per_channel': String(options.perChannel ?? false),
      'berth.quantize.reduce_range': String(reduceRange),
      'berth.quantize.float_nodes': JSON.stringify([...exclude]),
      'berth.quantize.tool': TOOL,
    });
    return { bytes: encodeModel(model), decisions };
  };

  // Reference outputs of the FP32 model on the validation data (or the calibration data).
  const evalData = options.validation ?? options.calibration;
  const fp32Runner = await createRunner(source.inlineBytes(), { threads });
  let fp32Out: Record<string, HostTensor> | undefined;
  let scoreName: string | undefined;
  let fp32Classes: Float64Array | undefined;
  let fp32Score = 100;
  const labels = options.validation?.labels;
  try {
    if (evalData !== undefined) {
      fp32Out = await runDataset(fp32Runner, evalData);
      scoreName = chooseOutput(fp32Out, options.scoreOutput);
      fp32Classes = predictedClasses(fp32Out[scoreName]!);
      if (labels !== undefined && options.validation !== undefined) fp32Score = percentEqual(fp32Classes, labels);
    }
  } catch (err) {
    await fp32Runner.release();
    throw err;
  }

  const score = async (bytes: Uint8Array, data?: Dataset): Promise<{ value: number; maxAbs: number }> => {
    const runner = await createRunner(bytes, { threads });
    try {
      const ds = data ?? evalData!;
      const out = await runDataset(runner, ds);
      const classes = predictedClasses(out[scoreName!]!);
      const ref = ds === evalData ? fp32Classes! : predictedClasses((await runDataset(fp32Runner, ds))[scoreName!]!);
      const value = labels !== undefined && ds === evalData ? percentEqual(classes, labels) : percentEqual(classes, ref);
      return { value, maxAbs: ds === evalData ? maxAbsDiff(out[scoreName!]!, fp32Out![scoreName!]!) : NaN };
    } finally {
      await runner.release();
    }
  };

  let exclude = new Set(options.exclude ?? []);
  let built = build(exclude);
  const guard: GuardReport = { triggered: false, sensitivity: [], keptFloat: [] };
  let accuracy: AccuracyReport | undefined;
  try {
    // Loads and runs in ONNX Runtime, or nothing is written.
    const check = await createRunner(built.bytes, { threads });
    await check.release();
    if (evalData !== undefined) {
      let s = await score(built.bytes);
      const limit = options.maxAccuracyDrop;
      const metricOf = (v: { value: number; maxAbs: number }): AccuracyReport => ({
        metric: labels !== undefined ? 'accuracy' : 'agreement', output: scoreName!, samples: evalData.count,
        fp32: fp32Score, quantized: v.value, drop: fp32Score - v.value, maxAbsDiff: v.maxAbs, ...(limit !== undefined ? { limit } : {}),
      });
      accuracy = metricOf(s);
      if (limit !== undefined && accuracy.drop > limit && (options.guard ?? true)) {
        guard.triggered = true;
        guard.initialDrop = accuracy.drop;
        const computeOps = options.mode === 'static' ? STATIC_COMPUTE_OPS : options.mode === 'dynamic' ? DYNAMIC_SUPPORTED_OPS : undefined;
        const candidates = built.decisions.filter((d) => d.quantized && (computeOps === undefined || computeOps.has(d.opType)) && !exclude.has(d.node));
        log(`accuracy drop ${accuracy.drop.toFixed(2)} > ${limit}: measuring sensitivity of ${candidates.length} nodes`);
        for (const c of candidates) {
          const trial = build(new Set([...exclude, c.node]));
          const r = await score(trial.bytes);
          guard.sensitivity.push({ node: c.node, opType: c.opType, recovered: r.value - s.value });
        }
        guard.sensitivity.sort((a, b) => b.recovered - a.recovered);
        for (const c of guard.sensitivity) {
          if (accuracy.drop <= limit) break;
          exclude = new Set([...exclude, c.node]);
          guard.keptFloat.push(c.node);
          built = build(exclude);
          s = await score(built.bytes);
          accuracy = metricOf(s);
          log(`kept ${c.node} in float: drop now ${accuracy.drop.toFixed(2)}`);
        }
      }
    }
    // Latency: same runner options for both models.
    const batches = options.latencyBatches ?? [1, 32];
    const latency: QuantizeReport['latency'] = { threads, batches: [] };
    if (batches.length > 0) {
      const qRunner = await createRunner(built.bytes, { threads });
      try {
        for (const b of batches) {
          const feeds = evalData !== undefined ? fixedBatch(evalData, b) : syntheticFeeds(inputs, b);
          const opts = options.latencyMinTimeMs !== undefined ? { minTimeMs: options.latencyMinTimeMs } : {};
          const f: LatencyResult = await measureLatency(fp32Runner, feeds, opts);
          const q: LatencyResult = await measureLatency(qRunner, feeds, opts);
          latency.batches.push({ batch: b, fp32Ms: f.medianMs, quantizedMs: q.medianMs, ratio: q.medianMs / f.medianMs, runs: Math.min(f.runs, q.runs) });
        }
      } finally {
        await qRunner.release();
      }
    }
    const fp32Bytes = modelSizeOnDisk(sourcePath);
    const report: QuantizeReport = {
      tool: TOOL,
      createdAt: new Date().toISOString(),
      source: { path: resolve(sourcePath), sha256, bytes: fp32Bytes },
      mode: options.mode,
      method,
      settings: {
        perChannel: options.perChannel ?? false, reduceRange,
        activationType: options.mode === 'static' ? options.activationType ?? 'uint8' : options.mode === 'dynamic' ? 'uint8 (run time)' : 'float16',
        weightType: options.mode === 'fp16' ? 'float16' : options.weightType ?? 'int8',
        ...(options.mode === 'fp16' ? { keepIoTypes: options.keepIoTypes ?? true } : {}),
        ...(options.calibration ? { calibrationSamples: options.calibration.count, calibrationSource: options.calibration.source } : {}),
        ...(options.validation ? { validationSource: options.validation.source } : {}),
      },
      ...(options.cpu !== undefined ? { cpu: { ...(options.cpu.model !== undefined ? { model: options.cpu.model } : {}), isa: cpuIsa(options.cpu) } } : {}),
      ...(reduceChoice !== undefined ? { reduceRange: reduceChoice } : {}),
      size: { fp32Bytes, quantizedBytes: built.bytes.byteLength, ratio: built.bytes.byteLength / fp32Bytes },
      latency,
      guard,
      nodes: built.decisions,
      summary: { quantized: built.decisions.filter((d) => d.quantized).length, float: built.decisions.filter((d) => !d.quantized).length },
    };
    if (accuracy !== undefined) report.accuracy = accuracy;
    return { bytes: built.bytes, report };
  } finally {
    await fp32Runner.release();
  }
}

/** True when the report's accuracy drop is over its limit. */
export function accuracyFailed(report: QuantizeReport): boolean {
  const a = report.accuracy;
  return a !== undefined && a.limit !== undefined && a.drop > a.limit;
}

/** Writes the model (and the JSON report beside it) atomically. */
export function writeQuantized(result: QuantizeResult, outputPath: string, reportPath?: string): void {
  const out = resolve(outputPath);
  mkdirSync(dirname(out), { recursive: true });
  writeFileAtomic(out, result.bytes);
  result.report.output = { path: out, bytes: result.bytes.byteLength };
  if (reportPath !== undefined) writeFileAtomic(resolve(reportPath), Buffer.from(`${JSON.stringify(result.report, null, 2)}\n`));
}

