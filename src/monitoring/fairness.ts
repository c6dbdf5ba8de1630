/**
 * @module monitoring/fairness
 * Live selection rates by group: for each sensitive attribute a version's berth.yaml names
 * (`monitoring.sensitive`), the newest `size` decisions' groups and whether each was
 * favourable, kept as a ring buffer with running counts, so adding a decision is O(1) and a
 * summary costs one pass over the groups. Demographic parity is derived from the groups with
 * at least `minGroupSize` decisions, so a handful of decisions in a small group never decides
 * the ratio (nor pages anyone); the small groups are still listed, marked.
 *
 *   ring (size) ── slot i: group code per attribute, favourable bit ──▶ counts[attribute][group]
 *   add(): the slot's old decision is subtracted, the new one added.
 */
import type { RawRecord } from '../pipeline/transformer.js';

/** A group's value when neither the raw record nor parameters.context has the attribute. */
export const MISSING_GROUP = '(missing)';

export interface GroupRate {
  group: string;
  decisions: number;
  favourable: number;
  /** favourable ÷ decisions. */
  selectionRate: number;
  /** Fewer than minGroupSize decisions: shown, left out of the disparity. */
  small: boolean;
}

export interface AttributeFairness {
  attribute: string;
  groups: GroupRate[];
  /** min ÷ max selection rate over the groups that are not small (Fairlearn's demographic_parity_ratio); NaN with fewer than two, or when no group was selected (0 ÷ 0, as Fairlearn). */
  demographicParityRatio: number;
  /** max − min selection rate over those groups (demographic_parity_difference). */
  demographicParityDifference: number;
}

/** The sensitive attributes of one decision: from its raw record, else from the request's parameters.context. */
export function groupsOf(attributes: readonly string[], record: RawRecord | undefined, context: unknown): string[] {
  const ctx = context !== null && typeof context === 'object' && !Array.isArray(context) ? (context as Record<string, unknown>) : undefined;
  return attributes.map((a) => {
    const v = record?.[a] ?? ctx?.[a];
    return v === undefined || v === null || v === '' ? MISSING_GROUP : String(v);
  });
}

export class FairnessWindow {
  readonly attributes: readonly string[];
  readonly size: number;
  readonly #codes: Int32Array[];
  readonly #favourable: Uint8Array;
  readonly #names: Map<string, number>[];
  readonly #decisions: number[][];
  readonly #selected: number[][];
  #next = 0;
  #count = 0;

  constructor(attributes: readonly string[], size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`fairness window size must be a positive integer, got ${size}`);
    this.attributes = [...attributes];
    this.size = size;
    this.#codes = attributes.map(() => new Int32Array(size));
    this.#favourable = new Uint8Array(size);
    this.#names = attributes.map(() => new Map());
    this.#decisions = attributes.map(() => []);
    this.#selected = attributes.map(() => []);
  }

  /** Decisions in the window. */
  get count(): number {
    return this.#count;
  }

  /** One decision: its group per attribute (in `attributes` order) and whether it was favourable. */
  add(groups: readonly string[], favourable: boolean): void {
    const slot = this.#next;
    const full = this.#count === this.size;
    for (let a = 0; a < this.attributes.length; a++) {
      const codes = this.#codes[a]!;
      if (full) {
        const old = codes[slot]!;
        this.#decisions[a]![old]!--;
        if (this.#favourable[slot] === 1) this.#selected[a]![old]!--;
      }
      const names = this.#names[a]!;
      const g = groups[a] ?? MISSING_GROUP;
      let code = names.get(g);
      if (code === undefined) {
        code = names.size;
        names.set(g, code);
        this.#decisions[a]!.push(0);
        this.#selected[a]!.push(0);
      }
      codes[slot] = code;
      this.#decisions[a]![code]!++;
      if (favourable) this.#selected[a]![code]!++;
    }
    this.#favourable[slot] = favourable ? 1 : 0;
    this.#next = (slot + 1) % this.size;
    if (!full) this.#count++;
  }

  summary(minGroupSize: number): AttributeFairness[] {
    return this.attributes.map((attribute, a) => {
      const groups: GroupRate[] = [];
      for (const [group, code] of this.#names[a]!) {
        const decisions = this.#decisions[a]![code]!;
        if (decisions === 0) continue;
        const favourable = this.#selected[a]![code]!;
        groups.push({ group, decisions, favourable, selectionRate: favourable / decisions, small: decisions < minGroupSize });
      }
      groups.sort((x, y) => y.decisions - x.decisions || (x.group < y.group ? -1 : 1));
      const rates = groups.filter((g) => !g.small).map((g) => g.selectionRate);
      const enough = rates.length >= 2;
      const max = Math.max(...rates);
      const min = Math.min(...rates);
      return {
        attribute,
        groups,
        demographicParityRatio: enough ? min / max : Number.NaN,
        demographicParityDifference: enough ? max - min : Number.NaN,
      };
    });
  }
}

