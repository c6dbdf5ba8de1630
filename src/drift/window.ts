/**
 * @module drift/window
 * Current-data windows, one per column, counted against the prepared reference: a numeric
 * window is a histogram on the reference sketch's grid (values equal to a grid value, and
 * count and sum of values strictly between neighbours), so KS and CvM against the
 * reference sketch are exact, memory is O(sketch size) whatever the row count, adding is
 * one binary search, and windows merge by adding counts. Order of rows never matters.
 */
import { Moments } from './sketch/moments.js';
import { SCORE_BLOCK_ROWS, type PcaScorer } from './multivariate.js';
import { CategoryCounts } from './sketch/categories.js';
import { type CategoricalReference, type NumericReference } from './reference.js';
import { categoricalCell, numericCell, INVALID, MISSING } from './values.js';

export const UNSEEN_CAP = 1000;

export class NumericWindow {
  rows = 0;
  missing = 0;
  invalid = 0;
  readonly moments = new Moments();
  /** eq[i]: values equal to grid[i]. between[i]: values in (grid[i−1], grid[i]); between[R]: above the last. */
  readonly eq: Float64Array;
  readonly between: Float64Array;
  readonly sumBetween: Float64Array;

  constructor(readonly ref: NumericReference) {
    const R = ref.grid.length;
    this.eq = new Float64Array(R);
    this.between = new Float64Array(R + 1);
    this.sumBetween = new Float64Array(R + 1);
  }

  addValue(x: number): void {
    this.rows++;
    this.moments.add(x);
    const grid = this.ref.grid;
    const u = this.ref.locate(x);
    if (u > 0 && grid[u - 1] === x) this.eq[u - 1] = this.eq[u - 1]! + 1;
    else {
      this.between[u] = this.between[u]! + 1;
      this.sumBetween[u] = this.sumBetween[u]! + x;
    }
  }

  add(v: unknown, missing: ReadonlySet<string>): void {
    const x = numericCell(v, missing);
    if (x === MISSING) {
      this.rows++;
      this.missing++;
    } else if (x === INVALID) {
      this.rows++;
      this.invalid++;
    } else this.addValue(x);
  }

  /** Bulk path for a column of numbers (NaN = missing, ±Infinity = invalid). */
  addColumn(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) {
      const x = values[i]!;
      if (Number.isFinite(x)) this.addValue(x);
      else {
        this.rows++;
        if (Number.isNaN(x)) this.missing++;
        else this.invalid++;
      }
    }
  }

  merge(o: NumericWindow): void {
    if (o.ref !== this.ref) throw new Error('cannot merge windows of different references');
    this.rows += o.rows;
    this.missing += o.missing;
    this.invalid += o.invalid;
    this.moments.merge(o.moments);
    for (let i = 0; i < this.eq.length; i++) this.eq[i] = this.eq[i]! + o.eq[i]!;
    for (let i = 0; i < this.between.length; i++) {
      this.between[i] = this.between[i]! + o.between[i]!;
      this.sumBetween[i] = this.sumBetween[i]! + o.sumBetween[i]!;
    }
  }
}

export class CategoricalWindow {
  rows = 0;
  missing = 0;
  readonly counts: Float64Array;
  /** Values the reference never saw (capped; the rest counted in unseen.other). */
  readonly unseen = new CategoryCounts(UNSEEN_CAP);

  constructor(readonly ref: CategoricalReference) {
    this.counts = new Float64Array(ref.categories.length);
  }

  addValue(c: string): void {
    this.rows++;
    const i = this.ref.index.get(c);
    if (i !== undefined) this.counts[i] = this.counts[i]! + 1;
    else this.unseen.add(c);
  }

  add(v: unknown, missing: ReadonlySet<string>): void {
    const c = categoricalCell(v, missing);
    if (c === MISSING) {
      this.rows++;
      this.missing++;
    } else this.addValue(c);
  }

  get present(): number {
    return this.rows - this.missing;
  }

