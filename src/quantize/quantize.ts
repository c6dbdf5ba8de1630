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
import { BATCH_ABS_TOLERANCE, BATCH_REL_TOLERANCE, measureBatchInvariance, type BatchComparison } from './batch-invariance.js';
import { chooseReduceRange, cpuIsa, kernelFlags, type CpuInfo, type ReduceRangeChoice } from './cpu.js';
import { calibrate, type CalibrationMethod, type TensorRange } from './calibrate.js';
import { hasFloatWeights, noWeightsError, type NodeDecision } from './common.js';
import { fixedBatch, splitDataset, type Dataset, type InputSpec } from './data.js';
import { DYNAMIC_SUPPORTED_OPS, quantizeDynamic, type DynamicFormat } from './dynamic.js';
import { chooseOutput, compareOutputsToFp32, maxAbsDiff, measureLatencyPair, percentEqual, predictedClasses, runDataset, type LatencyResult, type OutputComparison } from './evaluate.js';
import { convertToFp16 } from './fp16.js';
import { limitVerdict, mcnemar, newcombePairedInterval, pairedCounts, wilsonInterval, type LimitVerdict, type PairedCounts } from './paired.js';
import type { QuantType } from './params.js';
import { accuracyClaim } from './report.js';
import { createOrtRunner, withFloat32Io, type CreateRunner, type Feeds, type HostTensor } from './runner.js';
import { applyStatic, checkStaticOpset, planStatic, STATIC_COMPUTE_OPS, STATIC_SUPPORTED_OPS, type StaticOptions } from './static-qdq.js';

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
  /**
   * Static mode without `calibration`: this many validation rows (at most a quarter of them)
   * are drawn with `splitSeed` for calibration, and accuracy is measured on the rest, so
   * calibration and evaluation never share a sample. Default 1000.
   */
  calibrationLimit?: number;
  /** Seed of that split (default 1). */
  splitSeed?: number;
  /** The batch size the server merges requests up to (default 32): accuracy and batch invariance are measured at 1 and at this size. */
  servedBatch?: number;
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
  /** Batch sizes to time (default [1, servedBatch]); [] skips latency. */
  latencyBatches?: number[];
  latencyMinTimeMs?: number;
  createRunner?: CreateRunner;
  log?: (message: string) => void;
}

export interface AccuracyReport {
  metric: 'accuracy' | 'agreement';
  output: string;
  samples: number;
  /** The batch size the accuracy was measured at (the served batch size). */
  batch: number;
  /** Percent; for 'agreement' FP32 is 100 by definition. */
  fp32: number;
  quantized: number;
  /** Percentage points lost (fp32 − quantized). */
  drop: number;
  /** 95% interval on the drop, in percentage points. */
  interval: { level: number; method: string; lower: number; upper: number };
  /** Accuracy only: the paired table and McNemar's test of "no change". */
  paired?: PairedCounts & { mcnemarExactP: number; mcnemarMidP: number; significant: boolean };
  /** Samples whose predicted class differs from FP32's. */
  changed: number;
  limit?: number;
  /** Against the limit, on the point estimate and the interval together (see docs/quantize.md). */
  verdict?: LimitVerdict;
  /** The claim in one line, interval included. */
  claim: string;
  maxAbsDiff: number;
}

