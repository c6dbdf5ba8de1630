/**
 * @module cli/reference
 * `berth reference <model-version-dir> (--raw data.csv --preprocessing spec.json | --data file)
 * [--calibration-raw held-out.csv | --calibration-data file --calibration-labels file]
 * [--no-anomaly | --anomaly-only]`: writes the version's reference profile for live drift,
 * the anomaly profile of the same rows (anomaly/reference) and, from labelled held-out data,
 * the score calibration for the label-free estimate (monitoring/reference).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { BerthError, messageOf } from '../errors.js';
import { loadDataset, loadLabels } from '../quantize/data.js';
import { readModel } from '../onnx/index.js';
import { modelInputSpecs } from '../quantize/quantize.js';
import { CALIBRATION_FILE } from '../monitoring/calibration.js';
import { buildCalibration, buildReferenceProfile, encodeRawData, REFERENCE_PROFILE_FILE, type ReferenceData } from '../monitoring/reference.js';
import { readModelConfig } from '../repository/model-config.js';
import { ANOMALY_PROFILE_FILE } from '../anomaly/profile.js';
import { anomalyProfileOf, describeAnomalyProfile } from '../anomaly/reference.js';
import { parseIntOption } from './serve.js';

interface Flags {
  raw?: string;
  preprocessing?: string;
  data?: string;
  limit?: number;
  output?: string;
  calibrationRaw?: string;
  calibrationData?: string;
  calibrationLabels?: string;
  calibrationLimit?: number;
  /** false with --no-anomaly. */
  anomaly?: boolean;
  anomalyOnly?: boolean;
}

/** Encoded rows of a model with one FP32 input, from a data file (.npy, .json, .f32[.gz] + descriptor). */
function encodedData(path: string, modelPath: string, limit: number | undefined, flag: string): ReferenceData {
  const ds = loadDataset({ path, ...(limit === undefined ? {} : { limit }) }, modelInputSpecs(readModel(modelPath)));
  const only = Object.values(ds.inputs);
  if (only.length !== 1 || only[0]!.type !== 'float32') throw new BerthError('BERTH_ERR_CLI_USAGE', `${flag} must hold one FP32 input; got ${only.length} input(s)`);
  return { features: only[0]!.data as Float32Array, count: ds.count, source: `${path}${limit === undefined ? '' : ` (first ${ds.count} rows)`}` };
}

