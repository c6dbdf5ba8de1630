/**
 * @module drift/multivariate
 * PCA reconstruction-error drift detector (after NannyML). Features are encoded once per
 * reference — numeric standardised by the reference mean/std (missing → 0), categorical
 * one-hot over the reference's most frequent categories — and the reference's sums and
 * cross-products of the encoded vectors are kept (mergeable: they add). They are collected
 * in the profile's single pass (PcaMomentCollector) before the encoding is known; the
 * two-pass MomentMatrix path remains as the rare fallback. From them the correlation
 * matrix, its eigenvectors (Jacobi) and the reference's mean squared reconstruction error
 * Σ_{k>K} λ_k follow exactly, so no reference rows are needed. Current rows are scored in
 * blocks (PcaScorer); the detector compares their mean error with the reference's.
 */

export interface MultivariateEncoding {
  numeric: { name: string; center: number; scale: number }[];
  categorical: { name: string; categories: string[] }[];
}

export interface MultivariateProfileJson {
  method: 'pca';
  encoding: MultivariateEncoding;
  n: number;
  sums: number[];
  /** Upper triangle (row-major, with diagonal) of Σ z zᵀ. */
  products: number[];
}

/** Maximum one-hot categories per column, and encoded dimensions in total. */
export const MAX_CATEGORIES_PER_COLUMN = 20;
export const MAX_DIMENSIONS = 256;

export function encodingDimension(e: MultivariateEncoding): number {
  return e.numeric.length + e.categorical.reduce((a, c) => a + c.categories.length, 0);
}

export function sameEncoding(a: MultivariateEncoding, b: MultivariateEncoding): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Sparse encoder for one row: fills `idx`/`val` with the non-zero encoded entries and
 * returns how many. Numeric cells are given as numbers (NaN = missing), categorical as
 * strings (null = missing).
 */
export class RowEncoder {
  readonly dimension: number;
  private readonly catIndex: Map<string, number>[];
  private readonly catOffset: number[];
  readonly idx: Int32Array;
  readonly val: Float64Array;

  constructor(readonly encoding: MultivariateEncoding) {
    this.dimension = encodingDimension(encoding);
    let off = encoding.numeric.length;
    this.catOffset = [];
    this.catIndex = encoding.categorical.map((c) => {
      this.catOffset.push(off);
      off += c.categories.length;
      return new Map(c.categories.map((v, i) => [v, i]));
    });
    const maxActive = encoding.numeric.length + encoding.categorical.length;
    this.idx = new Int32Array(maxActive);
    this.val = new Float64Array(maxActive);
  }

  encode(numeric: ArrayLike<number>, categorical: ArrayLike<string | null>): number {
    let a = 0;
    const num = this.encoding.numeric;
    for (let i = 0; i < num.length; i++) {
      const x = numeric[i]!;
      if (Number.isNaN(x)) continue;
      const z = (x - num[i]!.center) / num[i]!.scale;
      if (z !== 0) {
        this.idx[a] = i;
        this.val[a++] = z;
      }
    }
    for (let c = 0; c < this.catIndex.length; c++) {
      const v = categorical[c];
      if (v === null || v === undefined) continue;
      const k = this.catIndex[c]!.get(v);
      if (k !== undefined) {
        this.idx[a] = this.catOffset[c]! + k;
        this.val[a++] = 1;
      }
    }
    return a;
  }
}

/** Accumulates sums and cross-products of encoded rows (reference side). */
export class MomentMatrix {
  n = 0;
  readonly sums: Float64Array;
  readonly products: Float64Array;

  constructor(readonly dimension: number) {
    this.sums = new Float64Array(dimension);
    this.products = new Float64Array((dimension * (dimension + 1)) / 2);
  }

  /** Packed index of (i, j) with i ≤ j. */
  static at(d: number, i: number, j: number): number {
    return i * d - (i * (i - 1)) / 2 + (j - i);
  }