/** One labelled decision as group quality needs it. */
export interface LabelledGroupDecision {
  context: Readonly<Record<string, string>> | undefined;
  label: string;
  predicted: string;
}

export interface GroupQuality {
  group: string;
  labelled: number;
  accuracy: number;
  /** Of the group's actual positives, the share predicted positive (NaN without positives). */
  truePositiveRate: number;
  /** Of the group's actual negatives, the share predicted positive (NaN without negatives). */
  falsePositiveRate: number;
  small: boolean;
}

export interface AttributeQuality {
  attribute: string;
  groups: GroupQuality[];
  /** Fairlearn's equalized_odds_difference: the larger of the TPR and the FPR spreads (max − min) over groups that are not small; NaN with fewer than two. */
  equalizedOddsDifference: number;
}

function spread(xs: number[]): number {
  const v = xs.filter(Number.isFinite);
  return v.length >= 2 ? Math.max(...v) - Math.min(...v) : Number.NaN;
}

/** Accuracy, TPR and FPR per group of each attribute over labelled decisions of a binary classifier (`positive`: its positive class). */
export function groupQuality(decisions: readonly LabelledGroupDecision[], attributes: readonly string[], positive: string, minGroupSize: number): AttributeQuality[] {
  return attributes.map((attribute) => {
    const tally = new Map<string, { n: number; correct: number; tp: number; p: number; fp: number; neg: number }>();
    for (const d of decisions) {
      const group = d.context?.[attribute] ?? MISSING_GROUP;
      const t = tally.get(group) ?? { n: 0, correct: 0, tp: 0, p: 0, fp: 0, neg: 0 };
      t.n++;
      if (d.label === d.predicted) t.correct++;
      const predictedPositive = d.predicted === positive;
      if (d.label === positive) {
        t.p++;
        if (predictedPositive) t.tp++;
      } else {
        t.neg++;
        if (predictedPositive) t.fp++;
      }
      tally.set(group, t);
    }
    const groups: GroupQuality[] = [...tally].map(([group, t]) => ({
      group, labelled: t.n, accuracy: t.correct / t.n,
      truePositiveRate: t.p > 0 ? t.tp / t.p : Number.NaN,
      falsePositiveRate: t.neg > 0 ? t.fp / t.neg : Number.NaN,
      small: t.n < minGroupSize,
    }));
    groups.sort((x, y) => y.labelled - x.labelled || (x.group < y.group ? -1 : 1));
    const counted = groups.filter((g) => !g.small);
    const tpr = spread(counted.map((g) => g.truePositiveRate));
    const fpr = spread(counted.map((g) => g.falsePositiveRate));
    const eo = Number.isNaN(tpr) ? fpr : Number.isNaN(fpr) ? tpr : Math.max(tpr, fpr);
    return { attribute, groups, equalizedOddsDifference: counted.length >= 2 ? eo : Number.NaN };
  });
}
