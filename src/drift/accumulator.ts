/**
 * @module drift/accumulator
 * DriftAccumulator: the streaming window. Rows arrive one at a time (`add`), each column
 * keeps a fixed-size window against the reference (memory does not grow with rows), and
 * `evaluate()` returns the same DriftReport the batch command produces — the batch command
 * is this class fed from a CSV. Windows merge (replicas) and reset (tumbling windows).
 */
import { BerthError } from '../errors.js';
import { evaluateDrift } from './detect.js';
import { resolveDriftOptions, type DriftOptions, type DriftOptionsInput } from './options.js';
import { prepareReference, type PreparedReference } from './reference.js';
import type { Profile } from './profile.js';
import type { DriftReport } from './report.js';
import { CategoricalWindow, MultivariateWindow, NumericWindow, type ColumnWindow } from './window.js';
import { categoricalCell, numericCell, INVALID, MISSING } from './values.js';

export class DriftAccumulator {
  readonly options: Readonly<DriftOptions>;
  readonly reference: PreparedReference;
  private windows: (ColumnWindow | null)[];
  private mv: MultivariateWindow | null;
  private rowCount = 0;
  private readonly missing: ReadonlySet<string>;
  private readonly numScratch: Float64Array;
  private readonly catScratch: (string | null)[];
  private readonly mvNum: Float64Array;
  private readonly mvCat: (string | null)[];
  private readonly names: string[];

  constructor(reference: Profile | PreparedReference, options: DriftOptionsInput = {}) {
    this.options = resolveDriftOptions(options);
    this.reference = 'columns' in reference && 'format' in reference ? prepareReference(reference, this.options.multivariate.varianceExplained) : reference;
    for (const name of Object.keys(this.options.columns)) {
      if (!this.reference.columns.some((c) => c.profile.name === name)) throw new BerthError('BERTH_ERR_DRIFT_OPTIONS', `option columns.${name}: no such column in the reference profile`);
    }
    this.missing = new Set(this.reference.profile.missingTokens);
    this.names = this.reference.columns.map((c) => c.profile.name);
    this.windows = this.freshWindows();
    this.mv = this.freshMultivariate();
    // Ignored columns have no window and keep NaN here: the PCA sees them as missing.
    this.numScratch = new Float64Array(this.names.length).fill(Number.NaN);
    this.catScratch = this.names.map(() => null);
    this.mvNum = new Float64Array(this.reference.pca?.numericColumns.length ?? 0);
    this.mvCat = (this.reference.pca?.categoricalColumns ?? []).map(() => null);
  }

  private freshMultivariate(): MultivariateWindow | null {
    return this.reference.pca !== null && this.options.multivariate.enabled ? new MultivariateWindow(this.reference.pca.scorer) : null;
  }

  private freshWindows(): (ColumnWindow | null)[] {
    return this.reference.columns.map((c) => (c.profile.role === 'ignore' ? null : c.kind === 'numeric' ? new NumericWindow(c) : new CategoricalWindow(c)));
  }

  /** Rows added since construction or the last reset. */
  get rows(): number {
    return this.rowCount;
  }

  /** Column names, in profile order (for binding CSV headers). */
  get columnNames(): readonly string[] {
    return this.names;
  }

  /** Adds one row given as an object keyed by column name (missing keys count as missing). */
  add(row: Readonly<Record<string, unknown>>): void {
    this.addCells((i) => row[this.names[i]!]);
  }

  /** Adds one CSV record; positions[i] is the field index of profile column i. */
  addRecord(fields: readonly string[], positions: Int32Array): void {
    this.addCells((i) => fields[positions[i]!]);
  }

  private addCells(cell: (i: number) => unknown): void {
    this.rowCount++;
    const ws = this.windows;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i];
      if (w === null || w === undefined) continue;
      const v = cell(i);
      if (w instanceof NumericWindow) {
        const x = numericCell(v, this.missing);
        if (x === MISSING) {
          w.rows++;
          w.missing++;
          this.numScratch[i] = Number.NaN;
        } else if (x === INVALID) {
          w.rows++;
          w.invalid++;
          this.numScratch[i] = Number.NaN;
        } else {
          w.addValue(x);
          this.numScratch[i] = x;
        }
      } else {
        const c = categoricalCell(v, this.missing);
        if (c === MISSING) {
          w.rows++;
          w.missing++;
        } else w.addValue(c);
        this.catScratch[i] = c;
      }
    }
    if (this.mv !== null) this.addMultivariate();
  }

  private addMultivariate(): void {
    const pca = this.reference.pca!;
    const nc = pca.numericColumns;
    for (let j = 0; j < nc.length; j++) this.mvNum[j] = nc[j]! >= 0 ? this.numScratch[nc[j]!]! : Number.NaN;
    const cc = pca.categoricalColumns;
    for (let j = 0; j < cc.length; j++) this.mvCat[j] = cc[j]! >= 0 ? this.catScratch[cc[j]!]! : null;
    this.mv!.addRow(this.mvNum, this.mvCat);
  }

  /**
   * Bulk path: columns by name, all the same length. Numeric columns as typed arrays (the
   * fast path; NaN = missing) or plain arrays of cells, categorical as arrays of
   * strings/null. Equivalent to adding the rows one by one (the same report), only faster:
   * the PCA detector scores the rows in blocks.
   */
  addColumns(columns: Readonly<Record<string, ArrayLike<number> | readonly unknown[]>>): void {
    let length = -1;
    const arrays = this.names.map((name) => {
      const a = columns[name];
      if (a !== undefined) {
        if (length >= 0 && a.length !== length) throw new BerthError('BERTH_ERR_DRIFT_DATA', `addColumns: column "${name}" has ${a.length} values, others have ${length}`);
        length = a.length;
      }
      return a;
    });
    if (length < 0) return;
    this.rowCount += length;
    this.windows.forEach((w, i) => {
      const a = arrays[i];
      if (w === null) return;
      if (a === undefined) {
        w.rows += length;
        w.missing += length;
      } else if (w instanceof NumericWindow && ArrayBuffer.isView(a)) w.addColumn(a as ArrayLike<number>);
      else for (let r = 0; r < length; r++) w.add(a[r], this.missing);
    });
    if (this.mv !== null) {
      const pca = this.reference.pca!;
      const input = (i: number) => (i >= 0 && this.windows[i] !== null ? arrays[i] : undefined);
      this.mv.addColumns(pca.numericColumns.map(input), pca.categoricalColumns.map(input), length, this.missing);
    }
  }

  /** Folds another accumulator over the same reference into this one. */
  merge(other: DriftAccumulator): this {
    if (other.reference !== this.reference) throw new BerthError('BERTH_ERR_DRIFT_OPTIONS', 'cannot merge accumulators built on different prepared references');
    this.rowCount += other.rowCount;
    this.windows.forEach((w, i) => {
      const o = other.windows[i];
      if (w instanceof NumericWindow && o instanceof NumericWindow) w.merge(o);
      else if (w instanceof CategoricalWindow && o instanceof CategoricalWindow) w.merge(o);
    });
    if (this.mv !== null && other.mv !== null) this.mv.merge(other.mv);
    return this;
  }

  /** Starts a new window (same reference and options). */
  reset(): void {
    this.rowCount = 0;
    this.windows = this.freshWindows();
    this.mv = this.freshMultivariate();
  }

  /** Tests the window so far against the reference. */
  evaluate(meta: { referenceSource?: string; currentSource?: string } = {}): DriftReport {
    return evaluateDrift(this.reference, this.windows, this.mv, this.options, { rows: this.rowCount, ...meta });
  }
}