  addSparse(idx: Int32Array, val: Float64Array, active: number): void {
    this.n++;
    const d = this.dimension;
    for (let a = 0; a < active; a++) {
      const i = idx[a]!;
      const vi = val[a]!;
      this.sums[i] = this.sums[i]! + vi;
      for (let b = a; b < active; b++) {
        const j = idx[b]!;
        const p = i <= j ? MomentMatrix.at(d, i, j) : MomentMatrix.at(d, j, i);
        this.products[p] = this.products[p]! + vi * val[b]!;
      }
    }
  }
}

/** Limits of the one-pass PCA moments: raw dimensions in all, and tracked categories per column. */
export const MAX_RAW_DIMENSIONS = 1024;
export const MAX_TRACKED_CATEGORIES = 64;

/** An encoded entry as an affine function of raw entries: Σ coef[t]·u[raw[t]] + constant. */
export interface EncodedEntry {
  raw: number[];
  coef: number[];
  constant: number;
}

/**
 * The PCA moments collected in the same pass as the column sketches, before the encoding
 * is known (the encoding needs that pass's means, stds and most frequent categories).
 * Each row is a sparse "raw" vector: per numeric feature its value minus a shift (the
 * column's first value, which keeps the sums well conditioned) and a missing indicator;
 * per categorical feature a one-hot over the categories tracked so far. Its sums and
 * cross-products add up per row. An encoded entry is affine in the raw ones — a
 * standardised numeric z = (x − c)/s (0 when missing) is x′/s + (d/s)·missing − d/s with
 * x′ = x − shift (0 when missing) and d = c − shift; a one-hot entry is a raw one — so
 * the encoding's sums and products follow at the end, exact up to rounding. A category
 * that was never tracked (more than MAX_TRACKED_CATEGORIES in its column, or past
 * MAX_RAW_DIMENSIONS) has no entry: then the caller reads the rows a second time.
 */
export class PcaMomentCollector {
  n = 0;
  private dims = 0;
  private capacity = 0;
  private sums = new Float64Array(0);
  /** cross[a·capacity + b] = Σ u_a·u_b over rows where a is listed before b (or a = b). */
  private cross = new Float64Array(0);
  private readonly valueDim: Int32Array;
  private readonly missingDim: Int32Array;
  private readonly shift: Float64Array;
  private readonly categoryDim: (Int32Array | null)[];
  private readonly idx: Int32Array;
  private readonly val: Float64Array;
  private active = 0;

  /** Columns are numbered 0..columns−1 by the caller and declared with numeric() / categorical(). */
  constructor(columns: number) {
    this.valueDim = new Int32Array(columns).fill(-1);
    this.missingDim = new Int32Array(columns).fill(-1);
    this.shift = new Float64Array(columns).fill(Number.NaN);
    this.categoryDim = Array.from({ length: columns }, () => null);
    this.idx = new Int32Array(columns);
    this.val = new Float64Array(columns);
    this.grow(Math.min(MAX_RAW_DIMENSIONS, Math.max(16, 2 * columns)));
  }

  /** Declares column i numeric: two raw dimensions (none when over budget: the column is then not tracked). */
  declareNumeric(i: number): void {
    const value = this.newDimension();
    const missing = value >= 0 ? this.newDimension() : -1;
    this.valueDim[i] = missing >= 0 ? value : -1;
    this.missingDim[i] = missing;
    this.categoryDim[i] = null;
  }

  /** Declares column i categorical (its earlier raw dimensions, if any, stop being used). */
  declareCategorical(i: number): void {
    this.valueDim[i] = -1;
    this.missingDim[i] = -1;
    this.categoryDim[i] = new Int32Array(MAX_TRACKED_CATEGORIES).fill(-2);
  }

  private newDimension(): number {
    if (this.dims === this.capacity) {
      if (this.capacity >= MAX_RAW_DIMENSIONS) return -1;
      this.grow(Math.min(MAX_RAW_DIMENSIONS, this.capacity * 2));
    }
    return this.dims++;
  }

