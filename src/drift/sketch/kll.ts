/**
 * @module drift/sketch/kll
 * Mergeable quantile sketch for numeric columns: exact (every value kept) up to
 * `exactLimit` values, then a KLL sketch (Karnin, Lang & Liberty 2016) with parameter k.
 * A reference profile is usually exact (65,536 values per column by default, so drift tests
 * against it are the tests on the raw data); past the limit the default k = 2048 keeps the
 * rank error near 0.14 % (k = 200, the old default, was 1.33 %: KS p-values computed at
 * D − ε lost power, see docs/drift.md).
 * Randomness (which half of a compacted level survives) comes from a counter hashed with a
 * seed, so the same values in the same order always give the same sketch.
 *
 *   level H−1  [ sorted, weight 2^(H−1) ]   capacity ≈ k
 *      …
 *   level 1    [ sorted, weight 2 ]         capacity ≈ k·(2/3)^(H−2)
 *   level 0    [ unsorted buffer, weight 1 ] capacity k (a full buffer, for speed)
 *
 * Invariant: the weights sum to `n` exactly (a compaction promotes an even number of items
 * at twice the weight). Rank error: |R̂(x) − R(x)| ≤ ε·n with ε = kllRankErrorBound(k)
 * (≈ 1.33 % for k = 200, 0.14 % for k = 2048) with probability ≥ 99 %.
 *
 * JSON: an exact sketch is written as its distinct values ascending with their counts
 * (`values`, `counts`: a one-hot column is two numbers, not 32,561); `exact` (every value in
 * insertion order) is the berth.profile/v1 spelling and is still read.
 */
import type { WeightedSample } from '../stats/ecdf.js';

export const DEFAULT_K = 2048;
export const DEFAULT_EXACT_LIMIT = 65_536;
const MIN_CAPACITY = 8;
const C = 2 / 3;

/**
 * Normalised rank error bound of a KLL sketch with parameter k at 99 % confidence, the
 * empirical fit Apache DataSketches publishes for its KLL (2.296 / k^0.9723); our
 * compaction schedule is the same, and test/unit/drift/sketch.test.ts checks it.
 */
export function kllRankErrorBound(k: number): number {
  return 2.296 / Math.pow(k, 0.9723);
}

export interface QuantileSketchJson {
  n: number;
  k: number;
  exactLimit: number;
  seed: number;
  compactions: number;
  /** Present while the sketch is exact: the distinct values ascending, and how often each occurred. */
  values?: number[];
  counts?: number[];
  /** berth.profile/v1: every value of an exact sketch in insertion order (read, no longer written). */
  exact?: number[];
  /** Present once the sketch has compacted: levels[h] holds items of weight 2^h. */
  levels?: number[][];
}

function hashBit(seed: number, counter: number): number {
  let t = (seed ^ Math.imul(counter + 1, 0x9e3779b9)) >>> 0;
  t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
  t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
  return ((t ^ (t >>> 16)) >>> 0) & 1;
}

function mergeSorted(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < a.length && j < b.length) out[o++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[o++] = a[i++]!;
  while (j < b.length) out[o++] = b[j++]!;
  return out;
}

export class QuantileSketch {
  readonly k: number;
  readonly exactLimit: number;
  readonly seed: number;
  private count = 0;
  private compactions = 0;
  /** Exact mode buffer (null once compacted). */
  private exact: Float64Array | null;
  private exactLen = 0;
  /** Level 0 buffer and its fill; levels ≥ 1 sorted. */
  private level0: Float64Array;
  private level0Len = 0;
  private upper: Float64Array[] = [];
  /** Items retained outside exact mode, and the capacity that triggers a compaction. */
  private size = 0;
  private maxSize: number;

  constructor(options: { k?: number; exactLimit?: number; seed?: number } = {}) {
    this.k = options.k ?? DEFAULT_K;
    this.exactLimit = options.exactLimit ?? DEFAULT_EXACT_LIMIT;
    this.seed = options.seed ?? 1;
    if (!Number.isInteger(this.k) || this.k < MIN_CAPACITY) throw new RangeError(`sketch k must be an integer ≥ ${MIN_CAPACITY}, got ${this.k}`);
    this.exact = this.exactLimit > 0 ? new Float64Array(Math.min(this.exactLimit, 64)) : null;
    this.level0 = new Float64Array(this.k + 1);
    this.maxSize = this.k;
  }

  /** Number of values added (= total weight). */
  get n(): number {
    return this.count;
  }

  /** True while every value is kept, so statistics from the sketch are exact. */
  get isExact(): boolean {
    return this.exact !== null;
  }

