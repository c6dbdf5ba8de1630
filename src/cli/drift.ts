/**
 * @module cli/drift
 * `berth profile` (CSV → reference profile JSON) and `berth drift` (reference profile or
 * CSV vs current CSV → verdict, optional HTML and JSON). Exit codes: 0 no drift, 1 drift,
 * 2 error (the message names the file, column or field). Sets process.exitCode only.
 */
import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { BerthError, isBerthError, messageOf } from '../errors.js';
import { renderHtml } from '../drift/html.js';
import { driftCsvFile, loadReference, profileCsvFile, readSchemaFile } from '../drift/io.js';
import type { DriftOptionsInput } from '../drift/options.js';
import { SIGNIFICANT_BELOW_EFFECT, type DriftReport } from '../drift/report.js';
import { DEFAULT_EXACT_LIMIT, DEFAULT_K } from '../drift/sketch/kll.js';

function fail(err: unknown): void {
  const msg = isBerthError(err) ? `${err.code}: ${err.message}` : `BERTH_ERR_INTERNAL: ${messageOf(err)}`;
  process.stderr.write(`berth: ${msg}\n`);
  process.exitCode = 2;
}

function parseNumber(name: string) {
  return (v: string): number => {
    const x = Number(v);
    if (!Number.isFinite(x)) throw new BerthError('BERTH_ERR_CLI_USAGE', `${name}: expected a number, got "${v}"`);
    return x;
  };
}

async function writeOut(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (err) {
    throw new BerthError('BERTH_ERR_FILE', `${path}: cannot write (${messageOf(err)})`, { cause: err });
  }
}

function summary(report: DriftReport): string {
  const lines = [`${report.verdict.drift ? 'DRIFT' : 'no drift'}: ${report.verdict.driftedFeatures.length}/${report.verdict.featureCount} features drifted (reference ${report.reference.rows} rows, current ${report.current.rows} rows)`];
  for (const s of report.verdict.signals) lines.push(`  - ${s}`);
  const all = [...report.features, ...report.outputs.columns, ...report.labels];
  const w = Math.max(6, ...all.map((c) => c.name.length));
  lines.push('', `  ${'column'.padEnd(w)}  test  p-adj      effect                 decision`);
  for (const c of all) {
    const status = c.drifted ? 'DRIFT' : c.status === SIGNIFICANT_BELOW_EFFECT ? `${SIGNIFICANT_BELOW_EFFECT} (${c.effect.threshold})` : 'ok';
    lines.push(`  ${c.name.padEnd(w)}  ${c.test.name.padEnd(4)}  ${c.test.pValueAdjusted.toExponential(2).padEnd(9)}  ${`${c.effect.metric}=${c.effect.value.toFixed(4)}`.padEnd(21)}  ${status}`);
  }
  const hints = all.filter((c) => c.thresholdHint !== undefined);
  if (hints.length > 0) {
    lines.push('', `  ${hints.length} column(s) ${SIGNIFICANT_BELOW_EFFECT}: a real change smaller than the threshold. To flag changes this size, set the threshold`);
    lines.push('  in the --schema (or profile) column:');
    for (const c of hints) lines.push(`    ${c.thresholdHint!.schema}`);
    lines.push('  or, for live drift, in the model\'s berth.yaml:', '    monitoring:', '      driftThresholds:');
    for (const c of hints) lines.push(`        ${c.thresholdHint!.berthYaml.split('\n').pop()!.trim()}`);
  }
  if (report.multivariate !== null) {
    const m = report.multivariate;
    lines.push('', `  multivariate PCA: reference error ${m.referenceError.toFixed(3)}, current ${m.currentError?.toFixed(3) ?? '–'}, p=${m.pValue?.toExponential(2) ?? '–'} → ${m.drifted ? 'DRIFT' : 'ok'}${m.reason ? ` (${m.reason})` : ''}`);
  }
  return lines.join('\n') + '\n';
}

export function registerDriftCommands(program: Command): void {
  program
    .command('profile')
    .description('Build a reference profile (mergeable sketches, no raw rows) from a training CSV')
    .argument('<data.csv>', 'training data (CSV with a header row; .gz accepted)')
    .option('--schema <schema.json>', 'column types, roles and thresholds (inferred when omitted)')
    .requiredOption('-o, --output <profile.json>', 'where to write the profile')
    .addOption(new Option('--exact-limit <n>', `numeric values kept exactly per column (default ${DEFAULT_EXACT_LIMIT}, less for very wide data); past it a KLL sketch`).argParser(parseNumber('--exact-limit')))
    .addOption(new Option('--sketch-k <k>', 'KLL sketch size past the exact limit (rank error ≈ 2.3/k^0.97)').argParser(parseNumber('--sketch-k')).default(DEFAULT_K))
    .addOption(new Option('--seed <n>', 'sketch seed (same input + seed → same profile)').argParser(parseNumber('--seed')).default(1))
    .action(async (data: string, opts: { schema?: string; output: string; exactLimit?: number; sketchK: number; seed: number }) => {
      try {
        const schema = opts.schema === undefined ? null : await readSchemaFile(opts.schema);
        const profile = await profileCsvFile(data, schema, { k: opts.sketchK, seed: opts.seed, ...(opts.exactLimit === undefined ? {} : { exactLimit: opts.exactLimit }) });
        await writeOut(opts.output, JSON.stringify(profile) + '\n');
        process.stdout.write(`wrote ${opts.output}: ${profile.rows} rows, ${profile.columns.length} columns\n`);
        process.exitCode = 0;
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('drift')
    .description('Check current data against a reference (profile JSON or training CSV); exit 0 no drift, 1 drift, 2 error')
    .argument('<reference>', 'reference profile (.json) or training CSV')
    .argument('<current.csv>', 'current data (CSV with a header row; .gz accepted)')
    .option('--schema <schema.json>', 'column types, roles and per-column thresholds')
    .option('--report <drift.html>', 'write a self-contained HTML report')
    .option('--json [file]', 'print the report as JSON (or write it to a file)')
    .addOption(new Option('--alpha <p>', 'significance level after correction').argParser(parseNumber('--alpha')))
    .addOption(new Option('--correction <method>', 'multiple-testing correction across features').choices(['bh', 'bonferroni', 'none']))
    .action(async (reference: string, current: string, opts: { schema?: string; report?: string; json?: string | boolean; alpha?: number; correction?: 'bh' | 'bonferroni' | 'none' }) => {
      try {
        const schema = opts.schema === undefined ? null : await readSchemaFile(opts.schema);
        const profile = await loadReference(reference, schema, opts.schema);
        const driftOptions: DriftOptionsInput = {};
        if (opts.alpha !== undefined) driftOptions.alpha = opts.alpha;
        if (opts.correction !== undefined) driftOptions.correction = opts.correction;
        const report = await driftCsvFile(profile, current, { ...driftOptions, referenceSource: reference });
        if (opts.report !== undefined) await writeOut(opts.report, renderHtml(report));
        const json = JSON.stringify(report, null, 2) + '\n';
        if (opts.json === true) process.stdout.write(json);
        else {
          if (typeof opts.json === 'string') await writeOut(opts.json, json);
          process.stdout.write(summary(report));
        }
        process.exitCode = report.verdict.drift ? 1 : 0;
      } catch (err) {
        fail(err);
      }
    });
}
