/**
 * @module bench/lib/histogram
 * A fixed-size latency histogram in a typed array (HdrHistogram's layout, simplified):
 * values are counted in units of `unitNs`; below 256 units every value has its own bucket,
 * above that each power of two is split into 128 buckets (relative error < 0.8 %).
 * Recording is a few integer operations and never allocates, so it can sit in a hot loop.
 *
 *   index:  0 … 255          | 256 … 383        | 384 … 511        | …
 *   value:  0 … 255 (exact)  | 256 … 511 step 2 | 512 … 1023 step 4 | …
 */

const SUB = 256;
const HALF = 128;
const MAX_EXPONENT = 30;
const BUCKETS = SUB + MAX_EXPONENT * HALF;

export class LatencyHistogram {
  readonly unitNs: number;
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;
  #sumNs = 0;
  #minNs = Infinity;
  #maxNs = 0;

  /** `unitNs`: resolution of the exact range (default 100 ns: exact up to 25.6 µs). */
  constructor(unitNs = 100) {
    if (!(unitNs > 0)) throw new RangeError(`unitNs must be > 0, got ${unitNs}`);
    this.unitNs = unitNs;
  }

  get count(): number {
    return this.#total;
  }

  /** Records `count` (default 1) observations of `ns`. */
  recordNs(ns: number, count = 1): void {
    const v = Math.max(0, Math.min(Math.round(ns / this.unitNs), 2 ** 31 - 1));
    this.#counts[indexOf(v)]! += count;
    this.#total += count;
    this.#sumNs += ns * count;
    if (ns < this.#minNs) this.#minNs = ns;
    if (ns > this.#maxNs) this.#maxNs = ns;
  }

  merge(other: LatencyHistogram): void {
    if (other.unitNs !== this.unitNs) throw new RangeError('cannot merge histograms with different units');
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.#total += other.#total;
    this.#sumNs += other.#sumNs;
    this.#minNs = Math.min(this.#minNs, other.#minNs);
    this.#maxNs = Math.max(this.#maxNs, other.#maxNs);
  }

  /** The value (ns) at percentile `p` (0–100): the middle of the bucket holding it. */
  percentileNs(p: number): number {
    if (this.#total === 0) return NaN;
    const target = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= target) return Math.min(this.#maxNs, Math.max(this.#minNs, middleOf(i) * this.unitNs));
    }
    return this.#maxNs;
  }

  meanNs(): number {
    return this.#total === 0 ? NaN : this.#sumNs / this.#total;
  }

  minNs(): number {
    return this.#total === 0 ? NaN : this.#minNs;
  }

  maxNs(): number {
    return this.#total === 0 ? NaN : this.#maxNs;
  }

  /** Non-empty buckets as [value ns (bucket middle), count], ascending. */
  entries(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.#counts[i]! > 0) out.push([middleOf(i) * this.unitNs, this.#counts[i]!]);
    return out;
  }
}

function indexOf(v: number): number {
  if (v < SUB) return v;
  const e = 31 - Math.clz32(v) - 7; // v >> e lies in [128, 255]
  return Math.min(BUCKETS - 1, SUB + (e - 1) * HALF + ((v >> e) - HALF));
}

function middleOf(index: number): number {
  if (index < SUB) return index;
  const k = index - SUB;
  const e = Math.floor(k / HALF) + 1;
  const lower = ((k % HALF) + HALF) * 2 ** e;
  return lower + (2 ** e - 1) / 2;
}