  /** Normalised rank error bound (0 while exact). */
  get rankError(): number {
    return this.isExact ? 0 : kllRankErrorBound(this.k);
  }

  add(x: number): void {
    this.count++;
    if (this.exact !== null) {
      if (this.exactLen < this.exactLimit) {
        if (this.exactLen === this.exact.length) {
          const grown = new Float64Array(Math.min(this.exactLimit, this.exact.length * 2));
          grown.set(this.exact);
          this.exact = grown;
        }
        this.exact[this.exactLen++] = x;
        return;
      }
      this.leaveExactMode();
    }
    this.pushLevel0(x);
  }

  private pushLevel0(x: number): void {
    if (this.level0Len === this.level0.length) {
      const grown = new Float64Array(this.level0.length * 2);
      grown.set(this.level0);
      this.level0 = grown;
    }
    this.level0[this.level0Len++] = x;
    this.size++;
    if (this.size >= this.maxSize) this.compressOnce();
  }

  private numLevels(): number {
    return this.upper.length + 1;
  }

  private capacity(h: number): number {
    // Level 0 keeps a full buffer of k (weight-1 items only make the sketch more
    // accurate), so a compaction of level 0 happens every ~k/2 additions instead of every
    // few: a 10× faster add for ~k more retained values.
    if (h === 0) return this.k;
    const H = this.numLevels();
    return Math.max(MIN_CAPACITY, Math.ceil(this.k * Math.pow(C, H - 1 - h)));
  }

  private levelLength(h: number): number {
    return h === 0 ? this.level0Len : this.upper[h - 1]!.length;
  }

  private recomputeMaxSize(): void {
    let c = 0;
    for (let h = 0; h < this.numLevels(); h++) c += this.capacity(h);
    this.maxSize = c;
  }

  private leaveExactMode(): void {
    const values = this.exact!.subarray(0, this.exactLen);
    this.exact = null;
    this.exactLen = 0;
    for (let i = 0; i < values.length; i++) this.pushLevel0(values[i]!);
  }

  /** Lazy KLL compression: compacts the lowest level that has reached its capacity. */
  private compressOnce(): void {
    for (let h = 0; h < this.numLevels(); h++) {
      if (this.levelLength(h) >= this.capacity(h)) {
        this.compactLevel(h);
        return;
      }
    }
  }

  private compactLevel(h: number): void {
    const items = h === 0 ? this.level0.subarray(0, this.level0Len).sort() : this.upper[h - 1]!;
    const keepOne = items.length % 2 === 1;
    const leftover = keepOne ? items[0]! : 0;
    const start = keepOne ? 1 : 0;
    const offset = hashBit(this.seed, this.compactions++);
    const promoted = new Float64Array((items.length - start) / 2);
    for (let i = 0; i < promoted.length; i++) promoted[i] = items[start + 2 * i + offset]!;
    if (h === 0) {
      this.level0Len = 0;
      if (keepOne) this.level0[this.level0Len++] = leftover;
    } else {
      this.upper[h - 1] = keepOne ? Float64Array.of(leftover) : new Float64Array(0);
    }
    if (this.upper.length < h + 1) {
      this.upper.push(promoted);
      this.recomputeMaxSize();
    } else {
      this.upper[h] = mergeSorted(this.upper[h]!, promoted);
    }
    this.size -= promoted.length;
  }

  /** Adds every value of `other` (same k), keeping this sketch's seed. */
  merge(other: QuantileSketch): this {
    if (other.k !== this.k) throw new RangeError(`cannot merge sketches with k=${this.k} and k=${other.k}`);
    if (other.count === 0) return this;
    if (other.exact !== null) {
      // Replaying exact values keeps exactness while the union still fits.
      for (let i = 0; i < other.exactLen; i++) this.add(other.exact[i]!);
      return this;
    }
    if (this.exact !== null) this.leaveExactMode();
    this.count += other.count;
    this.compactions += other.compactions;
    for (let h = 1; h < other.numLevels(); h++) {
      const theirs = other.upper[h - 1]!;
      if (this.upper.length < h) this.upper.push(theirs.slice());
      else this.upper[h - 1] = mergeSorted(this.upper[h - 1]!, theirs);
      this.size += theirs.length;
    }
    this.recomputeMaxSize();
    for (let i = 0; i < other.level0Len; i++) this.pushLevel0(other.level0[i]!);
    while (this.size >= this.maxSize) this.compressOnce();
    return this;
  }

