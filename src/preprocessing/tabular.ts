/**
 * @module preprocessing/tabular
 * Applies a tabular preprocessing spec (the `preprocessing.json` kept beside a model, e.g.
 * examples/models/income/preprocessing.json) to raw records: numeric columns standardised,
 * categorical columns one-hot encoded, in the spec's feature order. The spec is data with a
 * version and a hash; this module is its interpreter. The versioned preprocessing pipeline
 * (a later issue) builds on it.
 */
import { readFileSync } from 'node:fs';
import { BerthError, messageOf } from '../errors.js';

interface NumericFeature {
  column: string;
  type: 'numeric';
  offset: number;
  width: 1;
  mean: number;
  std: number;
}

interface CategoricalFeature {
  column: string;
  type: 'categorical';
  offset: number;
  width: number;
  categories: string[];
}

export interface TabularSpec {
  kind: 'tabular';
  model: string;
  version: string;
  hash: string;
  rawColumns: string[];
  missingValues: string[];
  featureCount: number;
  features: (NumericFeature | CategoricalFeature)[];
  featureNames: string[];
  numeric: { numberPattern: string };
  label?: { column: string; positiveClass?: string; negativeClass?: string; encoding?: Record<string, string> };
  source?: { delimiter?: string; commentPrefix?: string };
  /** Raw columns kept out of the decision log in clear: hashed (keyed) or dropped (monitoring/personal). */
  personal?: Record<string, 'hash' | 'drop'>;
}

export type RawRecord = readonly string[] | Readonly<Record<string, unknown>>;

function fail(message: string): never {
  throw new BerthError('BERTH_ERR_FILE', message);
}

export function readTabularSpec(path: string): TabularSpec {
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`${path}: cannot read the preprocessing spec: ${messageOf(err)}`);
  }
  return checkTabularSpec(spec, path);
}

export function checkTabularSpec(raw: unknown, where: string): TabularSpec {
  const s = raw as Partial<TabularSpec>;
  if (typeof s !== 'object' || s === null || s.kind !== 'tabular') fail(`${where}: not a tabular preprocessing spec (kind must be "tabular")`);
  if (!Array.isArray(s.rawColumns) || !Array.isArray(s.features) || typeof s.featureCount !== 'number') fail(`${where}: rawColumns, features and featureCount are required`);
  let width = 0;
  for (const f of s.features) {
    if (!s.rawColumns.includes(f.column)) fail(`${where}: feature column '${f.column}' is not in rawColumns`);
    if (f.offset !== width) fail(`${where}: feature '${f.column}' starts at ${f.offset}, expected ${width}`);
    if (f.type === 'numeric' && !(f.std > 0)) fail(`${where}: numeric feature '${f.column}' needs std > 0`);
    if (f.type === 'categorical' && f.categories.length !== f.width) fail(`${where}: categorical feature '${f.column}' has ${f.categories.length} categories but width ${f.width}`);
    width += f.width;
  }
  if (width !== s.featureCount) fail(`${where}: features cover ${width} slots, featureCount says ${s.featureCount}`);
  if (s.personal !== undefined) {
    if (typeof s.personal !== 'object' || s.personal === null || Array.isArray(s.personal)) fail(`${where}: personal: expected an object {"<column>": "hash" | "drop"}`);
    for (const [column, policy] of Object.entries(s.personal)) {
      if (!s.rawColumns.includes(column)) fail(`${where}: personal: '${column}' is not in rawColumns`);
      if (policy !== 'hash' && policy !== 'drop') fail(`${where}: personal.${column}: expected "hash" or "drop", got ${JSON.stringify(policy)}`);
    }
  }
  return s as TabularSpec;
}

const TRIM = /^[ \t\r\n]+|[ \t\r\n]+$/g;

export class TabularEncoder {
  readonly spec: TabularSpec;
  readonly #columnIndex: Map<string, number>;
  readonly #missing: Set<string>;
  readonly #number: RegExp;

  constructor(spec: TabularSpec) {
    this.spec = spec;
    this.#columnIndex = new Map(spec.rawColumns.map((c, i) => [c, i]));
    this.#missing = new Set(spec.missingValues);
    this.#number = new RegExp(spec.numeric.numberPattern);
  }

  get width(): number {
    return this.spec.featureCount;
  }

  #value(record: RawRecord, column: string): string | number | undefined {
    if (Array.isArray(record)) return (record as readonly string[])[this.#columnIndex.get(column)!];
    const v = (record as Readonly<Record<string, unknown>>)[column];
    return typeof v === 'number' || typeof v === 'string' ? v : v === null ? '' : undefined;
  }

  /** Encodes one record into `out` at `offset` (zeroed first). */
  encodeInto(record: RawRecord, out: Float32Array, offset = 0): void {
    out.fill(0, offset, offset + this.spec.featureCount);
    for (const f of this.spec.features) {
      const raw = this.#value(record, f.column);
      if (raw === undefined) fail(`record has no value for column '${f.column}'`);
      if (f.type === 'numeric') {
        let x: number;
        if (typeof raw === 'number') x = raw;
        else {
          const t = raw.replace(TRIM, '');
          if (this.#missing.has(t)) continue; // imputed with the training mean: encodes to 0
          if (!this.#number.test(t)) fail(`column '${f.column}': '${t}' is not a number`);
          x = Number(t);
        }
        if (!Number.isFinite(x)) fail(`column '${f.column}': ${x} is not a finite number`);
        out[offset + f.offset] = (x - f.mean) / f.std;
      } else {
        const t = String(raw).replace(TRIM, '');
        const slot = f.categories.indexOf(this.#missing.has(t) ? '?' : t);
        if (slot >= 0) out[offset + f.offset + slot] = 1; // unseen → all zeros
      }
    }
  }

  encode(records: readonly RawRecord[]): Float32Array {
    const out = new Float32Array(records.length * this.spec.featureCount);
    records.forEach((r, i) => this.encodeInto(r, out, i * this.spec.featureCount));
    return out;
  }

  /** The record's label as the model's class index ('0'/'1'), per the spec's label encoding. */
  labelOf(record: RawRecord): string | undefined {
    const l = this.spec.label;
    if (l === undefined) return undefined;
    const raw = this.#value(record, l.column);
    if (raw === undefined) return undefined;
    const t = labelText(raw);
    for (const [index, name] of Object.entries(l.encoding ?? {})) if (name === t) return index;
    return undefined;
  }
}

/** A label as the spec's label parse rule reads it: trimmed, one trailing '.' removed (adult.test writes '>50K.'). */
export function labelText(raw: string | number): string {
  return String(raw).replace(TRIM, '').replace(/\.$/, '');
}

/** Splits the lines of a headerless CSV like the Adult files (no quoting), skipping comments and blanks. */
export function parseSimpleCsv(text: string, spec: TabularSpec): string[][] {
  const delimiter = spec.source?.delimiter ?? ',';
  const comment = spec.source?.commentPrefix;
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && (comment === undefined || !line.startsWith(comment)))
    .map((line) => line.split(delimiter));
}
