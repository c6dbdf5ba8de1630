/**
 * @module anomaly/reference
 * The anomaly profile `berth reference` writes beside a version (`<version>/anomaly.profile.json`)
 * from the same reference (training) rows as the drift profile: built by anomaly/profile,
 * its numbers rounded to 7 significant digits so the file stays small (the income model's
 * precision matrix alone is 4,186 numbers), and a one-line account of what was written.
 */
import { labelText, type RawRecord as TabularRecord, type TabularSpec } from '../preprocessing/tabular.js';
import { type AnomalyProfile, buildAnomalyProfile } from './profile.js';

/** Significant digits kept in the file: float32 inputs carry about 7, and the detector's flags do not change (test/unit/anomaly/reference.test.ts). */
export const PROFILE_DIGITS = 7;

export interface AnomalyReferenceInput {
  /** Encoded rows, row-major [count, width]. */
  features: ArrayLike<number>;
  count: number;
  /** The model input the rows are for. */
  input: string;
  /** The tabular spec the rows were encoded with (raw field ranges and categories follow from it). */
  spec?: TabularSpec;
  /** The raw records behind the rows (exact raw numeric ranges). */
  records?: readonly TabularRecord[];
  /** Share of the rows at or below the OOD threshold (default 0.99). */
  quantile?: number;
}

function round(x: number, digits: number): number {
  return Number.isFinite(x) && x !== 0 ? Number(x.toPrecision(digits)) : x;
}

/** The profile with every number rounded to `digits` significant digits (counts and rows are integers and stay exact). */
export function roundProfile(p: AnomalyProfile, digits = PROFILE_DIGITS): AnomalyProfile {
  const r = (xs: readonly number[]): number[] => xs.map((x) => round(x, digits));
  const out: AnomalyProfile = { ...p, elements: { min: r(p.elements.min), max: r(p.elements.max) } };
  if (p.fields !== undefined) out.fields = p.fields.map((f) => (f.type === 'numeric' ? { ...f, min: round(f.min, digits), max: round(f.max, digits) } : f));
  if ('method' in p.ood) {
    const o = p.ood;
    out.ood = { ...o, threshold: round(o.threshold, digits), ridge: round(o.ridge, digits), mean: r(o.mean), precision: r(o.precision), referenceScores: r(o.referenceScores) };
  }
  return out;
}

/** The anomaly profile of reference rows, rounded for the file. */
export function anomalyProfileOf(data: AnomalyReferenceInput): AnomalyProfile {
  const width = data.count === 0 ? 0 : data.features.length / data.count;
  const profile = buildAnomalyProfile(data.features, data.count, width, {
    input: data.input,
    ...(data.quantile === undefined ? {} : { quantile: data.quantile }),
    ...(data.spec === undefined ? {} : { spec: data.spec }),
    ...(data.records === undefined ? {} : { records: data.records }),
  });
  return roundProfile(profile);
}

/** What the profile holds, for the command's output: rows, fields, and the OOD threshold or why there is none. */
export function describeAnomalyProfile(p: AnomalyProfile): string {
  const fields = p.fields === undefined ? `${p.input.width} input elements' ranges` : `${p.fields.length} raw fields (${p.fields.filter((f) => f.type === 'numeric').length} numeric ranges, ${p.fields.filter((f) => f.type === 'categorical').length} categorical)`;
  const ood = 'method' in p.ood
    ? `OOD threshold ${p.ood.threshold.toPrecision(4)} (Mahalanobis distance² over ${p.input.width} elements; ${(100 * p.ood.quantile).toFixed(0)}% of the reference rows score at or below it)`
    : `no OOD score: ${p.ood.unavailable}`;
  return `anomaly profile on ${p.rows} rows, ${fields}; ${ood}`;
}

/**
 * The record a client would send for one CSV row of reference or test data: numeric fields
 * that parse as JSON numbers, everything else as trimmed strings, the label by the spec's
 * parse rule (adult.test's '>50K.' becomes '>50K').
 */
export function recordFromCsv(row: readonly string[], spec: TabularSpec): Record<string, unknown> {
  const numeric = new Set(spec.features.filter((f) => f.type === 'numeric').map((f) => f.column));
  const pattern = new RegExp(spec.numeric.numberPattern);
  const record: Record<string, unknown> = {};
  spec.rawColumns.forEach((name, i) => {
    const t = (row[i] ?? '').trim();
    if (name === spec.label?.column) record[name] = labelText(t);
    else record[name] = numeric.has(name) && pattern.test(t) ? Number(t) : t;
  });
  return record;
}
