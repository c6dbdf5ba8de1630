/**
 * @module drift/multivariate
 * PCA reconstruction-error drift detector (after NannyML). Features are encoded once per
 * reference — numeric standardised by the reference mean/std (missing → 0), categorical
 * one-hot over the reference's most frequent categories — and the reference's sums and
 * cross-products of the encoded vectors are kept (mergeable: they add). From them the
 * correlation matrix, its eigenvectors (Jacobi) and the reference's mean squared
 * reconstruction error Σ_{k>K} λ_k follow exactly, so no reference rows are needed. A
 * current row's squared reconstruction error is computed with the reference's
 * components; the detector compares the current mean with the reference mean.
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

/**
 * Squared reconstruction error of encoded rows under a PCA fit, using sparsity: with
 * w = (z − μ)/σ = a + b, a = −μ/σ constant and b = z/σ sparse,
 * ‖w‖² = ‖a‖² + Σ_active (2·a_i·b_i + b_i²) and v·w = v·a + Σ_active v_i·b_i.
 */
export class ReconstructionError {
  private readonly pos: Int32Array; // encoded dim → position in kept, or −1
  private readonly aNorm2: number;
  private readonly vDotA: Float64Array;
  private readonly invSd: Float64Array;
  private readonly aVec: Float64Array;
  private readonly proj: Float64Array;

  constructor(readonly fit: PcaFit, dimension: number) {
    const m = fit.kept.length;
    this.pos = new Int32Array(dimension).fill(-1);
    fit.kept.forEach((i, a) => (this.pos[i] = a));
    this.invSd = new Float64Array(m);
    this.aVec = new Float64Array(m);
    let n2 = 0;
    for (let a = 0; a < m; a++) {
      this.invSd[a] = 1 / fit.sd[a]!;
      this.aVec[a] = -fit.mean[a]! / fit.sd[a]!;
      n2 += this.aVec[a]! ** 2;
    }
    this.aNorm2 = n2;
    this.vDotA = new Float64Array(fit.k);
    for (let c = 0; c < fit.k; c++) {
      let s = 0;
      for (let a = 0; a < m; a++) s += fit.components[c * m + a]! * this.aVec[a]!;
      this.vDotA[c] = s;
    }
    this.proj = new Float64Array(fit.k);
  }

  error(idx: Int32Array, val: Float64Array, active: number): number {
    const m = this.fit.kept.length;
    const comps = this.fit.components;
    let norm2 = this.aNorm2;
    const proj = this.proj;
    proj.set(this.vDotA);
    for (let t = 0; t < active; t++) {
      const a = this.pos[idx[t]!]!;
      if (a < 0) continue;
      const b = val[t]! * this.invSd[a]!;
      norm2 += 2 * this.aVec[a]! * b + b * b;
      for (let c = 0; c < proj.length; c++) proj[c] = proj[c]! + comps[c * m + a]! * b;
    }
    let captured = 0;
    for (let c = 0; c < proj.length; c++) captured += proj[c]! ** 2;
    return Math.max(0, norm2 - captured);
  }
}
