/**
 * @module cli/background
 * `berth background <model-version-dir> --raw data.csv --preprocessing spec.json [--size 16]`
 * writes the records explanations hide fields with (`<version>/explain.background.json`,
 * explain/background): a seeded sample of the training records, stratified by label.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { recordFromCsv } from '../anomaly/reference.js';
import { messageOf } from '../errors.js';
import { BACKGROUND_FILE, BACKGROUND_FORMAT, sampleBackground, type Background } from '../explain/background.js';
import { parseSimpleCsv, readTabularSpec } from '../preprocessing/tabular.js';
import { parseIntOption } from './serve.js';

interface Flags {
  raw: string;
  preprocessing: string;
  size: number;
  seed: number;
}

function run(dir: string, f: Flags): void {
  const spec = readTabularSpec(f.preprocessing);
  const buf = readFileSync(f.raw);
  const rows = parseSimpleCsv((f.raw.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8'), spec);
  const records = rows.map((row) => recordFromCsv(row as readonly string[], spec));
  const picked = sampleBackground(records, f.size, f.seed, spec.label?.column);
  const doc: Background = { format: BACKGROUND_FORMAT, source: `${f.raw}: ${picked.length} of ${records.length} records, stratified by ${spec.label?.column ?? 'nothing'}, seed ${f.seed}`, records: picked };
  const out = join(dir, BACKGROUND_FILE);
  writeFileSync(out, `${JSON.stringify(doc)}\n`);
  process.stdout.write(`wrote ${out}: ${doc.source}\n`);
}

export function registerBackgroundCommand(program: Command): void {
  program
    .command('background')
    .description(`Draw the background records explanations hide fields with: writes <version>/${BACKGROUND_FILE} (a seeded sample of training records, stratified by label)`)
    .argument('<version-dir>', 'model version directory (<repo>/<model>/<version>)')
    .requiredOption('--raw <file>', 'raw training records (CSV, optionally .gz)')
    .requiredOption('--preprocessing <file>', 'the version\'s tabular preprocessing spec (reads the records and their labels)')
    .option('--size <n>', 'records to draw (exact explanations cost 2^fields × size model rows)', parseIntOption('--size', 1, 10_000), 16)
    .option('--seed <n>', 'random seed', parseIntOption('--seed', 0, 2 ** 31), 1)
    .action((dir: string, flags: Flags) => {
      try {
        run(dir, flags);
      } catch (err) {
        process.stderr.write(`berth background: ${messageOf(err)}\n`);
        process.exitCode = 2;
      }
    });
}