export interface BatchInvarianceReport {
  servedBatch: number;
  rows: number;
  /** What was compared: every element of every output, alone vs inside the batch. */
  rule: string;
  fp32: { maxAbsDiff: number; perOutput: Record<string, number>; invariant: boolean };
  quantized: { maxAbsDiff: number; perOutput: Record<string, number>; invariant: boolean; elementsOutside: number; classesChanged?: number };
  /** Accuracy (or agreement) at batch 1 and at the served batch size, percent. */
  score?: { metric: 'accuracy' | 'agreement'; fp32Batch1: number; fp32Served: number; quantizedBatch1: number; quantizedServed: number };
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
  cpu?: { model?: string; isa: string; flags: string[] };
  /** Which data calibrated (static) and which measured accuracy, and whether they are disjoint. */
  data?: { evaluationSamples: number; evaluationSource: string; calibrationSamples?: number; calibrationSource?: string; disjoint: boolean | 'unknown'; note: string };
  /** How --reduce-range was decided (INT8 modes). */
  reduceRange?: ReduceRangeChoice;
  /** Measured here, on this CPU, in a short loop (FP32 and converted runs interleaved); medians. */
  latency: { threads: number; measuredOn: string; batches: { batch: number; fp32Ms: number; quantizedMs: number; ratio: number; speedup: number; runs: number }[] };
  accuracy?: AccuracyReport;
  /** Why there is no accuracy section although data was given (e.g. no class output). */
  accuracyUnavailable?: string;
  /** Every output against FP32 on the same rows at the served batch, with the metric that fits it. */
  outputs: { rows: number; batch: number; source: string; comparisons: OutputComparison[] };
  batchInvariance: BatchInvarianceReport;
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
  // The converted model is measured on the FP32 model's data, also when its own I/O is float16.
  const createConverted = options.mode === 'fp16' && options.keepIoTypes === false ? withFloat32Io(createRunner) : createRunner;
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
  // Refuse before any data is split or calibrated (calibration can take long).
  if (options.mode === 'static') checkStaticOpset(probe, options.perChannel ?? false);
  const opTypes = options.opTypes === undefined ? undefined : new Set(options.opTypes);
  const reduceChoice: ReduceRangeChoice | undefined = options.mode === 'fp16' ? undefined
    : options.cpu !== undefined ? chooseReduceRange(options.cpu, options.reduceRange)
    : { reduceRange: options.reduceRange ?? false, source: 'flag', isa: 'unknown', reason: options.reduceRange ? 'reduceRange set by the caller' : 'reduceRange not set and no CPU given: full 8-bit weights' };
  const reduceRange = reduceChoice?.reduceRange ?? false;
  if (reduceChoice !== undefined) log(`reduce-range ${reduceRange ? 'on' : 'off'}: ${reduceChoice.reason}`);
  const method = options.mode === 'static' ? options.method ?? 'minmax' : options.mode === 'dynamic' ? `dynamic-${options.dynamicFormat ?? 'onnx'}` : 'fp16';

  // Which data calibrates and which measures: never the same samples. Static mode without
  // --calibration draws a seeded part of the validation set for calibration and evaluates
  // on the rest.
  let calibrationData = options.calibration;
  let evalData = options.validation ?? options.calibration;
  let dataNote: QuantizeReport['data'];
  // Labels count only when the evaluation rows come from the validation data.
  let labels = options.validation?.labels;
  if (options.mode === 'static' && calibrationData === undefined && options.validation !== undefined) {
    const v = options.validation;
    const seed = options.splitSeed ?? 1;
    const take = Math.min(options.calibrationLimit ?? 1000, Math.floor(v.count / 4));
    if (take < 1) throw new BerthError('BERTH_ERR_QUANTIZE_DATA', `${v.source}: ${v.count} validation samples are too few to split into calibration and evaluation data; give --calibration`);
    const split = splitDataset(v, take, seed);
    calibrationData = split.drawn;
    evalData = split.rest;
    labels = split.rest.labels;
    const note = `no calibration data given: calibrated on ${take} validation samples drawn with seed ${seed}, accuracy measured on the other ${split.rest.count} (disjoint)`;
    log(`note: ${note}`);
    dataNote = { evaluationSamples: split.rest.count, evaluationSource: v.source, calibrationSamples: take, calibrationSource: split.drawn.source, disjoint: true, note };
  } else if (evalData !== undefined) {
    const c = options.mode === 'static' ? calibrationData : undefined;
    const same = c !== undefined && options.validation !== undefined && c.source === options.validation.source;
    const note = c === undefined ? 'no calibration in this mode'
      : options.validation === undefined ? 'no validation data: agreement with FP32 is measured on the calibration data itself (not disjoint)'
        : same ? 'calibration and validation are the same file: accuracy is measured on calibration samples (not disjoint)'
          : 'calibration and validation come from different files (disjoint unless the files share rows)';
    if (c !== undefined && (same || options.validation === undefined)) log(`warning: ${note}`);
    dataNote = {
      evaluationSamples: evalData.count, evaluationSource: evalData.source,
      ...(c !== undefined ? { calibrationSamples: c.count, calibrationSource: c.source } : {}),
      disjoint: c === undefined ? true : same || options.validation === undefined ? false : 'unknown', note,
    };
  }

