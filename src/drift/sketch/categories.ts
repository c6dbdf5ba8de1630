/**
 * @module drift/sketch/categories
 * Mergeable category counts for a categorical column: exact counts for the first `cap`
 * distinct values, every later new value counted in one "other" bucket. While `other` is 0
 * the counts are exact; once it is not, which values got their own bucket depends on the
 * order they arrived in (the report says so).
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
  readonly counts = new Map<string, number>();
  other = 0;

  constructor(cap = DEFAULT_CATEGORY_CAP) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`category cap must be a positive integer, got ${cap}`);
    this.cap = cap;
  }

  add(value: string, count = 1): void {
    const c = this.counts.get(value);
    if (c !== undefined) this.counts.set(value, c + count);
    else if (this.counts.size < this.cap) this.counts.set(value, count);
    else this.other += count;
  }

  merge(o: CategoryCounts): this {
    for (const [v, c] of o.counts) this.add(v, c);
    this.other += o.other;
    return this;
  }

  get total(): number {
    let t = this.other;
    for (const c of this.counts.values()) t += c;
    return t;
  }

  get overflowed(): boolean {
    return this.other > 0;
  }

  /** Entries sorted by count descending, then value, for stable output. */
  sorted(): [string, number][] {
    return [...this.counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  toJSON(): CategoryCountsJson {
    return { cap: this.cap, counts: this.sorted(), other: this.other };
  }

  static fromJSON(j: CategoryCountsJson): CategoryCounts {
    const c = new CategoryCounts(j.cap);
    for (const [v, n] of j.counts) c.counts.set(v, n);
    c.other = j.other;
    return c;
  }
}