/** The labelled held-out data the calibration is fitted on, if any was given. */
function calibrationData(f: Flags, modelPath: string): ReferenceData | undefined {
  if (f.calibrationRaw !== undefined) {
    if (f.preprocessing === undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', '--calibration-raw needs --preprocessing <preprocessing.json> (its label column gives the labels)');
    const data = encodeRawData(f.calibrationRaw, f.preprocessing, f.calibrationLimit);
    if (data.labels === undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', `--calibration-raw ${f.calibrationRaw}: every record needs a label the preprocessing spec's label column can read`);
    return data;
  }
  if (f.calibrationData !== undefined) {
    if (f.calibrationLabels === undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', '--calibration-data needs --calibration-labels <file> (.u8, .npy, .json, .csv: one class index per row)');
    const data = encodedData(f.calibrationData, modelPath, f.calibrationLimit, '--calibration-data');
    const labels = loadLabels(f.calibrationLabels);
    if (labels.length < data.count) throw new BerthError('BERTH_ERR_CLI_USAGE', `--calibration-labels ${f.calibrationLabels} has ${labels.length} labels for ${data.count} rows`);
    data.labels = Int32Array.from(labels.subarray(0, data.count));
    return data;
  }
  if (f.calibrationLabels !== undefined || f.calibrationLimit !== undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', '--calibration-labels and --calibration-limit go with --calibration-raw or --calibration-data');
  return undefined;
}

/** The anomaly profile of the same reference rows, beside the drift profile. */
function writeAnomaly(modelPath: string, data: ReferenceData, dir: string): void {
  const inputs = modelInputSpecs(readModel(modelPath));
  if (inputs.length !== 1) throw new BerthError('BERTH_ERR_CLI_USAGE', `the model has ${inputs.length} inputs; an anomaly profile covers a model with one input (give --no-anomaly)`);
  const profile = anomalyProfileOf({ features: data.features, count: data.count, input: inputs[0]!.name, ...(data.spec === undefined ? {} : { spec: data.spec }), ...(data.records === undefined ? {} : { records: data.records }) });
  const file = join(dir, ANOMALY_PROFILE_FILE);
  writeFileSync(file, `${JSON.stringify(profile)}\n`);
  process.stdout.write(`wrote ${file}: ${describeAnomalyProfile(profile)}\n`);
}

async function run(target: string, f: Flags): Promise<void> {
  const isDir = existsSync(target) && statSync(target).isDirectory();
  const modelPath = isDir ? join(target, 'model.onnx') : target;
  if (!existsSync(modelPath)) throw new BerthError('BERTH_ERR_CLI_USAGE', `no model at ${modelPath} (give a version directory <repo>/<model>/<version> or a .onnx file)`);
  let data: ReferenceData;
  if (f.raw !== undefined) {
    if (f.preprocessing === undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', '--raw needs --preprocessing <preprocessing.json>');
    data = encodeRawData(f.raw, f.preprocessing, f.limit);
  } else if (f.data !== undefined) {
    data = encodedData(f.data, modelPath, f.limit, '--data');
  } else {
    throw new BerthError('BERTH_ERR_CLI_USAGE', 'give --raw <csv> --preprocessing <spec.json>, or --data <file>');
  }
  const dir = isDir ? target : join(modelPath, '..');
  const out = f.output ?? join(dir, REFERENCE_PROFILE_FILE);
  if (f.anomalyOnly === true) {
    if (f.anomaly === false) throw new BerthError('BERTH_ERR_CLI_USAGE', '--anomaly-only and --no-anomaly contradict each other');
    if (f.calibrationRaw !== undefined || f.calibrationData !== undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', '--anomaly-only writes no calibration: drop --calibration-raw / --calibration-data');
    writeAnomaly(modelPath, data, dirname(out));
    return;
  }
  // A version directory's model config (<repo>/<model>/berth.yaml) may set the task, the
  // outputs or the classes the server watches: the profile must have the same columns.
  // Calibration flags are checked (and their data read) before the profile is built.
  const held = calibrationData(f, modelPath);
  const modelConfig = isDir ? await readModelConfig(dirname(resolve(target)), basename(dirname(resolve(target)))) : undefined;
  const monitoring = modelConfig?.config.monitoring;
  const profile = await buildReferenceProfile(modelPath, data, monitoring === undefined ? {} : { monitoring });
  writeFileSync(out, `${JSON.stringify(profile)}\n`);
  process.stdout.write(`wrote ${out}: ${profile.rows} rows, ${profile.columns.length} columns\n`);
  if (f.anomaly === false) process.stdout.write(`no anomaly profile written (--no-anomaly): the server runs only the field checks for this version\n`);
  else writeAnomaly(modelPath, data, dirname(out));
  if (held === undefined) {
    process.stdout.write(`no calibration written: give --calibration-raw or --calibration-data with labelled rows held out from training, or the label-free estimate stays unavailable for this version\n`);
    return;
  }
  const calibration = await buildCalibration(modelPath, { ...held, ...(data.featureNames === undefined ? {} : { featureNames: data.featureNames }) }, monitoring === undefined ? {} : { monitoring });
  const calOut = join(dirname(out), CALIBRATION_FILE);
  writeFileSync(calOut, `${JSON.stringify(calibration)}\n`);
  const fit = calibration.fit;
  process.stdout.write(`wrote ${calOut}: isotonic calibration on ${calibration.rows} labelled rows (accuracy ${fit.accuracy.toFixed(4)}; expected calibration error ${fit.eceBefore.toFixed(4)} before, ${fit.eceAfter.toFixed(4)} after)\n`);
}

export function registerReferenceCommand(program: Command): void {
  program
    .command('reference')
    .description('Profile a model version\'s inputs and outputs on reference (training) data, for live drift and the anomaly layer: writes <version>/reference.profile.json and <version>/anomaly.profile.json; with labelled held-out data also the score calibration (<version>/reference.calibration.json)')
    .argument('<model>', 'model version directory (<repo>/<model>/<version>) or .onnx file')
    .option('--raw <file>', 'raw records (CSV, optionally .gz) to encode with --preprocessing')
    .option('--preprocessing <file>', 'tabular preprocessing spec (preprocessing.json) for --raw; also names the features')
    .option('--data <file>', 'already-encoded data (.npy, .json, .f32[.gz] with a descriptor; see docs/quantize.md)')
    .option('--limit <n>', 'use at most n rows', parseIntOption('--limit', 1, 100_000_000))
    .option('--calibration-raw <file>', `labelled raw records held out from training (labels from --preprocessing): fit the score calibration for the label-free estimate (writes <version>/${CALIBRATION_FILE})`)
    .option('--calibration-data <file>', 'labelled encoded rows held out from training (as --data), with --calibration-labels')
    .option('--calibration-labels <file>', 'class index per --calibration-data row (.u8, .npy, .json, .csv)')
    .option('--calibration-limit <n>', 'use the first n calibration rows', parseIntOption('--calibration-limit', 1, 100_000_000))
    .option('--no-anomaly', `do not write the anomaly profile (<version>/${ANOMALY_PROFILE_FILE}: input and raw-field ranges, categories, the OOD score's threshold)`)
    .option('--anomaly-only', `write only <version>/${ANOMALY_PROFILE_FILE}, leaving the drift profile and the calibration as they are (the model is not run)`)
    .option('-o, --output <file>', `where to write (default <version>/${REFERENCE_PROFILE_FILE})`)
    .action(async (target: string, flags: Flags) => {
      try {
        await run(target, flags);
      } catch (err) {
        process.stderr.write(`berth reference: ${messageOf(err)}\n`);
        process.exitCode = 2;
      }
    });
}