  private grow(capacity: number): void {
    const sums = new Float64Array(capacity);
    sums.set(this.sums);
    const cross = new Float64Array(capacity * capacity);
    for (let a = 0; a < this.dims; a++) cross.set(this.cross.subarray(a * this.capacity, a * this.capacity + this.dims), a * capacity);
    this.sums = sums;
    this.cross = cross;
    this.capacity = capacity;
  }

  /** Numeric cell of column i in the current row (NaN = missing or invalid). */
  numeric(i: number, x: number): void {
    const valueDim = this.valueDim[i]!;
    if (valueDim < 0) return;
    if (x !== x) {
      this.idx[this.active] = this.missingDim[i]!;
      this.val[this.active++] = 1;
      return;
    }
    let shift = this.shift[i]!;
    if (shift !== shift) shift = this.shift[i] = x;
    const d = x - shift;
    if (d !== 0) {
      this.idx[this.active] = valueDim;
      this.val[this.active++] = d;
    }
  }

  /** Categorical cell of column i: its CategoryCounts slot (−1 = missing or not counted). */
  category(i: number, slot: number): void {
    const dims = this.categoryDim[i]!;
    if (slot < 0 || slot >= dims.length) return;
    let dim = dims[slot]!;
    if (dim === -2) dim = dims[slot] = this.newDimension();
    if (dim >= 0) {
      this.idx[this.active] = dim;
      this.val[this.active++] = 1;
    }
  }

  /** Ends the current row. */
  endRow(): void {
    this.n++;
    const { idx, val, sums, cross, capacity } = this;
    const active = this.active;
    for (let a = 0; a < active; a++) {
      const i = idx[a]!;
      const vi = val[a]!;
      sums[i] = sums[i]! + vi;
      const row = i * capacity;
      for (let b = a; b < active; b++) {
        const p = row + idx[b]!;
        cross[p] = cross[p]! + vi * val[b]!;
      }
    }
    this.active = 0;
  }

  /** The encoded entry (x − center)/scale of numeric column i (0 when missing), or null when not tracked. */
  numericEntry(i: number, center: number, scale: number): EncodedEntry | null {
    if (this.valueDim[i]! < 0) return null;
    const shift = this.shift[i]!;
    const d = shift === shift ? center - shift : 0;
    return { raw: [this.valueDim[i]!, this.missingDim[i]!], coef: [1 / scale, d / scale], constant: -d / scale };
  }

  /** The one-hot entry of categorical column i's slot, or null when the slot was not tracked. */
  categoryEntry(i: number, slot: number): EncodedEntry | null {
    const dim = slot >= 0 ? (this.categoryDim[i]?.[slot] ?? -1) : -1;
    return dim >= 0 ? { raw: [dim], coef: [1], constant: 0 } : null;
  }

  /** Sums and packed products (as MomentMatrix) of the encoded rows. */
  momentsOf(entries: readonly EncodedEntry[]): { sums: Float64Array; products: Float64Array } {
    const d = entries.length;
    const cap = this.capacity;
    const q = (a: number, b: number) => (a === b ? this.cross[a * cap + a]! : this.cross[a * cap + b]! + this.cross[b * cap + a]!);
    const linear = entries.map((e) => e.raw.reduce((acc, r, t) => acc + e.coef[t]! * this.sums[r]!, 0));
    const sums = new Float64Array(d);
    const products = new Float64Array((d * (d + 1)) / 2);
    for (let e = 0; e < d; e++) {
      const E = entries[e]!;
      sums[e] = linear[e]! + this.n * E.constant;
      for (let f = e; f < d; f++) {
        const F = entries[f]!;
        let s = 0;
        for (let t = 0; t < E.raw.length; t++) for (let u = 0; u < F.raw.length; u++) s += E.coef[t]! * F.coef[u]! * q(E.raw[t]!, F.raw[u]!);
        products[MomentMatrix.at(d, e, f)] = s + F.constant * linear[e]! + E.constant * linear[f]! + this.n * E.constant * F.constant;
      }
    }
    return { sums, products };
  }
}

