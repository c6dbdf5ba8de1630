/**
 * @module cli/reference
 * `berth reference <model-version-dir> (--raw data.csv --preprocessing spec.json | --data file)`:
 * writes the version's reference profile for live drift (monitoring/reference).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { BerthError, messageOf } from '../errors.js';
import { loadDataset } from '../quantize/data.js';
import { readModel } from '../onnx/index.js';
import { modelInputSpecs } from '../quantize/quantize.js';
import { buildReferenceProfile, encodeRawData, REFERENCE_PROFILE_FILE, type ReferenceData } from '../monitoring/reference.js';
import { readModelConfig } from '../repository/model-config.js';
import { parseIntOption } from './serve.js';

interface Flags {
  raw?: string;
  preprocessing?: string;
  data?: string;
  limit?: number;
  output?: string;
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
    const ds = loadDataset({ path: f.data, ...(f.limit === undefined ? {} : { limit: f.limit }) }, modelInputSpecs(readModel(modelPath)));
    const only = Object.values(ds.inputs);
    if (only.length !== 1 || only[0]!.type !== 'float32') throw new BerthError('BERTH_ERR_CLI_USAGE', `--data must hold one FP32 input; got ${only.length} input(s)`);
    data = { features: only[0]!.data as Float32Array, count: ds.count };
  } else {
    throw new BerthError('BERTH_ERR_CLI_USAGE', 'give --raw <csv> --preprocessing <spec.json>, or --data <file>');
  }
  // A version directory's model config (<repo>/<model>/berth.yaml) may set the task, the
  // outputs or the classes the server watches: the profile must have the same columns.
  const modelConfig = isDir ? await readModelConfig(dirname(resolve(target)), basename(dirname(resolve(target)))) : undefined;
  const monitoring = modelConfig?.config.monitoring;
  const profile = await buildReferenceProfile(modelPath, data, monitoring === undefined ? {} : { monitoring });
  const out = f.output ?? join(isDir ? target : join(modelPath, '..'), REFERENCE_PROFILE_FILE);
  writeFileSync(out, `${JSON.stringify(profile)}\n`);
  process.stdout.write(`wrote ${out}: ${profile.rows} rows, ${profile.columns.length} columns\n`);
}

export function registerReferenceCommand(program: Command): void {
  program
    .command('reference')
    .description('Profile a model version\'s inputs and outputs on reference (training) data, for live drift: writes <version>/reference.profile.json')
    .argument('<model>', 'model version directory (<repo>/<model>/<version>) or .onnx file')
    .option('--raw <file>', 'raw records (CSV, optionally .gz) to encode with --preprocessing')
    .option('--preprocessing <file>', 'tabular preprocessing spec (preprocessing.json) for --raw; also names the features')
    .option('--data <file>', 'already-encoded data (.npy, .json, .f32[.gz] with a descriptor; see docs/quantize.md)')
    .option('--limit <n>', 'use at most n rows', parseIntOption('--limit', 1, 100_000_000))
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
