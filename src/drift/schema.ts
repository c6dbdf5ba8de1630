/**
 * @module drift/schema
 * The drift schema: which columns a data set has, whether each is numeric or categorical,
 * what role it plays (model input feature, predicted label, class probability, true
 * label, or ignored) and optional per-column thresholds. Parsed from JSON with messages
 * that name the offending field, or inferred from a CSV (numeric when every non-missing
 * value parses as a finite number).
 */
import { BerthError } from '../errors.js';
import { validateThresholds, type ColumnThresholds } from './options.js';
import { numericCell, INVALID } from './values.js';

export type ColumnType = 'numeric' | 'categorical';
export type ColumnRole = 'feature' | 'prediction' | 'probability' | 'label' | 'ignore';

export const COLUMN_TYPES: readonly ColumnType[] = ['numeric', 'categorical'];
export const COLUMN_ROLES: readonly ColumnRole[] = ['feature', 'prediction', 'probability', 'label', 'ignore'];
export const DEFAULT_MISSING_TOKENS: readonly string[] = ['', '?', 'NA', 'NaN', 'null'];

export interface ColumnSchema {
  name: string;
  type: ColumnType;
  role: ColumnRole;
  thresholds?: ColumnThresholds;
}

export interface Schema {
  columns: ColumnSchema[];
  /** Tokens (after trimming) that mean "missing". */
  missingTokens: string[];
}

function fail(where: string, msg: string): never {
  throw new BerthError('BERTH_ERR_DRIFT_SCHEMA', `${where}: ${msg}`);
}

/**
 * Validates a parsed schema document. `where` names the source (file path) in messages.
 * Accepts `{ columns: [...], missingTokens?: [...] }`.
 */
export function parseSchema(doc: unknown, where = 'schema'): Schema {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(where, 'expected a JSON object with a "columns" array');
  const d = doc as Record<string, unknown>;
  for (const key of Object.keys(d)) if (key !== 'columns' && key !== 'missingTokens' && key !== '$schema' && key !== 'description') fail(where, `unknown field "${key}" (allowed: columns, missingTokens)`);
  if (!Array.isArray(d.columns) || d.columns.length === 0) fail(where, '"columns" must be a non-empty array');
  const seen = new Set<string>();
  const columns = d.columns.map((c: unknown, i: number): ColumnSchema => {
    const at = `${where}: columns[${i}]`;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) fail(at, 'expected an object with name, type and role');
    const col = c as Record<string, unknown>;
    for (const key of Object.keys(col)) if (!['name', 'type', 'role', 'thresholds', 'description'].includes(key)) fail(at, `unknown field "${key}" (allowed: name, type, role, thresholds)`);
    if (typeof col.name !== 'string' || col.name.length === 0) fail(at, '"name" must be a non-empty string');
    const name = col.name;
    if (seen.has(name)) fail(at, `duplicate column name "${name}"`);
    seen.add(name);
    const type = col.type ?? 'numeric';
    if (!COLUMN_TYPES.includes(type as ColumnType)) fail(`${at} ("${name}")`, `"type" must be one of ${COLUMN_TYPES.join(', ')}, got ${JSON.stringify(col.type)}`);
    const role = col.role ?? 'feature';
    if (!COLUMN_ROLES.includes(role as ColumnRole)) fail(`${at} ("${name}")`, `"role" must be one of ${COLUMN_ROLES.join(', ')}, got ${JSON.stringify(col.role)}`);
    if (role === 'probability' && type !== 'numeric') fail(`${at} ("${name}")`, 'a "probability" column must be numeric');
    const out: ColumnSchema = { name, type: type as ColumnType, role: role as ColumnRole };
    if (col.thresholds !== undefined) {
      try {
        out.thresholds = validateThresholds(col.thresholds, `column "${name}" thresholds`);
      } catch (err) {
        fail(`${at} ("${name}")`, (err as Error).message);
      }
    }
    return out;
  });
  let missingTokens = [...DEFAULT_MISSING_TOKENS];
  if (d.missingTokens !== undefined) {
    if (!Array.isArray(d.missingTokens) || !d.missingTokens.every((t) => typeof t === 'string')) fail(where, '"missingTokens" must be an array of strings');
    missingTokens = (d.missingTokens as string[]).map((t) => t.trim());
  }
  return { columns, missingTokens };
}

/**
 * Incremental schema inference: feed each record's fields; a column is numeric when every
 * non-missing value is a finite number. Every column gets role "feature".
 */
export class SchemaInferrer {
  private numeric: boolean[] = [];
  private readonly missing: Set<string>;

  constructor(
    private readonly header: readonly string[],
    missingTokens: readonly string[] = DEFAULT_MISSING_TOKENS,
  ) {
    this.missing = new Set(missingTokens);
    this.numeric = header.map(() => true);
  }

  add(fields: readonly string[]): void {
    for (let i = 0; i < this.numeric.length; i++) {
      if (!this.numeric[i]) continue;
      // The same test the profile applies: a cell that is neither missing (after trimming) nor a number.
      if (numericCell(fields[i], this.missing) === INVALID) this.numeric[i] = false;
    }
  }

  result(): Schema {
    return {
      columns: this.header.map((name, i) => ({ name, type: this.numeric[i] ? 'numeric' : 'categorical', role: 'feature' })),
      missingTokens: [...this.missing],
    };
  }
}
