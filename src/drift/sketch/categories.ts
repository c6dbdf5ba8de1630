/**
 * @module drift/sketch/categories
 * Mergeable category counts for a categorical column: exact counts for the first `cap`
 * distinct values, every later new value counted in one "other" bucket. While `other` is 0
 * the counts are exact; once it is not, which values got their own bucket depends on the
 * order they arrived in (the report says so). Each counted value has a slot (its index in
 * first-seen order), which `add` returns so a caller can keep per-category state in arrays.
 */

export const DEFAULT_CATEGORY_CAP = 1000;

export interface CategoryCountsJson {
  cap: number;
  /** [value, count] sorted by count descending, then value. */
  counts: [string, number][];
  other: number;
}

export class CategoryCounts {
  readonly cap: number;
  other = 0;
  private readonly slots = new Map<string, number>();
  private readonly values: string[] = [];
  private readonly tally: number[] = [];

  constructor(cap = DEFAULT_CATEGORY_CAP) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`category cap must be a positive integer, got ${cap}`);
    this.cap = cap;
  }

  /** Counts `value`; returns its slot, or −1 when it went to the "other" bucket. */
  add(value: string, count = 1): number {
    const s = this.slots.get(value);
    if (s !== undefined) {
      this.tally[s]! += count;
      return s;
    }
    if (this.values.length < this.cap) {
      const slot = this.values.length;
      this.slots.set(value, slot);
      this.values.push(value);
      this.tally.push(count);
      return slot;
    }
    this.other += count;
    return -1;
  }

  /** The slot of a counted value, or −1. */
  slotOf(value: string): number {
    return this.slots.get(value) ?? -1;
  }

  /** Number of values with their own count. */
  get distinct(): number {
    return this.values.length;
  }

  merge(o: CategoryCounts): this {
    for (let i = 0; i < o.values.length; i++) this.add(o.values[i]!, o.tally[i]!);
    this.other += o.other;
    return this;
  }

  get total(): number {
    let t = this.other;
    for (const c of this.tally) t += c;
    return t;
  }

  get overflowed(): boolean {
    return this.other > 0;
  }

  /** Entries sorted by count descending, then value, for stable output. */
  sorted(): [string, number][] {
    return this.values.map((v, i): [string, number] => [v, this.tally[i]!]).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  toJSON(): CategoryCountsJson {
    return { cap: this.cap, counts: this.sorted(), other: this.other };
  }

  static fromJSON(j: CategoryCountsJson): CategoryCounts {
    const c = new CategoryCounts(j.cap);
    for (const [v, n] of j.counts) {
      c.slots.set(v, c.values.length);
      c.values.push(v);
      c.tally.push(n);
    }
    c.other = j.other;
    return c;
  }
}