  // Static: calibrate every float activation once; any exclusion set then reuses the ranges.
  let ranges: Map<string, TensorRange> | undefined;
  const staticOptions = (exclude: Set<string>): StaticOptions => ({
    perChannel: options.perChannel ?? false, reduceRange,
    activationType: options.activationType ?? 'uint8', weightType: options.weightType ?? 'int8',
    symmetricActivations: options.symmetricActivations ?? false, exclude, ...(opTypes ? { opTypes } : {}),
  });
  if (options.mode === 'static') {
    const data = calibrationData;
    if (data === undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', 'static quantization needs calibration data (--calibration FILE, or --validation to split)');
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

  const baseMetadata = (exclude: Set<string>): Record<string, string> => ({
    'berth.quantize.mode': options.mode,
    'berth.quantize.method': method,
    'berth.quantize.source_sha256': sha256,
    'berth.quantize.per_channel': String(options.perChannel ?? false),
    'berth.quantize.reduce_range': String(reduceRange),
    'berth.quantize.float_nodes': JSON.stringify([...exclude]),
    'berth.quantize.tool': TOOL,
  });
  const build = (exclude: Set<string>): { bytes: Buffer; decisions: NodeDecision[]; model: ModelProto } => {
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
    setMetadata(model, baseMetadata(exclude));
    return { bytes: encodeModel(model), decisions, model };
  };

  const servedBatch = options.servedBatch ?? 32;
  // Batch invariance is measured on the evaluation data, or on synthetic rows without any.
  const invarianceData: Dataset = evalData ?? { inputs: syntheticFeeds(inputs, servedBatch * 4), count: servedBatch * 4, source: 'synthetic uniform [0, 1) rows' };
  // Reference outputs of the FP32 model, at the served batch size.
  const fp32Runner = await createRunner(source.inlineBytes(), { threads });
  let fp32Out: Record<string, HostTensor> | undefined;
  let scoreName: string | undefined;
  let fp32Classes: Float64Array | undefined;
  let fp32Score = 100;
  let fp32Batch: BatchComparison;
  let unscored: string | undefined;
  try {
    fp32Out = await runDataset(fp32Runner, invarianceData, servedBatch);
    fp32Batch = await measureBatchInvariance(fp32Runner, invarianceData, servedBatch, fp32Out);
    if (evalData !== undefined) {
      scoreName = chooseOutput(fp32Out, options.scoreOutput);
      const dims = fp32Out[scoreName]!.dims;
      if (labels === undefined && options.scoreOutput === undefined && dims.length > 2) {
        // A map (e.g. a [n, 1, H, W] probability map) has no class per row: an "agreement"
        // of argmaxes over pixels means nothing, so only the per-output differences are shown.
        unscored = `no class output to score ('${scoreName}' is [${dims.map((d, i) => (i === 0 ? 'n' : d)).join(', ')}]): see the per-output differences; give --score-output or labels for an accuracy`;
        if (options.maxAccuracyDrop !== undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', `--max-accuracy-drop: ${unscored}`);
        log(`note: ${unscored}`);
      } else {
        fp32Classes = predictedClasses(fp32Out[scoreName]!);
        if (labels !== undefined) fp32Score = percentEqual(fp32Classes, labels);
      }
    }
  } catch (err) {
    await fp32Runner.release();
    throw err;
  }

  interface Scored { value: number; maxAbs: number; classes: Float64Array; out: Record<string, HostTensor> }
  const score = async (bytes: Uint8Array): Promise<Scored> => {
    const runner = await createConverted(bytes, { threads });
    try {
      const out = await runDataset(runner, evalData!, servedBatch);
      const classes = predictedClasses(out[scoreName!]!);
      const value = labels !== undefined ? percentEqual(classes, labels) : percentEqual(classes, fp32Classes!);
      return { value, maxAbs: maxAbsDiff(out[scoreName!]!, fp32Out![scoreName!]!), classes, out };
    } finally {
      await runner.release();
    }
  };

  let exclude = new Set(options.exclude ?? []);
  let built = build(exclude);
  const guard: GuardReport = { triggered: false, sensitivity: [], keptFloat: [] };
  let accuracy: AccuracyReport | undefined;
  let scored: Scored | undefined;
  try {
    // Loads and runs in ONNX Runtime, or nothing is written.
    const check = await createRunner(built.bytes, { threads });
    await check.release();
    if (evalData !== undefined && unscored === undefined) {
      scored = await score(built.bytes);
      const limit = options.maxAccuracyDrop;
      const metricOf = (v: Scored): AccuracyReport => accuracyReport({
        labels, fp32Classes: fp32Classes!, classes: v.classes, fp32Score, value: v.value, maxAbs: v.maxAbs,
        output: scoreName!, batch: servedBatch, ...(limit !== undefined ? { limit } : {}),
      });
      accuracy = metricOf(scored);
      if (limit !== undefined && accuracy.drop > limit && (options.guard ?? true)) {
        guard.triggered = true;
        guard.initialDrop = accuracy.drop;
        const computeOps = options.mode === 'static' ? STATIC_COMPUTE_OPS : options.mode === 'dynamic' ? DYNAMIC_SUPPORTED_OPS : undefined;
        const candidates = built.decisions.filter((d) => d.quantized && (computeOps === undefined || computeOps.has(d.opType)) && !exclude.has(d.node));
        log(`accuracy drop ${accuracy.drop.toFixed(2)} > ${limit}: measuring sensitivity of ${candidates.length} nodes`);
        for (const c of candidates) {
          const trial = build(new Set([...exclude, c.node]));
          const r = await score(trial.bytes);
          guard.sensitivity.push({ node: c.node, opType: c.opType, recovered: r.value - scored.value });
        }
        guard.sensitivity.sort((a, b) => b.recovered - a.recovered);
        for (const c of guard.sensitivity) {
          if (accuracy.drop <= limit) break;
          exclude = new Set([...exclude, c.node]);
          guard.keptFloat.push(c.node);
          built = build(exclude);
          scored = await score(built.bytes);
          accuracy = metricOf(scored);
          log(`kept ${c.node} in float: drop now ${accuracy.drop.toFixed(2)}`);
        }
      }
    }

    const qRunner = await createConverted(built.bytes, { threads });
    const latency: QuantizeReport['latency'] = { threads, measuredOn: measuredOn(options.cpu), batches: [] };
    let batchInvariance: BatchInvarianceReport;
    let comparisons: OutputComparison[] = [];
    try {
      // Batch invariance: every row alone vs inside batches of the served size.
      const q = await measureBatchInvariance(qRunner, invarianceData, servedBatch, scored?.out);
      comparisons = compareOutputsToFp32(fp32Out, q.batched);
      batchInvariance = {
        servedBatch, rows: invarianceData.count,
        rule: `every output element, alone vs in consecutive batches of ${servedBatch}: |Δ| ≤ ${BATCH_REL_TOLERANCE}·max(|a|,|b|) + ${BATCH_ABS_TOLERANCE}·(output's largest magnitude)`,
        fp32: { maxAbsDiff: fp32Batch.maxAbsDiff, perOutput: fp32Batch.perOutput, invariant: fp32Batch.invariant },
        quantized: { maxAbsDiff: q.maxAbsDiff, perOutput: q.perOutput, invariant: q.invariant, elementsOutside: q.elementsOutside },
      };
      if (scored !== undefined) {
        const aloneClasses = predictedClasses(q.alone[scoreName!]!);
        const fp32Alone = predictedClasses(fp32Batch.alone[scoreName!]!);
        const ref = (c: Float64Array): number => (labels !== undefined ? percentEqual(c, labels) : percentEqual(c, fp32Classes!));
        batchInvariance.quantized.classesChanged = aloneClasses.reduce((n, c, i) => n + (c === scored!.classes[i] ? 0 : 1), 0);
        batchInvariance.score = {
          metric: labels !== undefined ? 'accuracy' : 'agreement',
          fp32Batch1: ref(fp32Alone), fp32Served: fp32Score, quantizedBatch1: ref(aloneClasses), quantizedServed: scored!.value,
        };
      }
      log(`batch invariance (batch 1 vs ${servedBatch}): FP32 max |Δ| ${fp32Batch.maxAbsDiff.toPrecision(3)}, ${options.mode} max |Δ| ${q.maxAbsDiff.toPrecision(3)} → ${q.invariant ? 'invariant' : 'NOT invariant'}`);

      // Latency: same runner options for both models, runs interleaved so load hits both alike.
      const batches = options.latencyBatches ?? [...new Set([1, servedBatch])];
      for (const b of batches) {
        const feeds = evalData !== undefined ? fixedBatch(evalData, b) : syntheticFeeds(inputs, b);
        const opts = options.latencyMinTimeMs !== undefined ? { minTimeMs: options.latencyMinTimeMs } : {};
        const [f, qt]: LatencyResult[] = await measureLatencyPair(fp32Runner, qRunner, feeds, opts);
        latency.batches.push({ batch: b, fp32Ms: f!.medianMs, quantizedMs: qt!.medianMs, ratio: qt!.medianMs / f!.medianMs, speedup: f!.medianMs / qt!.medianMs, runs: Math.min(f!.runs, qt!.runs) });
      }
    } finally {
      await qRunner.release();
    }

    // The measured verdict goes into the model, where the server reads it before batching.
    setMetadata(built.model, {
      ...baseMetadata(exclude),
      'berth.quantize.batch_invariant': String(batchInvariance.quantized.invariant),
      'berth.quantize.batch_max_abs_diff': String(batchInvariance.quantized.maxAbsDiff),
    });
    const bytes = encodeModel(built.model);

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
        servedBatch,
        ...(options.mode === 'fp16' ? { keepIoTypes: options.keepIoTypes ?? true } : {}),
        ...(calibrationData && options.mode === 'static' ? { calibrationSamples: calibrationData.count, calibrationSource: calibrationData.source } : {}),
        ...(options.validation ? { validationSource: options.validation.source } : {}),
      },
      ...(options.cpu !== undefined ? { cpu: { ...(options.cpu.model !== undefined ? { model: options.cpu.model } : {}), isa: cpuIsa(options.cpu), flags: kernelFlags(options.cpu) } } : {}),
      ...(reduceChoice !== undefined ? { reduceRange: reduceChoice } : {}),
      ...(dataNote !== undefined ? { data: dataNote } : {}),
      size: { fp32Bytes, quantizedBytes: bytes.byteLength, ratio: bytes.byteLength / fp32Bytes },
      latency,
      outputs: { rows: invarianceData.count, batch: servedBatch, source: invarianceData.source, comparisons },
      batchInvariance,
      ...(unscored !== undefined ? { accuracyUnavailable: unscored } : {}),
      guard,
      nodes: built.decisions,
      summary: { quantized: built.decisions.filter((d) => d.quantized).length, float: built.decisions.filter((d) => !d.quantized).length },
    };
    if (accuracy !== undefined) report.accuracy = accuracy;
    return { bytes, report };
  } finally {
    await fp32Runner.release();
  }
}

/** The paired statistics and the one-line claim for one measured model. */
function accuracyReport(m: {
  labels: Float64Array | undefined; fp32Classes: Float64Array; classes: Float64Array; fp32Score: number; value: number;
  maxAbs: number; output: string; batch: number; limit?: number;
}): AccuracyReport {
  const n = m.classes.length;
  const changed = m.classes.reduce((k, c, i) => k + (c === m.fp32Classes[i] ? 0 : 1), 0);
  const drop = m.fp32Score - m.value;
  let interval: AccuracyReport['interval'];
  let paired: AccuracyReport['paired'];
  if (m.labels !== undefined) {
    const t = pairedCounts(m.fp32Classes, m.classes, m.labels);
    const ci = newcombePairedInterval(t);
    const test = mcnemar(t.fp32Only, t.quantizedOnly);
    interval = { level: 0.95, method: 'Newcombe (1998) method 10: Wilson score limits, square-and-add with the paired correlation', lower: 100 * ci.lower, upper: 100 * ci.upper };
    paired = { ...t, mcnemarExactP: test.exactP, mcnemarMidP: test.midP, significant: test.exactP < 0.05 };
  } else {
    // Agreement: the drop is the share of changed predictions, one proportion.
    const [lo, hi] = wilsonInterval(changed, n);
    interval = { level: 0.95, method: 'Wilson score interval on the share of changed predictions', lower: 100 * lo, upper: 100 * hi };
  }
  const a: AccuracyReport = {
    metric: m.labels !== undefined ? 'accuracy' : 'agreement', output: m.output, samples: n, batch: m.batch,
    fp32: m.fp32Score, quantized: m.value, drop, interval, changed, maxAbsDiff: m.maxAbs, claim: '',
    ...(paired !== undefined ? { paired } : {}),
    ...(m.limit !== undefined ? { limit: m.limit, verdict: limitVerdict(drop, interval.upper, interval.lower, m.limit) } : {}),
  };
  a.claim = accuracyClaim(a);
  return a;
}

/** "this CPU" in words for the latency label. */
function measuredOn(cpu: CpuInfo | undefined): string {
  if (cpu === undefined) return 'this machine (CPU not given)';
  const flags = kernelFlags(cpu);
  return `${cpu.model ?? 'unknown CPU model'} (${cpuIsa(cpu)}${flags.length > 0 ? `; flags ${flags.join(' ')}` : ''})`;
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

