/**
 * @module drift/io
 * File-level entry points the CLI and the benchmark use: read a schema, infer one from a
 * CSV, profile a CSV (one streamed pass: column sketches, inferred types and the PCA
 * moments together), load a reference (profile JSON or CSV), and check a current CSV
 * against a profile. Errors name the file, and the column or field when there is one.
 */
import { readFile } from 'node:fs/promises';
import { BerthError, messageOf } from '../errors.js';
import { DriftAccumulator } from './accumulator.js';
import { forEachCsvFileRecord, type CsvOptions } from './csv.js';
import type { DriftOptionsInput } from './options.js';
import { bindHeader, parseProfile, ProfileBuilder, schemaOfProfile, type Profile, type ProfileOptions } from './profile.js';
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

/**
 * Reads a CSV's header and then calls onRecord for each record (widths checked against the
 * header). `fields` is reused between calls; `header` is stable.
 */
async function forEachRecord(path: string, options: CsvSourceOptions, onRecord: (fields: readonly string[], header: readonly string[]) => void): Promise<void> {
  let header: string[] | null = options.columns ?? null;
  let line = 0;
  await forEachCsvFileRecord(path, options, (raw) => {
    line++;
    const fields = options.mapRecord ? options.mapRecord(raw) : raw;
    if (header === null) {
      header = fields.slice();
      if (header.length === 0 || header.every((h) => h === '')) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: the header row is empty`);
      return;
    }
    if (fields.length !== header.length) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: record ${line} (the header is record 1) has ${fields.length} fields, the header has ${header.length}`);
    onRecord(fields, header);
  });
  if (header === null) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: the file is empty (no header row)`);
}

export async function inferSchemaFromCsv(path: string, options: CsvSourceOptions = {}, missingTokens: readonly string[] = DEFAULT_MISSING_TOKENS): Promise<Schema> {
  let inferrer: SchemaInferrer | null = null;
  await forEachRecord(path, options, (fields, header) => {
    inferrer ??= new SchemaInferrer(header, missingTokens);
    inferrer.add(fields);
  });
  if (inferrer === null) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: no data rows, cannot infer a schema`);
  return (inferrer as SchemaInferrer).result(); // (TypeScript does not see the callback assign it)
}

/**
 * Profiles a CSV in one pass. Without a schema the column types are inferred in the same
 * pass (every column a feature, numeric when every non-missing value is a number); the
 * file is read again only when a column turns out categorical after it had numbers, or
 * (rarely) when the PCA block needs a category the pass did not track.
 */
export async function profileCsvFile(path: string, schema: Schema | null, options: ProfileOptions & { csv?: CsvSourceOptions } = {}): Promise<Profile> {
  const { csv = {}, ...profileOptions } = options;
  let builder: ProfileBuilder | null = null;
  let positions: Int32Array | null = null;
  await forEachRecord(path, csv, (fields, header) => {
    if (builder === null) {
      const s = schema ?? { columns: header.map((name) => ({ name, type: 'numeric' as const, role: 'feature' as const })), missingTokens: [...DEFAULT_MISSING_TOKENS] };
      builder = new ProfileBuilder(s, { ...profileOptions, inferTypes: schema === null });
      positions = bindHeader(s, header, path);
    }
    builder.addRecord(fields, positions!);
  });
  let b = builder as ProfileBuilder | null; // assigned in the callback
  if (b === null) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${path}: no data rows`);
  if (b.needsRestart) {
    const inferred = b.schema;
    const again = new ProfileBuilder(inferred, profileOptions);
    await forEachRecord(path, csv, (fields) => again.addRecord(fields, positions!));
    b = again;
  }
  const second = b.secondPass();
  if (second !== null) await forEachRecord(path, csv, (fields) => second.addRecord(fields, positions!));
  return b.toProfile(second);
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
  await forEachRecord(currentPath, csv, (fields, header) => {
    positions ??= bindAll(schema, header, currentPath);
    acc.addRecord(fields, positions);
  });
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
