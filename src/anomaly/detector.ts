/**
 * @module anomaly/detector
 * The anomaly layer, run on every request row before the model: the transformer's field
 * problems (unknown or missing field, wrong type, NaN/Infinity, unseen category) plus what
 * the version's anomaly profile adds — a value outside the training range widened by a
 * margin, and a row whose multivariate score is above the calibrated threshold. Works on raw
 * records and on tensor-only models alike (then in input space). The policy (off, flag,
 * reject) is applied by the decision path, not here.
 */
import type { Tensor } from '../inference/types.js';
import type { FieldProblem, FieldProblemKind, RawRecord } from '../pipeline/transformer.js';
import type { AnomalyConfig } from '../repository/model-config.js';
import { type AnomalyProfile, type FieldRange, mahalanobis2, type OodModel } from './profile.js';

export type AnomalyKind = FieldProblemKind | 'out_of_range' | 'ood';
export const ANOMALY_KINDS: readonly AnomalyKind[] = ['unknown_field', 'missing_field', 'wrong_type', 'non_finite', 'unseen_category', 'out_of_range', 'ood'];

export interface AnomalyFlag {
  kind: AnomalyKind;
  /** The raw field, or `input[element]` for a tensor-only model; absent for a whole-row (ood) flag. */
  field?: string;
  value?: unknown;
  message: string;
  /** The row cannot be encoded (it is never served, whatever the policy). */
  blocking: boolean;
  /** ood: the row's score, the threshold, and the share of training rows scoring lower. */
  score?: number;
  threshold?: number;
  percentile?: number;
}

/** At most this many out-of-range elements are named per row of a tensor-only model. */
const MAX_ELEMENT_FLAGS = 5;

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

function percentileOf(ood: OodModel, score: number): number {
  const s = ood.referenceScores;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid]! <= score) lo = mid + 1;
    else hi = mid;
  }
  return (100 * lo) / s.length;
}

/** The training score at rank `q`, read off the profile's 1000 reference scores (at ranks (k + ½)/1000). */
function scoreAtRank(ood: OodModel, q: number): number {
  const s = ood.referenceScores;
  const h = q * s.length - 0.5;
  if (h <= 0) return s[0]!;
  if (h >= s.length - 1) return s[s.length - 1]!;
  const lo = Math.floor(h);
  return s[lo]! + (h - lo) * (s[lo + 1]! - s[lo]!);
}

export class AnomalyDetector {
  readonly profile: AnomalyProfile;
  readonly #margin: number;
  readonly #fields: Map<string, Extract<FieldRange, { type: 'numeric' }>>;
  readonly #z: Float64Array;
  /** The OOD threshold at the configured quantile (the profile's own, or read off its reference scores). */
  readonly threshold: number | undefined;
  readonly quantile: number;

  constructor(profile: AnomalyProfile, config: Required<AnomalyConfig>) {
    this.profile = profile;
    this.#margin = config.rangeMargin;
    const ood = 'method' in profile.ood ? profile.ood : undefined;
    this.quantile = config.oodQuantile;
    this.threshold = ood === undefined ? undefined : config.oodQuantile === ood.quantile ? ood.threshold : scoreAtRank(ood, config.oodQuantile);
    this.#fields = new Map((profile.fields ?? []).filter((f): f is Extract<FieldRange, { type: 'numeric' }> => f.type === 'numeric').map((f) => [f.name, f]));
    this.#z = new Float64Array(profile.input.width);
  }

  /**
   * Outside [lo − m, hi + m] with m = margin × (hi − lo); the widened range never crosses zero,
   * so a value never negative in training (an amount, a count, a pixel) is out of range when
   * negative however wide its range — capital-gain spans 0…99,999, and −5 must not pass.
   */
  #outside(value: number, lo: number, hi: number): boolean {
    const m = this.#margin * (hi - lo);
    const low = lo >= 0 ? Math.max(0, lo - m) : lo - m;
    const high = hi <= 0 ? Math.min(0, hi + m) : hi + m;
    return value < low || value > high;
  }

  /** Why the OOD score is not computed, when it is not. */
  get oodUnavailable(): string | undefined {
    return 'unavailable' in this.profile.ood ? this.profile.ood.unavailable : undefined;
  }

  /**
   * Flags for each row: the transformer's `problems` (raw records), the raw numeric ranges
   * (records) or the input element ranges (tensor-only), and the OOD score on `input`.
   */
  check(input: Tensor | undefined, rows: number, records?: readonly RawRecord[], problems?: readonly FieldProblem[][]): AnomalyFlag[][] {
    const out: AnomalyFlag[][] = [];
    const width = this.profile.input.width;
    // Numbers only: BYTES, 64-bit integers (BigInt) and FP16 (bits) are not scored.
    const numeric = input !== undefined && !['BYTES', 'INT64', 'UINT64', 'FP16'].includes(input.datatype);
    const data = numeric && input.data.length === rows * width ? (input.data as ArrayLike<number>) : undefined;
    const ood = 'method' in this.profile.ood ? this.profile.ood : undefined;
    for (let r = 0; r < rows; r++) {
      const flags: AnomalyFlag[] = (problems?.[r] ?? []).map((p) => ({ kind: p.kind, field: p.field, value: p.value, message: p.message, blocking: p.blocking }));
      const blocked = flags.some((f) => f.blocking);
      // Raw numeric fields when the profile has them (tabular); else the encoded input's elements (tensors, images).
      if (records !== undefined && this.#fields.size > 0) {
        const record = records[r]!;
        for (const [name, range] of this.#fields) {
          const v = record[name];
          const x = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
          if (Number.isFinite(x) && this.#outside(x, range.min, range.max)) {
            flags.push({ kind: 'out_of_range', field: name, value: v, message: `'${name}' is ${fmt(x)}, outside the training range [${fmt(range.min)}, ${fmt(range.max)}]`, blocking: false });
          }
        }
      } else if (data !== undefined) {
        let named = 0;
        let more = 0;
        for (let j = 0; j < width; j++) {
          const x = data[r * width + j]!;
          if (!this.#outside(x, this.profile.elements.min[j]!, this.profile.elements.max[j]!)) continue;
          if (named++ < MAX_ELEMENT_FLAGS) {
            const field = `${this.profile.input.name}[${j}]`;
            flags.push({ kind: 'out_of_range', field, value: x, message: `${field} is ${fmt(x)}, outside the training range [${fmt(this.profile.elements.min[j]!)}, ${fmt(this.profile.elements.max[j]!)}]`, blocking: false });
          } else more++;
        }
        if (more > 0) flags[flags.length - 1]!.message += ` (and ${more} more elements out of range)`;
      }
      if (ood !== undefined && data !== undefined && !blocked) {
        const score = mahalanobis2(data, r * width, ood.mean, ood.precision, width, this.#z);
        if (score > this.threshold!) {
          const percentile = percentileOf(ood, score);
          flags.push({
            kind: 'ood', score, threshold: this.threshold!, percentile,
            message: `the row as a whole is unlike the training data: score ${fmt(score)} above the threshold ${fmt(this.threshold!)} (${fmt(100 * this.quantile)}% of training rows score lower; this row scores higher than ${fmt(percentile)}% of them)`,
            blocking: false,
          });
        }
      }
      out.push(flags);
    }
    return out;
  }
}
