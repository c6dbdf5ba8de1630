/**
 * @module cli/quantize
 * `berth quantize MODEL -o OUT --mode dynamic|static|fp16 …`: converts an FP32 ONNX model,
 * prints the size / latency / accuracy table and the per-node decisions, writes the model
 * and a JSON report, and exits 1 when the accuracy drop exceeds --max-accuracy-drop (2 for
 * usage or input errors). `--into-repository DIR[/model]` writes the result as the next
 * version of a model in a Berth model repository.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { BerthError, isBerthError, messageOf } from '../errors.js';
import { readModel, writeFileAtomic } from '../onnx/io.js';
import type { CalibrationMethod } from '../quantize/calibrate.js';
import { parseCpuinfo, type CpuInfo } from '../quantize/cpu.js';
import { loadDataset, type DataSpec } from '../quantize/data.js';
import type { DynamicFormat } from '../quantize/dynamic.js';
import type { QuantType } from '../quantize/params.js';
import { accuracyFailed, modelInputSpecs, quantize, writeQuantized, type QuantizeMode, type QuantizeOptions } from '../quantize/quantize.js';
import { formatReport } from '../quantize/report.js';
import { resolveRepositoryTarget } from '../quantize/repository.js';

export interface QuantizeFlags {
  output?: string;
  intoRepository?: string;
  mode: QuantizeMode;
  method: CalibrationMethod;
  calibration?: string;
  calibrationShape?: number[];
  calibrationLimit: number;
  validation?: string;
  validationShape?: number[];
  validationLabels?: string;
  labels?: string;
  validationLimit?: number;
  maxAccuracyDrop?: number;
  guard: boolean;
  perChannel?: boolean;
  reduceRange?: boolean;
  weightType: QuantType;
  activationType: QuantType;
  symmetricActivations?: boolean;
  dynamicFormat: DynamicFormat;
  opTypes?: string[];
  exclude?: string[];
  keepIoTypes: boolean;
  scoreOutput?: string;
  percentile?: number;
  bins?: number;
  threads: number;
  latencyBatches?: number[];
  servedBatch: number;
  splitSeed: number;
  latency: boolean;
  report?: string;
  json?: boolean;
}

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');
const intList = (name: string) => (v: string): number[] => list(v).map((s) => {
  if (!/^-?\d+$/.test(s)) throw new InvalidArgumentError(`${name} must be comma-separated integers, got '${v}'`);
  return Number(s);
});
const number = (name: string, min: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number ≥ ${min}, got '${v}'`);
  return n;
};

const integer = (name: string, min: number) => (v: string): number => {
  const n = number(name, min)(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be a whole number ≥ ${min}, got '${v}'`);
  return n;
};

/** This machine's CPU: the x86 feature flags from /proc/cpuinfo (undefined flags where it cannot be read). */
export function detectCpu(arch: string = process.arch, cpuinfoPath = '/proc/cpuinfo'): CpuInfo {
  let text: string | undefined;
  try { text = readFileSync(cpuinfoPath, 'utf8'); } catch { text = undefined; }
  const parsed = text === undefined ? { flags: undefined, model: undefined } : parseCpuinfo(text);
  return { arch, flags: parsed.flags, ...(parsed.model !== undefined ? { model: parsed.model } : {}) };
}

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs the command; returns the exit code (0 ok, 1 accuracy limit exceeded, 2 usage/input error). */
export async function runQuantize(modelPath: string, flags: QuantizeFlags, io: CliIo, cpu: CpuInfo = detectCpu()): Promise<number> {
  try {
    if (flags.output === undefined && flags.intoRepository === undefined) {
      throw new BerthError('BERTH_ERR_CLI_USAGE', 'give an output: -o FILE or --into-repository DIR[/model]');
    }
    const inputs = modelInputSpecs(readModel(modelPath, { externalData: 'keep' }));
    const spec = (path: string, shape: number[] | undefined, limit: number | undefined, labels?: { column?: string; path?: string }): DataSpec => ({
      path,
      ...(shape !== undefined ? { shape } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(labels?.column !== undefined ? { labelColumn: labels.column } : {}),
      ...(labels?.path !== undefined ? { labelsPath: labels.path } : {}),
    });
    const validation = flags.validation === undefined ? undefined
      : loadDataset(spec(flags.validation, flags.validationShape, flags.validationLimit, { ...(flags.labels !== undefined ? { column: flags.labels } : {}), ...(flags.validationLabels !== undefined ? { path: flags.validationLabels } : {}) }), inputs);
    // Static mode without --calibration: quantize() draws a seeded part of the validation
    // data for calibration and measures accuracy on the rest (said on stderr and in the report).
    const calibration = flags.calibration === undefined ? undefined
      : loadDataset(spec(flags.calibration, flags.calibrationShape, flags.calibrationLimit, flags.labels !== undefined ? { column: flags.labels } : {}), inputs);
    if (flags.maxAccuracyDrop !== undefined && validation === undefined) {
      throw new BerthError('BERTH_ERR_CLI_USAGE', '--max-accuracy-drop needs --validation data');
    }
    const options: QuantizeOptions = {
      mode: flags.mode,
      method: flags.method,
      perChannel: flags.perChannel ?? false,
      cpu,
      ...(flags.reduceRange !== undefined ? { reduceRange: flags.reduceRange } : {}),
      weightType: flags.weightType,
      activationType: flags.activationType,
      symmetricActivations: flags.symmetricActivations ?? false,
      dynamicFormat: flags.dynamicFormat,
      keepIoTypes: flags.keepIoTypes,
      guard: flags.guard,
      threads: flags.threads,
      ...(flags.latency ? (flags.latencyBatches !== undefined ? { latencyBatches: flags.latencyBatches } : {}) : { latencyBatches: [] }),
      servedBatch: flags.servedBatch,
      calibrationLimit: flags.calibrationLimit,
      splitSeed: flags.splitSeed,
      log: (m) => io.err(m),
      ...(flags.opTypes !== undefined ? { opTypes: flags.opTypes } : {}),
      ...(flags.exclude !== undefined ? { exclude: flags.exclude } : {}),
      ...(validation !== undefined ? { validation } : {}),
      ...(calibration !== undefined ? { calibration } : {}),
      ...(flags.maxAccuracyDrop !== undefined ? { maxAccuracyDrop: flags.maxAccuracyDrop } : {}),
      ...(flags.scoreOutput !== undefined ? { scoreOutput: flags.scoreOutput } : {}),
      ...(flags.percentile !== undefined ? { percentile: flags.percentile } : {}),
      ...(flags.bins !== undefined ? { bins: flags.bins } : {}),
    };
    const result = await quantize(modelPath, options);
    const failed = accuracyFailed(result.report);
    let outPath: string | undefined;
    if (flags.intoRepository !== undefined) {
      const target = resolveRepositoryTarget(flags.intoRepository, modelPath);
      outPath = target.modelPath;
    } else {
      outPath = resolve(flags.output!);
    }
    const reportPath = flags.report ?? (flags.intoRepository !== undefined ? join(dirname(outPath), 'quantize-report.json') : `${outPath.replace(/\.onnx$/i, '')}.quantize.json`);
    // Over the limit, only the report is written: such a model should not be deployable by accident.
    if (failed) writeFileAtomic(reportPath, Buffer.from(`${JSON.stringify(result.report, null, 2)}\n`));
    else writeQuantized(result, outPath, reportPath);
    io.out(flags.json ? JSON.stringify(result.report, null, 2) : formatReport(result.report));
    if (failed) {
      const a = result.report.accuracy!;
      io.err(`error [BERTH_ERR_QUANTIZE_ACCURACY]: accuracy drop ${a.drop.toFixed(2)} pts exceeds --max-accuracy-drop ${a.limit} (${a.claim}); the model was not written`);
      return 1;
    }
    io.err(`wrote ${outPath} and ${reportPath}`);
    return 0;
  } catch (err) {
    if (isBerthError(err)) {
      io.err(`error [${err.code}]: ${err.message}`);
      return err.code === 'BERTH_ERR_QUANTIZE_ACCURACY' ? 1 : 2;
    }
    io.err(`error: ${messageOf(err)}`);
    return 2;
  }
}

export function registerQuantizeCommand(program: Command): void {
  program
    .command('quantize')
    .description('Convert an FP32 ONNX model to INT8 (dynamic or static QDQ) or FP16 and measure size, latency and accuracy')
    .argument('<model>', 'FP32 .onnx model')
    .option('-o, --output <file>', 'where to write the converted model')
    .option('--into-repository <dir>', 'write as the next version in a model repository: DIR (model keeps its name) or DIR/<model>')
    .addOption(new Option('--mode <mode>', 'conversion').choices(['dynamic', 'static', 'fp16']).default('dynamic'))
    .addOption(new Option('--method <method>', 'static calibration method').choices(['minmax', 'percentile', 'entropy']).default('minmax'))
    .option('--calibration <file>', 'calibration data (.npy, .json, .csv, raw .f32[.gz] with --calibration-shape)')
    .option('--calibration-shape <dims>', 'shape of raw calibration data, e.g. -1,91', intList('--calibration-shape'))
    .option('--calibration-limit <n>', 'use at most n calibration samples (static without --calibration: drawn from --validation, at most a quarter of it)', number('--calibration-limit', 1), 1000)
    .option('--split-seed <n>', 'seed of the calibration/evaluation split of --validation (static without --calibration)', integer('--split-seed', 0), 1)
    .option('--validation <file>', 'validation data (same formats; dataset descriptors like examples/data/*/test-*.json carry labels)')
    .option('--validation-shape <dims>', 'shape of raw validation data', intList('--validation-shape'))
    .option('--validation-labels <file>', 'labels for the validation data (.u8, .npy, .json, .csv, .txt)')
    .option('--labels <column>', 'CSV label column (name or 0-based index)')
    .option('--validation-limit <n>', 'use at most n validation samples', number('--validation-limit', 1))
    .option('--max-accuracy-drop <points>', 'allowed accuracy drop in percentage points (agreement with FP32 without labels)', number('--max-accuracy-drop', 0))
    .option('--no-guard', 'do not keep sensitive nodes in float; just fail when the drop is over the limit')
    .option('--per-channel', 'one scale per output channel for weights')
    .option('--reduce-range', '7-bit weights (default on x86 CPUs without VNNI, where 8-bit u8×s8 products can saturate)')
    .option('--no-reduce-range', 'full 8-bit weights even on an x86 CPU without VNNI')
    .addOption(new Option('--weight-type <type>').choices(['int8', 'uint8']).default('int8'))
    .addOption(new Option('--activation-type <type>', 'static activations').choices(['uint8', 'int8']).default('uint8'))
    .option('--symmetric-activations', 'symmetric activation ranges (static)')
    .addOption(new Option('--dynamic-format <format>', 'dynamic: standard ops (MatMulInteger) or com.microsoft DynamicQuantizeMatMul').choices(['onnx', 'contrib']).default('onnx'))
    .option('--op-types <ops>', 'only quantize these op types, e.g. MatMul,Gemm', list)
    .option('--exclude <nodes>', 'node names to keep in float', list)
    .option('--no-keep-io-types', 'fp16: make model inputs/outputs float16 too')
    .option('--score-output <name>', 'output to score (default: first float [batch, C] output)')
    .option('--percentile <p>', 'percentile for --method percentile', number('--percentile', 0))
    .option('--bins <n>', 'histogram bins for percentile/entropy', number('--bins', 128))
    .option('--threads <n>', 'intra-op threads for every session (0 = ORT default)', number('--threads', 0), 0)
    .option('--served-batch <n>', 'the batch size the server merges requests up to: accuracy, batch invariance and latency are measured at 1 and at n', integer('--served-batch', 1), 32)
    .option('--latency-batches <sizes>', 'batch sizes to time (default 1 and --served-batch)', intList('--latency-batches'))
    .option('--no-latency', 'skip the latency measurement')
    .option('--report <file>', 'JSON report path (default: beside the output, <name>.quantize.json)')
    .option('--json', 'print the JSON report instead of the table')
    .action(async (model: string, flags: QuantizeFlags) => {
      const code = await runQuantize(model, flags, { out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`) });
      process.exitCode = code;
    });
}