  /** The sketch as a weighted sample sorted by value (weights null while exact). */
  toSample(): WeightedSample {
    if (this.exact !== null) {
      return { values: this.exact.slice(0, this.exactLen).sort(), weights: null, total: this.exactLen };
    }
    // Levels ≥ 1 are sorted already: sort level 0 alone, then merge level by level (weights
    // ride along), instead of sorting every retained item through a comparator.
    let values = this.level0.slice(0, this.level0Len).sort();
    let weights = new Float64Array(values.length).fill(1);
    this.upper.forEach((level, idx) => {
      const wgt = 2 ** (idx + 1);
      const n = values.length + level.length;
      const mv = new Float64Array(n);
      const mw = new Float64Array(n);
      let i = 0;
      let j = 0;
      for (let o = 0; o < n; o++) {
        if (j >= level.length || (i < values.length && values[i]! <= level[j]!)) {
          mv[o] = values[i]!;
          mw[o] = weights[i++]!;
        } else {
          mv[o] = level[j++]!;
          mw[o] = wgt;
        }
      }
      values = mv;
      weights = mw;
    });
    const sv = values;
    const sw = weights;
    return { values: sv, weights: sw, total: this.count };
  }

  toJSON(): QuantileSketchJson {
    const base = { n: this.count, k: this.k, exactLimit: this.exactLimit, seed: this.seed, compactions: this.compactions };
    if (this.exact !== null) {
      const { values, counts } = this.distinct();
      return { ...base, values: Array.from(values), counts: Array.from(counts) };
    }
    return { ...base, levels: [Array.from(this.level0.subarray(0, this.level0Len)), ...this.upper.map((l) => Array.from(l))] };
  }

  /**
   * An exact sketch's distinct values ascending with their counts (what a reference
   * profile's ECDF is made of). Throws once the sketch has compacted.
   */
  distinct(): { values: Float64Array; counts: Float64Array } {
    if (this.exact === null) throw new Error('QuantileSketch.distinct: the sketch is no longer exact');
    const sorted = this.exact.slice(0, this.exactLen).sort();
    let d = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) d++;
    const values = new Float64Array(d);
    const counts = new Float64Array(d);
    let j = -1;
    for (let i = 0; i < sorted.length; i++) {
      if (i === 0 || sorted[i] !== sorted[i - 1]) values[++j] = sorted[i]!;
      counts[j] = counts[j]! + 1;
    }
    return { values, counts };
  }

  static fromJSON(json: QuantileSketchJson): QuantileSketch {
    const s = new QuantileSketch({ k: json.k, exactLimit: json.exactLimit, seed: json.seed });
    s.count = json.n;
    s.compactions = json.compactions;
    if (json.values !== undefined) {
      const counts = json.counts;
      if (!Array.isArray(counts) || counts.length !== json.values.length) throw new RangeError(`exact sketch has ${json.values.length} values but ${Array.isArray(counts) ? counts.length : 'no'} counts`);
      let total = 0;
      for (let i = 0; i < counts.length; i++) {
        const c = counts[i]!;
        if (!Number.isInteger(c) || c < 1) throw new RangeError(`exact sketch count ${i} is ${c}; expected a positive integer`);
        if (i > 0 && !(json.values[i]! > json.values[i - 1]!)) throw new RangeError(`exact sketch values must be strictly ascending (value ${i} is ${json.values[i]} after ${json.values[i - 1]})`);
        total += c;
      }
      if (total !== json.n) throw new RangeError(`exact sketch counts sum to ${total} but n=${json.n}`);
      s.exact = new Float64Array(Math.max(1, total));
      let o = 0;
      json.values.forEach((v, i) => s.exact!.fill(v, o, (o += counts[i]!)));
      s.exactLen = total;
      return s;
    }
    if (json.exact !== undefined) {
      s.exact = Float64Array.from(json.exact);
      s.exactLen = json.exact.length;
      if (s.exactLen !== json.n) throw new RangeError(`exact sketch holds ${s.exactLen} values but n=${json.n}`);
      return s;
    }
    const levels = json.levels ?? [[]];
    s.exact = null;
    const l0 = levels[0] ?? [];
    s.level0 = new Float64Array(Math.max(s.k + 1, l0.length + 1));
    s.level0.set(l0);
    s.level0Len = l0.length;
    s.upper = levels.slice(1).map((l) => Float64Array.from(l));
    s.size = l0.length + s.upper.reduce((a, l) => a + l.length, 0);
    s.recomputeMaxSize();
    let total = l0.length;
    s.upper.forEach((l, i) => (total += l.length * 2 ** (i + 1)));
    if (total !== json.n) throw new RangeError(`sketch weights sum to ${total} but n=${json.n}`);
    return s;
  }
}