  merge(o: CategoricalWindow): void {
    if (o.ref !== this.ref) throw new Error('cannot merge windows of different references');
    this.rows += o.rows;
    this.missing += o.missing;
    for (let i = 0; i < this.counts.length; i++) this.counts[i] = this.counts[i]! + o.counts[i]!;
    this.unseen.merge(o.unseen);
  }
}

export type ColumnWindow = NumericWindow | CategoricalWindow;

/**
 * Running mean/variance of the current rows' squared PCA reconstruction errors. Rows are
 * staged column-major in a preallocated block and scored a block at a time (PcaScorer);
 * `errors` scores what is staged first, so it always covers every row added.
 */
export class MultivariateWindow {
  private readonly moments = new Moments();
  private readonly numeric: Float64Array;
  private readonly slots: Int32Array;
  private readonly out = new Float64Array(SCORE_BLOCK_ROWS);
  private staged = 0;

  constructor(readonly scorer: PcaScorer) {
    this.numeric = new Float64Array(scorer.numericCount * SCORE_BLOCK_ROWS);
    this.slots = new Int32Array(scorer.categoricalCount * SCORE_BLOCK_ROWS);
  }

  /** One row: numeric[j] the value of encoding numeric column j (NaN = missing), categorical[q] a category or null. */
  addRow(numeric: ArrayLike<number>, categorical: ArrayLike<string | null>): void {
    const r = this.staged;
    for (let j = 0; j < this.scorer.numericCount; j++) this.numeric[j * SCORE_BLOCK_ROWS + r] = numeric[j]!;
    for (let q = 0; q < this.scorer.categoricalCount; q++) this.slots[q * SCORE_BLOCK_ROWS + r] = this.scorer.categorySlot(q, categorical[q]!);
    if (++this.staged === SCORE_BLOCK_ROWS) this.flush();
  }

  /**
   * Columns of `length` rows, in encoding order (undefined = every value missing). Numeric
   * cells as numbers or strings (non-finite or unparsable = missing), categorical as
   * strings (null/undefined or a missing token = missing).
   */
  addColumns(numeric: readonly (ArrayLike<unknown> | undefined)[], categorical: readonly (ArrayLike<unknown> | undefined)[], length: number, missing: ReadonlySet<string>): void {
    for (let start = 0; start < length; ) {
      const r0 = this.staged;
      const take = Math.min(length - start, SCORE_BLOCK_ROWS - r0);
      for (let j = 0; j < this.scorer.numericCount; j++) {
        const src = numeric[j];
        const dst = j * SCORE_BLOCK_ROWS + r0;
        if (src === undefined) this.numeric.fill(Number.NaN, dst, dst + take);
        else if (ArrayBuffer.isView(src)) {
          const xs = src as ArrayLike<number>;
          for (let r = 0; r < take; r++) {
            const x = xs[start + r]!;
            this.numeric[dst + r] = Number.isFinite(x) ? x : Number.NaN;
          }
        } else {
          for (let r = 0; r < take; r++) {
            const x = numericCell(src[start + r], missing);
            this.numeric[dst + r] = typeof x === 'number' ? x : Number.NaN;
          }
        }
      }
      for (let q = 0; q < this.scorer.categoricalCount; q++) {
        const src = categorical[q];
        const dst = q * SCORE_BLOCK_ROWS + r0;
        if (src === undefined) this.slots.fill(this.scorer.noEntry, dst, dst + take);
        else for (let r = 0; r < take; r++) this.slots[dst + r] = this.scorer.categorySlot(q, categoricalCell(src[start + r], missing));
      }
      this.staged += take;
      start += take;
      if (this.staged === SCORE_BLOCK_ROWS) this.flush();
    }
  }

  private flush(): void {
    const n = this.staged;
    if (n === 0) return;
    this.scorer.score(this.numeric, this.slots, SCORE_BLOCK_ROWS, n, this.out);
    for (let r = 0; r < n; r++) this.moments.add(this.out[r]!);
    this.staged = 0;
  }

  /** Mean and variance of every row's error so far. */
  get errors(): Moments {
    this.flush();
    return this.moments;
  }

  merge(o: MultivariateWindow): void {
    if (o.scorer !== this.scorer) throw new Error('cannot merge windows of different references');
    this.errors.merge(o.errors);
  }
}
