/**
 * @module drift/io
 * File-level entry points the CLI and the benchmark use: read a schema, infer one from a
 * CSV, profile a CSV (streamed twice: column sketches, then the PCA moments), load a
 * reference (profile JSON or CSV), and check a current CSV against a profile. Errors name
 * the file, and the column or field when there is one.
 */
import { readFile } from 'node:fs/promises';
import { BerthError, messageOf } from '../errors.js';
import { DriftAccumulator } from './accumulator.js';
import { readCsvFile, type CsvOptions } from './csv.js';
import type { DriftOptionsInput } from './options.js';
import { bindHeader, MultivariateBuilder, parseProfile, ProfileBuilder, schemaOfProfile, type Profile, type ProfileOptions } from './profile.js';
import type { DriftReport } from './report.js';
import { DEFAULT_MISSING_TOKENS, parseSchema, SchemaInferrer, type Schema } from './schema.js';

export interface CsvSourceOptions extends CsvOptions {
  /** Column names when the file has no header row. */
  columns?: string[];
  /** Optional transform applied to each record (e.g. strip a trailing '.' from labels). */
  mapRecord?: (fields: string[]) => string[];
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BerthError('BERTH_ERR_FILE', `${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : messageOf(err)})`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BerthError('BERTH_ERR_FILE', `${path}: ${what} is not valid JSON (${messageOf(err)})`, { cause: err });
  }
}

export async function readSchemaFile(path: string): Promise<Schema> {
  return parseSchema(await readJson(path, 'schema'), path);
}

export async function readProfileFile(path: string): Promise<Profile> {
  return parseProfile(await readJson(path, 'profile'), path);
}

/** Iterates a CSV's header and records, checking record widths. */
async function* records(path: string, options: CsvSourceOptions): AsyncGenerator<{ header: string[]; fields: string[]; line: number }> {
  let header: string[] | null = options.columns ?? null;
  let line = 0;
  for await (const raw of readCsvFile(path, options)) {
    line++;
    const fields = options.mapRecord ? options.mapRecord(raw) : raw;
    if (header === null) {
      header = fields;
      if (header.length === 0 || header.every((h) => h === '')) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: the header row is empty`);
      continue;
    }
    if (fields.length !== header.length) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: record ${line} (the header is record 1) has ${fields.length} fields, the header has ${header.length}`);
    yield { header, fields, line };
  }
  if (header === null) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: the file is empty (no header row)`);
}

export async function inferSchemaFromCsv(path: string, options: CsvSourceOptions = {}, missingTokens: readonly string[] = DEFAULT_MISSING_TOKENS): Promise<Schema> {
  let inferrer: SchemaInferrer | null = null;
  for await (const r of records(path, options)) {
    inferrer ??= new SchemaInferrer(r.header, missingTokens);
    inferrer.add(r.fields);
  }
  if (inferrer === null) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: no data rows, cannot infer a schema`);
  return inferrer.result();
}

/** Profiles a CSV (schema inferred when not given). */
export async function profileCsvFile(path: string, schema: Schema | null, options: ProfileOptions & { csv?: CsvSourceOptions } = {}): Promise<Profile> {
  const csv = options.csv ?? {};
  const s = schema ?? (await inferSchemaFromCsv(path, csv));
  const builder = new ProfileBuilder(s, options);
  let positions: Int32Array | null = null;
  for await (const r of records(path, csv)) {
    positions ??= bindHeader(s, r.header, path);
    builder.addRecord(r.fields, positions);
  }
  if (builder.rows === 0) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: no data rows`);
  let mv = null;
  const enc = options.multivariate === false ? null : builder.multivariateEncoding();
  if (enc !== null && positions !== null) {
    const m = new MultivariateBuilder(s, enc);
    for await (const r of records(path, csv)) m.addRecord(r.fields, positions);
    mv = m.toJSON();
  }
  return builder.toProfile(mv);
}

/** Applies a user schema's thresholds (and checks types/roles) onto a loaded profile. */
export function applySchemaToProfile(profile: Profile, schema: Schema, where: string): Profile {
  const byName = new Map(profile.columns.map((c) => [c.name, c]));
  const columns = profile.columns.map((c) => ({ ...c }));
  for (const sc of schema.columns) {
    const c = byName.get(sc.name);
    if (c === undefined) throw new BerthError('BERTH_ERR_DRIFT_SCHEMA', `${where}: column "${sc.name}" is not in the reference profile`);
    if (c.type !== sc.type) throw new BerthError('BERTH_ERR_DRIFT_SCHEMA', `${where}: column "${sc.name}" is ${sc.type} in the schema but ${c.type} in the profile`);
    const target = columns.find((x) => x.name === sc.name)!;
    target.role = sc.role;
    if (sc.thresholds !== undefined) target.thresholds = sc.thresholds;
  }
  return { ...profile, columns };
}

/** Loads a reference: a profile JSON (by content) or a CSV to profile. */
export async function loadReference(path: string, schema: Schema | null, schemaPath: string | undefined, options: ProfileOptions & { csv?: CsvSourceOptions } = {}): Promise<Profile> {
  if (path.endsWith('.json')) {
    const p = await readProfileFile(path);
    return schema === null ? p : applySchemaToProfile(p, schema, schemaPath ?? 'schema');
  }
  return profileCsvFile(path, schema, options);
}

/** Checks a current CSV against a reference profile. */
export async function driftCsvFile(
  reference: Profile,
  currentPath: string,
  options: DriftOptionsInput & { csv?: CsvSourceOptions; referenceSource?: string } = {},
): Promise<DriftReport> {
  const { csv = {}, referenceSource, ...driftOptions } = options;
  const acc = new DriftAccumulator(reference, driftOptions);
  const schema = schemaOfProfile(reference);
  let positions: Int32Array | null = null;
  for await (const r of records(currentPath, csv)) {
    positions ??= bindAll(schema, r.header, currentPath);
    acc.addRecord(r.fields, positions);
  }
  if (acc.rows === 0) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${currentPath}: no data rows`);
  const meta: { referenceSource?: string; currentSource?: string } = { currentSource: currentPath };
  if (referenceSource !== undefined) meta.referenceSource = referenceSource;
  return acc.evaluate(meta);
}

/** Like bindHeader, but columns with role "ignore" may be absent (they map to an empty field). */
function bindAll(schema: Schema, header: readonly string[], where: string): Int32Array {
  const idx = new Map(header.map((h, i) => [h, i]));
  return Int32Array.from(
    schema.columns.map((c) => {
      const i = idx.get(c.name);
      if (i === undefined) {
        if (c.role === 'ignore') return header.length; // reads undefined → missing, never used
        throw new BerthError('BERTH_ERR_DRIFT_DATA', `${where}: column "${c.name}" of the reference is not in the header`);
      }
      return i;
    }),
  );
}