export interface PcaFit {
  /** Encoded dimensions with non-zero variance, used by the fit. */
  kept: Int32Array;
  mean: Float64Array;
  sd: Float64Array;
  /** K × kept.length, row-major. */
  components: Float64Array;
  k: number;
  eigenvalues: Float64Array;
  /** Reference mean squared reconstruction error = Σ of the discarded eigenvalues. */
  referenceError: number;
  varianceExplained: number;
}

/** Symmetric eigen-decomposition by cyclic Jacobi rotations; returns values descending. */
export function symmetricEigen(A: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = A.slice();
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j]! - a[i * n + i]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n); // row r = eigenvector r
  order.forEach((col, r) => {
    values[r] = a[col * n + col]!;
    for (let k = 0; k < n; k++) vectors[r * n + k] = v[k * n + col]!;
  });
  return { values, vectors };
}

/** Fits PCA on the correlation matrix implied by the moment matrix. Null when nothing varies. */
export function fitPca(n: number, sums: ArrayLike<number>, products: ArrayLike<number>, d: number, varianceExplained: number): PcaFit | null {
  if (n < 2) return null;
  const mean = new Float64Array(d);
  for (let i = 0; i < d; i++) mean[i] = sums[i]! / n;
  const keptList: number[] = [];
  const sdAll = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const v = products[MomentMatrix.at(d, i, i)]! / n - mean[i]! ** 2;
    sdAll[i] = v > 1e-12 ? Math.sqrt(v) : 0;
    if (sdAll[i]! > 0) keptList.push(i);
  }
  const m = keptList.length;
  if (m === 0) return null;
  const R = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    for (let b = a; b < m; b++) {
      const i = keptList[a]!;
      const j = keptList[b]!;
      const cov = products[MomentMatrix.at(d, i, j)]! / n - mean[i]! * mean[j]!;
      const r = cov / (sdAll[i]! * sdAll[j]!);
      R[a * m + b] = r;
      R[b * m + a] = r;
    }
  }
  const { values, vectors } = symmetricEigen(R, m);
  let trace = 0;
  for (let i = 0; i < m; i++) trace += Math.max(0, values[i]!);
  let k = 0;
  let acc = 0;
  while (k < m && acc < varianceExplained * trace - 1e-12) acc += Math.max(0, values[k++]!);
  k = Math.max(1, Math.min(k, m - 1 > 0 ? m - 1 : m));
  let referenceError = 0;
  for (let i = k; i < m; i++) referenceError += Math.max(0, values[i]!);
  const kept = Int32Array.from(keptList);
  const keptMean = new Float64Array(m);
  const keptSd = new Float64Array(m);
  keptList.forEach((i, a) => {
    keptMean[a] = mean[i]!;
    keptSd[a] = sdAll[i]!;
  });
  return { kept, mean: keptMean, sd: keptSd, components: vectors.slice(0, k * m), k, eigenvalues: values, referenceError, varianceExplained: acc / (trace || 1) };
}

/** Rows per scoring block: ≤ 256 standardised columns × 512 rows × 8 B stays around 1 MB. */
export const SCORE_BLOCK_ROWS = 512;

/**
 * Squared reconstruction error of current rows under a PCA fit, a block of rows at a time:
 * ‖w‖² − Σ_c (v_c·w)² over the K components, w = (z − μ)/σ the standardised encoded row.
 * With a = −μ/σ (constant) and b = z/σ (zero except the row's active entries),
 * ‖w‖² = ‖a‖² + Σ_active (2·a_i·b_i + b_i²) and v·w = v·a + Σ_active v_i·b_i. Numeric
 * entries are standardised into a preallocated row-major block (b = 0 where missing); a
 * categorical column has at most one one-hot entry per row, so it enters as a lookup by
 * that entry's slot in tables precomputed per component. Each row's sums run in the same
 * order however rows are grouped, so scoring rows one by one or in blocks gives the same
 * errors to the last bit (add() and addColumns() agree exactly).
 *
 *   input (column-major, `stride` rows per column):
 *     numeric[j·stride + r]   raw value of the encoding's numeric column j (NaN = missing)
 *     slots[q·stride + r]     categorySlot(q, value) of row r in categorical column q
 */
