/**
 * @module pipeline/tabular
 * The tabular transformer: checks every field of every record against the spec (known
 * field, present, right type, finite, a category seen in training) and encodes the records
 * with the spec's interpreter (preprocessing/tabular), all rows into one tensor. Problems are
 * collected per row and field, never thrown one at a time, so a response can name them all.
 */
import type { Tensor } from '../inference/types.js';
import { TabularEncoder, type TabularSpec } from '../preprocessing/tabular.js';
import type { EncodedRecords, FieldProblem, RawField, RawRecord, Transformer } from './transformer.js';

const TRIM = /^[ \t\r\n]+|[ \t\r\n]+$/g;
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

export class TabularTransformer implements Transformer {
  readonly kind = 'tabular';
  readonly hash: string;
  readonly fields: RawField[];
  readonly outputName: string;
  readonly width: number;
  readonly #encoder: TabularEncoder;
  readonly #spec: TabularSpec;
  readonly #known: Set<string>;
  readonly #missing: Set<string>;
  readonly #number: RegExp;

  constructor(spec: TabularSpec, hash: string) {
    this.#spec = spec;
    this.hash = hash;
    this.#encoder = new TabularEncoder(spec);
    this.width = spec.featureCount;
    this.outputName = (spec as { output?: { name?: string } }).output?.name ?? 'features';
    this.#known = new Set(spec.rawColumns);
    this.#missing = new Set(spec.missingValues);
    this.#number = new RegExp(spec.numeric.numberPattern);
    const used = new Map(spec.features.map((f) => [f.column, f]));
    this.fields = spec.rawColumns.map((name) => {
      const f = used.get(name);
      if (f === undefined) return { name, type: 'categorical' as const, used: false };
      return f.type === 'numeric' ? { name, type: 'numeric' as const, used: true } : { name, type: 'categorical' as const, used: true, categories: f.categories };
    });
  }

  /** What is wrong with one record's fields. */
  check(record: RawRecord): FieldProblem[] {
    const out: FieldProblem[] = [];
    for (const key of Object.keys(record)) {
      if (!this.#known.has(key)) out.push({ kind: 'unknown_field', field: key, value: record[key], message: `'${key}' is not a field of this model (its fields: ${this.#spec.rawColumns.join(', ')})`, blocking: false });
    }
    for (const f of this.#spec.features) {
      const v = record[f.column];
      if (v === undefined) {
        out.push({ kind: 'missing_field', field: f.column, value: undefined, message: `'${f.column}' is missing (send ${this.#missing.size > 0 ? `${[...this.#missing].map((m) => JSON.stringify(m)).join(' or ')} for an unknown value` : 'a value'})`, blocking: true });
        continue;
      }
      if (f.type === 'numeric') {
        if (typeof v === 'number') {
          if (!Number.isFinite(v)) out.push({ kind: 'non_finite', field: f.column, value: v, message: `'${f.column}' is ${String(v)}; expected a finite number`, blocking: true });
          continue;
        }
        if (v === null) continue; // a missing value: imputed
        if (typeof v !== 'string') {
          out.push({ kind: 'wrong_type', field: f.column, value: v, message: `'${f.column}' is ${show(v)}; expected a number`, blocking: true });
          continue;
        }
        const t = v.replace(TRIM, '');
        if (this.#missing.has(t)) continue;
        if (NON_FINITE.test(t)) out.push({ kind: 'non_finite', field: f.column, value: v, message: `'${f.column}' is ${show(v)}; expected a finite number`, blocking: true });
        else if (!this.#number.test(t)) out.push({ kind: 'wrong_type', field: f.column, value: v, message: `'${f.column}' is ${show(v)}; expected a number`, blocking: true });
        else if (!Number.isFinite(Number(t))) out.push({ kind: 'non_finite', field: f.column, value: v, message: `'${f.column}' is ${show(v)}, beyond any finite number`, blocking: true });
      } else {
        if (v === null) continue;
        if (typeof v !== 'string') {
          out.push({ kind: 'wrong_type', field: f.column, value: v, message: `'${f.column}' is ${show(v)}; expected one of its categories as a string`, blocking: true });
          continue;
        }
        const t = v.replace(TRIM, '');
        const category = this.#missing.has(t) ? '?' : t;
        if (!f.categories.includes(category)) {
          const shown = f.categories.length > 12 ? `${f.categories.slice(0, 12).map((c) => JSON.stringify(c)).join(', ')}, … (${f.categories.length} in all)` : f.categories.map((c) => JSON.stringify(c)).join(', ');
          out.push({ kind: 'unseen_category', field: f.column, value: v, message: `'${f.column}' is ${show(v)}, a category not seen in training (known: ${shown})`, blocking: false });
        }
      }
    }
    return out;
  }

  encode(records: readonly RawRecord[]): EncodedRecords {
    const n = records.length;
    const data = new Float32Array(n * this.width);
    const problems: FieldProblem[][] = [];
    for (let i = 0; i < n; i++) {
      const record = records[i]!;
      const p = this.check(record);
      problems.push(p);
      if (p.some((x) => x.blocking)) continue; // left as zeros: never served
      const normalised = nullsAsMissing(record, this.#spec);
      this.#encoder.encodeInto(normalised, data, i * this.width);
    }
    const input: Tensor = { name: this.outputName, datatype: 'FP32', shape: [n, this.width], data };
    return { inputs: [input], problems };
  }
}

/** JSON null means "unknown": the spec's first missing marker, so the interpreter imputes it. */
function nullsAsMissing(record: RawRecord, spec: TabularSpec): RawRecord {
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(record)) {
    if (v === null) {
      copy ??= { ...record };
      copy[k] = spec.missingValues[0] ?? '';
    }
  }
  return copy ?? record;
}
