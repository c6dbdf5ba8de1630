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