export class PcaScorer {
  readonly numericCount: number;
  readonly categoricalCount: number;
  /** Slot of "no one-hot entry" (missing, or not one of the encoded categories). */
  readonly noEntry: number;
  private readonly slotOf: Map<string, number>[];
  /** Encoding numeric columns whose dimension the fit kept, with their kept position. */
  private readonly numericColumn: Int32Array;
  private readonly numericPos: Int32Array;
  private readonly center: Float64Array;
  private readonly scale: Float64Array;
  private readonly invSd: Float64Array;
  private readonly twoA: Float64Array;
  private readonly aNorm2: number;
  private readonly vDotA: Float64Array;
  /** K × (m + 1): component c at slot p, times 1/σ_p (the one-hot b); column m is 0. */
  private readonly slotProjection: Float64Array;
  /** m + 1: 2·a_p·b_p + b_p² of a one-hot entry at slot p; 0 at slot m. */
  private readonly slotNorm: Float64Array;
  private readonly b: Float64Array;
  /** K × (kept numeric columns): the components restricted to the numeric entries. */
  private readonly numericComponents: Float64Array;
  private readonly norm2 = new Float64Array(SCORE_BLOCK_ROWS);

  constructor(
    readonly fit: PcaFit,
    readonly encoding: MultivariateEncoding,
  ) {
    const m = fit.kept.length;
    const k = fit.k;
    const pos = new Int32Array(encodingDimension(encoding)).fill(-1);
    fit.kept.forEach((i, a) => (pos[i] = a));
    this.noEntry = m;
    this.invSd = new Float64Array(m);
    const aVec = new Float64Array(m);
    let n2 = 0;
    for (let a = 0; a < m; a++) {
      this.invSd[a] = 1 / fit.sd[a]!;
      aVec[a] = -fit.mean[a]! / fit.sd[a]!;
      n2 += aVec[a]! ** 2;
    }
    this.aNorm2 = n2;
    this.vDotA = new Float64Array(k);
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let a = 0; a < m; a++) s += fit.components[c * m + a]! * aVec[a]!;
      this.vDotA[c] = s;
    }

    this.numericCount = encoding.numeric.length;
    const keptNumeric = encoding.numeric.map((_, j) => j).filter((j) => pos[j]! >= 0);
    this.numericColumn = Int32Array.from(keptNumeric);
    this.numericPos = Int32Array.from(keptNumeric, (j) => pos[j]!);
    this.center = Float64Array.from(keptNumeric, (j) => encoding.numeric[j]!.center);
    this.scale = Float64Array.from(keptNumeric, (j) => encoding.numeric[j]!.scale);
    this.twoA = Float64Array.from(this.numericPos, (p) => 2 * aVec[p]!);
    this.b = new Float64Array(keptNumeric.length * SCORE_BLOCK_ROWS);
    this.numericComponents = new Float64Array(k * keptNumeric.length);
    for (let c = 0; c < k; c++) this.numericPos.forEach((p, t) => (this.numericComponents[c * keptNumeric.length + t] = fit.components[c * m + p]!));

    this.categoricalCount = encoding.categorical.length;
    let offset = encoding.numeric.length;
    this.slotOf = encoding.categorical.map((col) => {
      const slots = new Map<string, number>();
      col.categories.forEach((v, i) => {
        const p = pos[offset + i]!;
        if (p >= 0) slots.set(v, p);
      });
      offset += col.categories.length;
      return slots;
    });
    this.slotProjection = new Float64Array(k * (m + 1));
    for (let c = 0; c < k; c++) for (let p = 0; p < m; p++) this.slotProjection[c * (m + 1) + p] = fit.components[c * m + p]! * this.invSd[p]!;
    this.slotNorm = new Float64Array(m + 1);
    for (let p = 0; p < m; p++) {
      const bp = this.invSd[p]!;
      this.slotNorm[p] = 2 * aVec[p]! * bp + bp * bp;
    }
  }

  /** The slot of a categorical cell (null = missing) in encoding column q. */
  categorySlot(q: number, value: string | null): number {
    return value === null ? this.noEntry : (this.slotOf[q]!.get(value) ?? this.noEntry);
  }

  /** Writes the squared reconstruction errors of `rows` (≤ SCORE_BLOCK_ROWS) rows to out[0..rows). */
  score(numeric: Float64Array, slots: Int32Array, stride: number, rows: number, out: Float64Array): void {
    if (rows > SCORE_BLOCK_ROWS) throw new RangeError(`score: at most ${SCORE_BLOCK_ROWS} rows per block, got ${rows}`);
    const m = this.noEntry;
    const { b, norm2 } = this;
    const nNum = this.numericColumn.length;
    const nCat = this.categoricalCount;

    // Standardise into b (row-major: b[r·nNum + t]) and start ‖w‖².
    for (let r = 0; r < rows; r++) norm2[r] = this.aNorm2;
    for (let t = 0; t < nNum; t++) {
      const src = this.numericColumn[t]! * stride;
      const center = this.center[t]!;
      const scale = this.scale[t]!;
      const invSd = this.invSd[this.numericPos[t]!]!;
      const twoA = this.twoA[t]!;
      for (let r = 0; r < rows; r++) {
        const x = numeric[src + r]!;
        const bv = x === x ? ((x - center) / scale) * invSd : 0;
        b[r * nNum + t] = bv;
        norm2[r] = norm2[r]! + (twoA * bv + bv * bv);
      }
    }
    for (let q = 0; q < nCat; q++) {
      const src = q * stride;
      for (let r = 0; r < rows; r++) norm2[r] = norm2[r]! + this.slotNorm[slots[src + r]!]!;
    }

    // Per row and component: the projection v·w, then the captured squared length. Four
    // rows at a time share each coefficient load (~2× faster); each row's sums keep the
    // order of the single-row loop below.
    const compNum = this.numericComponents;
    const slotProjection = this.slotProjection;
    const vDotA = this.vDotA;
    const k = this.fit.k;
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      const b0 = r * nNum;
      const b1 = b0 + nNum;
      const b2 = b1 + nNum;
      const b3 = b2 + nNum;
      let c0 = 0;
      let c1 = 0;
      let c2 = 0;
      let c3 = 0;
      for (let c = 0; c < k; c++) {
        let p0 = vDotA[c]!;
        let p1 = p0;
        let p2 = p0;
        let p3 = p0;
        const cn = c * nNum;
        for (let t = 0; t < nNum; t++) {
          const v = compNum[cn + t]!;
          p0 += v * b[b0 + t]!;
          p1 += v * b[b1 + t]!;
          p2 += v * b[b2 + t]!;
          p3 += v * b[b3 + t]!;
        }
        const cs = c * (m + 1);
        for (let q = 0; q < nCat; q++) {
          const s = q * stride + r;
          p0 += slotProjection[cs + slots[s]!]!;
          p1 += slotProjection[cs + slots[s + 1]!]!;
          p2 += slotProjection[cs + slots[s + 2]!]!;
          p3 += slotProjection[cs + slots[s + 3]!]!;
        }
        c0 += p0 * p0;
        c1 += p1 * p1;
        c2 += p2 * p2;
        c3 += p3 * p3;
      }
      out[r] = Math.max(0, norm2[r]! - c0);
      out[r + 1] = Math.max(0, norm2[r + 1]! - c1);
      out[r + 2] = Math.max(0, norm2[r + 2]! - c2);
      out[r + 3] = Math.max(0, norm2[r + 3]! - c3);
    }
    for (; r < rows; r++) {
      const row = r * nNum;
      let captured = 0;
      for (let c = 0; c < k; c++) {
        let p = vDotA[c]!;
        const cn = c * nNum;
        for (let t = 0; t < nNum; t++) p += compNum[cn + t]! * b[row + t]!;
        const cs = c * (m + 1);
        for (let q = 0; q < nCat; q++) p += slotProjection[cs + slots[q * stride + r]!]!;
        captured += p * p;
      }
      out[r] = Math.max(0, norm2[r]! - captured);
    }
  }
}
