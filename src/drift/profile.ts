/**
 * @module drift/profile
 * Reference profiles (`berth.profile/v2`): per column a mergeable summary — numbers: their
 * exact distinct values with counts (a KLL quantile sketch past `exactLimit` values) plus
 * count/mean/std/min/max; categories: exact counts (capped) — and missing/invalid counts;
 * plus the PCA moment matrix for the multivariate detector. Building is deterministic
 * (seeded sketch), two profiles merge, and drift checks need only the profile, never the
 * training rows. `berth.profile/v1` documents (KLL k = 200 past 2,048 values) are still
 * read; their tests are conservative by the sketch's rank error and the report says so.
 */
import { BerthError } from '../errors.js';
import { CategoryCounts, DEFAULT_CATEGORY_CAP, type CategoryCountsJson } from './sketch/categories.js';
import { DEFAULT_EXACT_LIMIT, DEFAULT_K, kllRankErrorBound, QuantileSketch, type QuantileSketchJson } from './sketch/kll.js';
import { Moments, type MomentsJson } from './sketch/moments.js';
import {
  encodingDimension,
  MAX_CATEGORIES_PER_COLUMN,
  MAX_DIMENSIONS,
  MomentMatrix,
  PcaMomentCollector,
  RowEncoder,
  type EncodedEntry,
  sameEncoding,
  type MultivariateEncoding,
  type MultivariateProfileJson,
} from './multivariate.js';
import { parseSchema, type ColumnSchema, type Schema } from './schema.js';
import { categoricalCell, numericCell, INVALID, MISSING, type NumericCell } from './values.js';

export const PROFILE_FORMAT = 'berth.profile/v2';
/** The previous format, still read (see parseProfile). */
export const PROFILE_FORMAT_V1 = 'berth.profile/v1';

/**
 * Values a profile keeps exactly across all its numeric columns while it is built (8 bytes
 * each): the per-column exact limit is this divided by the numeric columns, between 2,048
 * and DEFAULT_EXACT_LIMIT, so a 4,096-wide input cannot take gigabytes.
 */
export const EXACT_VALUE_BUDGET = 1 << 22;

/** The per-column exact limit a profile of `numericColumns` numeric columns uses by default. */
export function defaultExactLimit(numericColumns: number): number {
  return Math.max(2048, Math.min(DEFAULT_EXACT_LIMIT, Math.floor(EXACT_VALUE_BUDGET / Math.max(1, numericColumns))));
}

interface ColumnBase {
  name: string;
  role: ColumnSchema['role'];
  thresholds?: ColumnSchema['thresholds'];
  /** Rows seen (present + missing + invalid). */
  rows: number;
  missing: number;
  invalid: number;
}

export interface NumericColumnProfile extends ColumnBase {
  type: 'numeric';
  summary: MomentsJson;
  sketch: QuantileSketchJson;
}

export interface CategoricalColumnProfile extends ColumnBase {
  type: 'categorical';
  categories: CategoryCountsJson;
}

export type ColumnProfile = NumericColumnProfile | CategoricalColumnProfile;

export interface Profile {
  format: typeof PROFILE_FORMAT | typeof PROFILE_FORMAT_V1;
  rows: number;
  sketch: { kind: 'kll'; k: number; exactLimit: number; seed: number };
  missingTokens: string[];
  columns: ColumnProfile[];
  multivariate: MultivariateProfileJson | null;
  /** Notes on approximations made (e.g. a multivariate block dropped by a merge). */
  notes: string[];
}

export interface ProfileOptions {
  k?: number;
  exactLimit?: number;
  seed?: number;
  categoryCap?: number;
  /** Build the PCA block (collected in the same pass; rarely needs a second). Default true. */
  multivariate?: boolean;
}

/** In-memory state of one column while profiling (or while accumulating a window). */
export class ColumnBuilder {
  rows = 0;
  missing = 0;
  invalid = 0;
  readonly moments = new Moments();
  readonly sketch: QuantileSketch | null;
  readonly categories: CategoryCounts | null;

  constructor(
    readonly schema: ColumnSchema,
    private readonly missingTokens: ReadonlySet<string>,
    options: ProfileOptions,
  ) {
    this.sketch = schema.type === 'numeric' ? new QuantileSketch({ k: options.k ?? DEFAULT_K, exactLimit: options.exactLimit ?? DEFAULT_EXACT_LIMIT, seed: options.seed ?? 1 }) : null;
    this.categories = schema.type === 'categorical' ? new CategoryCounts(options.categoryCap ?? DEFAULT_CATEGORY_CAP) : null;
  }

  /** Counts a cell of a numeric column; returns what it counted as. */
  addNumeric(v: unknown): NumericCell {
    this.rows++;
    const x = numericCell(v, this.missingTokens);
    if (x === MISSING) this.missing++;
    else if (x === INVALID) this.invalid++;
    else {
      this.moments.add(x);
      this.sketch!.add(x);
    }
    return x;
  }

  /** Counts a cell of a categorical column; returns its category slot (−1: missing, or in "other"). */
  addCategory(v: unknown): number {
    this.rows++;
    const c = categoricalCell(v, this.missingTokens);
    if (c === MISSING) {
      this.missing++;
      return -1;
    }
    return this.categories!.add(c);
  }

  toProfile(): ColumnProfile {
    const base: ColumnBase = { name: this.schema.name, role: this.schema.role, rows: this.rows, missing: this.missing, invalid: this.invalid };
    if (this.schema.thresholds !== undefined) base.thresholds = this.schema.thresholds;
    if (this.sketch !== null) return { ...base, type: 'numeric', summary: this.moments.toJSON(), sketch: this.sketch.toJSON() };
    return { ...base, type: 'categorical', categories: this.categories!.toJSON() };
  }

  static fromProfile(col: ColumnProfile, missingTokens: ReadonlySet<string>): ColumnBuilder {
    const schema: ColumnSchema = { name: col.name, type: col.type, role: col.role };
    if (col.thresholds !== undefined) schema.thresholds = col.thresholds;
    const b = new ColumnBuilder(schema, missingTokens, col.type === 'numeric' ? { k: col.sketch.k, exactLimit: col.sketch.exactLimit, seed: col.sketch.seed } : { categoryCap: col.categories.cap });
    b.rows = col.rows;
    b.missing = col.missing;
    b.invalid = col.invalid;
    if (col.type === 'numeric') {
      b.moments.merge(Moments.fromJSON(col.summary));
      b.sketch!.merge(QuantileSketch.fromJSON(col.sketch));
    } else {
      b.categories!.merge(CategoryCounts.fromJSON(col.categories));
    }
    return b;
  }
}

/** Record → cell lookup: where each schema column sits in a CSV record. */
export function bindHeader(schema: Schema, header: readonly string[], where: string): Int32Array {
  const pos = new Map<string, number>();
  header.forEach((h, i) => {
    if (!pos.has(h)) pos.set(h, i);
  });
  const out = new Int32Array(schema.columns.length);
  schema.columns.forEach((c, i) => {
    const p = pos.get(c.name);
    if (p === undefined) throw new BerthError('BERTH_ERR_DRIFT_DATA', `${where}: column "${c.name}" from the schema is not in the header (header has: ${header.slice(0, 20).join(', ')}${header.length > 20 ? ', …' : ''})`);
    out[i] = p;
  });
  return out;
}

/**
 * One pass of profiling: column sketches and, in the same pass, the PCA moments
 * (PcaMomentCollector). With `inferTypes`, every column starts numeric and turns
 * categorical at its first cell that is neither missing nor a number — in place when it
 * had no numbers yet (the usual case: the first row shows it); otherwise
 * `needsRestart` is set and the rows must be profiled again with `schema`.
 */
export class ProfileBuilder {
  readonly columns: ColumnBuilder[];
  rows = 0;
  /** A column turned categorical after it had counted numbers: profile again with `schema`. */
  needsRestart = false;
  private readonly missing: Set<string>;
  private readonly isFeature: boolean[];
  private readonly lateCategorical: boolean[];
  private readonly pca: PcaMomentCollector | null;

  readonly options: ProfileOptions & { inferTypes?: boolean };

  constructor(schema: Schema, options: ProfileOptions & { inferTypes?: boolean } = {}) {
    this.options = options;
    this.missing = new Set(schema.missingTokens);
    if (options.exactLimit === undefined) {
      const numeric = schema.columns.filter((c) => c.type === 'numeric' && c.role !== 'ignore').length;
      this.options = options = { ...options, exactLimit: defaultExactLimit(numeric) };
    }
    this.columns = schema.columns.map((c) => new ColumnBuilder(c, this.missing, options));
    this.isFeature = schema.columns.map((c) => c.role === 'feature');
    this.lateCategorical = schema.columns.map(() => false);
    this.pca = options.multivariate === false ? null : new PcaMomentCollector(schema.columns.length);
    this.columns.forEach((c, i) => {
      if (!this.isFeature[i]) return;
      if (c.sketch !== null) this.pca?.declareNumeric(i);
      else this.pca?.declareCategorical(i);
    });
  }

  /** The schema as profiled (with inferred types once the pass is over). */
  get schema(): Schema {
    return {
      columns: this.columns.map((c, i) => (this.lateCategorical[i] && c.sketch !== null ? { ...c.schema, type: 'categorical' } : c.schema)),
      missingTokens: [...this.missing],
    };
  }

  /** Adds a CSV record; `positions` from bindHeader. */
  addRecord(fields: readonly string[], positions: Int32Array): void {
    this.rows++;
    for (let i = 0; i < this.columns.length; i++) this.addCell(i, fields[positions[i]!]);
    this.pca?.endRow();
  }

  /** Adds an object row keyed by column name. */
  addRow(row: Readonly<Record<string, unknown>>): void {
    this.rows++;
    for (let i = 0; i < this.columns.length; i++) this.addCell(i, row[this.columns[i]!.schema.name]);
    this.pca?.endRow();
  }

  /** Adds rows given as columns by name, all the same length (a missing column: every cell missing). */
  addColumns(columns: Readonly<Record<string, ArrayLike<unknown>>>): void {
    const arrays = this.columns.map((c) => columns[c.schema.name]);
    const length = arrays.reduce((n, a) => (a === undefined ? n : Math.max(n, a.length)), 0);
    for (const [i, a] of arrays.entries()) {
      if (a !== undefined && a.length !== length) throw new BerthError('BERTH_ERR_DRIFT_DATA', `addColumns: column "${this.columns[i]!.schema.name}" has ${a.length} values, others have ${length}`);
    }
    for (let r = 0; r < length; r++) {
      this.rows++;
      for (let i = 0; i < arrays.length; i++) this.addCell(i, arrays[i]?.[r]);
      this.pca?.endRow();
    }
  }

  private addCell(i: number, v: unknown): void {
    const c = this.columns[i]!;
    if (c.schema.role === 'ignore') return;
    if (c.sketch !== null) {
      const x = c.addNumeric(v);
      if (x === INVALID && this.options.inferTypes === true && !this.lateCategorical[i]) {
        // Not a number: the column is categorical. Cheap to switch while it has no numbers.
        if (c.moments.count === 0) return this.retypeAsCategorical(i, v);
        this.lateCategorical[i] = true;
        this.needsRestart = true;
      }
      if (this.isFeature[i]) this.pca?.numeric(i, typeof x === 'number' ? x : Number.NaN);
    } else {
      const slot = c.addCategory(v);
      if (this.isFeature[i]) this.pca?.category(i, slot);
    }
  }

  /** Column i (all missing so far) turns categorical at cell v. */
  private retypeAsCategorical(i: number, v: unknown): void {
    const old = this.columns[i]!;
    const c = new ColumnBuilder({ ...old.schema, type: 'categorical' }, this.missing, this.options);
    c.rows = old.rows - 1;
    c.missing = old.missing;
    this.columns[i] = c;
    if (this.isFeature[i]) this.pca?.declareCategorical(i);
    this.addCell(i, v);
  }

  /** The encoding the PCA block will use, chosen from this pass's statistics. */
  multivariateEncoding(): MultivariateEncoding | null {
    const numeric: MultivariateEncoding['numeric'] = [];
    const cats: { name: string; entries: [string, number][] }[] = [];
    for (const c of this.columns) {
      if (c.schema.role !== 'feature') continue;
      if (c.sketch !== null) {
        if (c.moments.count > 1 && c.moments.std > 0) numeric.push({ name: c.schema.name, center: c.moments.mean, scale: c.moments.std });
      } else {
        const entries = c.categories!.sorted();
        if (entries.length > 1) cats.push({ name: c.schema.name, entries: entries.slice(0, MAX_CATEGORIES_PER_COLUMN) });
      }
    }
    // Stay within MAX_DIMENSIONS: fewer one-hot categories per column (the rarest go first),
    // then fewer columns.
    const budget = MAX_DIMENSIONS - numeric.length;
    if (budget <= 0) return { numeric: numeric.slice(0, MAX_DIMENSIONS), categorical: [] };
    let perColumn = MAX_CATEGORIES_PER_COLUMN;
    while (perColumn > 1 && cats.reduce((a, c) => a + Math.min(c.entries.length, perColumn), 0) > budget) perColumn--;
    const categorical: MultivariateEncoding['categorical'] = [];
    let used = 0;
    for (const c of cats) {
      const take = c.entries.slice(0, perColumn).map(([v]) => v);
      if (used + take.length > budget) break;
      categorical.push({ name: c.name, categories: take });
      used += take.length;
    }
    const out = { numeric, categorical };
    return encodingDimension(out) === 0 ? null : out;
  }

  /** The PCA block from this pass, or null when the encoding needs something it did not track. */
  private multivariateFromPass(encoding: MultivariateEncoding): MultivariateProfileJson | null {
    if (this.pca === null) return null;
    const index = new Map(this.columns.map((c, i) => [c.schema.name, i]));
    const entries: EncodedEntry[] = [];
    for (const n of encoding.numeric) {
      const e = this.pca.numericEntry(index.get(n.name)!, n.center, n.scale);
      if (e === null) return null;
      entries.push(e);
    }
    for (const col of encoding.categorical) {
      const i = index.get(col.name)!;
      for (const v of col.categories) {
        const e = this.pca.categoryEntry(i, this.columns[i]!.categories!.slotOf(v));
        if (e === null) return null;
        entries.push(e);
      }
    }
    const { sums, products } = this.pca.momentsOf(entries);
    return { method: 'pca', encoding, n: this.pca.n, sums: Array.from(sums), products: Array.from(products) };
  }

  /**
   * Null when this pass has everything for the profile. Otherwise (rare: an encoded
   * category in a column with many distinct values was not tracked) a builder to feed
   * every row once more, then pass to toProfile.
   */
  secondPass(): MultivariateBuilder | null {
    if (this.options.multivariate === false) return null;
    const encoding = this.multivariateEncoding();
    if (encoding === null || this.multivariateFromPass(encoding) !== null) return null;
    return new MultivariateBuilder(this.schema, encoding);
  }

  toProfile(secondPass: MultivariateBuilder | null = null): Profile {
    if (this.needsRestart) throw new Error('ProfileBuilder.toProfile: a column changed type mid-pass; profile again with builder.schema');
    let multivariate: MultivariateProfileJson | null = null;
    if (secondPass !== null) multivariate = secondPass.toJSON();
    else if (this.options.multivariate !== false) {
      const encoding = this.multivariateEncoding();
      if (encoding !== null) {
        multivariate = this.multivariateFromPass(encoding);
        if (multivariate === null) throw new Error('ProfileBuilder.toProfile: the PCA block needs the second pass (see secondPass())');
      }
    }
    const { k = DEFAULT_K, exactLimit = DEFAULT_EXACT_LIMIT, seed = 1 } = this.options;
    return {
      format: PROFILE_FORMAT,
      rows: this.rows,
      sketch: { kind: 'kll', k, exactLimit, seed },
      missingTokens: [...this.missing],
      columns: this.columns.map((c) => c.toProfile()),
      multivariate,
      notes: [],
    };
  }
}

/** The fallback second pass: the PCA moment matrix under a fixed encoding. */
export class MultivariateBuilder {
  readonly encoder: RowEncoder;
  readonly matrix: MomentMatrix;
  private readonly numIdx: number[];
  private readonly catIdx: number[];
  private readonly numBuf: Float64Array;
  private readonly catBuf: (string | null)[];
  private readonly missing: Set<string>;

  constructor(
    readonly schema: Schema,
    readonly encoding: MultivariateEncoding,
  ) {
    this.encoder = new RowEncoder(encoding);
    this.matrix = new MomentMatrix(this.encoder.dimension);
    const byName = new Map(schema.columns.map((c, i) => [c.name, i]));
    this.numIdx = encoding.numeric.map((n) => byName.get(n.name)!);
    this.catIdx = encoding.categorical.map((c) => byName.get(c.name)!);
    this.numBuf = new Float64Array(this.numIdx.length);
    this.catBuf = this.catIdx.map(() => null);
    this.missing = new Set(schema.missingTokens);
  }

  /** Encodes a row given a cell getter by schema column index. */
  addCells(cell: (schemaIndex: number) => unknown): void {
    for (let i = 0; i < this.numIdx.length; i++) {
      const x = numericCell(cell(this.numIdx[i]!), this.missing);
      this.numBuf[i] = typeof x === 'number' ? x : Number.NaN;
    }
    for (let i = 0; i < this.catIdx.length; i++) this.catBuf[i] = categoricalCell(cell(this.catIdx[i]!), this.missing);
    const active = this.encoder.encode(this.numBuf, this.catBuf);
    this.matrix.addSparse(this.encoder.idx, this.encoder.val, active);
  }

  addRecord(fields: readonly string[], positions: Int32Array): void {
    this.addCells((i) => fields[positions[i]!]);
  }

  addRow(row: Readonly<Record<string, unknown>>): void {
    this.addCells((i) => row[this.schema.columns[i]!.name]);
  }

  toJSON(): MultivariateProfileJson {
    return { method: 'pca', encoding: this.encoding, n: this.matrix.n, sums: Array.from(this.matrix.sums), products: Array.from(this.matrix.products) };
  }
}

/** Profiles in-memory rows: one pass (a second only in the rare case secondPass() asks for it). */
export function profileRows(rows: readonly Readonly<Record<string, unknown>>[], schema: Schema, options: ProfileOptions = {}): Profile {
  const b = new ProfileBuilder(schema, options);
  for (const r of rows) b.addRow(r);
  const second = b.secondPass();
  if (second !== null) for (const r of rows) second.addRow(r);
  return b.toProfile(second);
}

/** The schema a profile was built with. */
export function schemaOfProfile(p: Profile): Schema {
  return {
    columns: p.columns.map((c) => {
      const s: ColumnSchema = { name: c.name, type: c.type, role: c.role };
      if (c.thresholds !== undefined) s.thresholds = c.thresholds;
      return s;
    }),
    missingTokens: [...p.missingTokens],
  };
}

/**
 * Merges two profiles of the same columns (replicas, time windows). Column sketches merge
 * exactly (counts, moments) or within the sketch bound (KLL). The PCA blocks merge exactly
 * when both used the same encoding; otherwise the larger one is kept and a note says so.
 */
export function mergeProfiles(a: Profile, b: Profile): Profile {
  const names = (p: Profile) => p.columns.map((c) => `${c.name}:${c.type}:${c.role}`).join(',');
  if (names(a) !== names(b)) throw new BerthError('BERTH_ERR_DRIFT_PROFILE', `cannot merge profiles with different columns (${names(a)} vs ${names(b)})`);
  if (a.sketch.k !== b.sketch.k) throw new BerthError('BERTH_ERR_DRIFT_PROFILE', `cannot merge profiles with sketch k=${a.sketch.k} and k=${b.sketch.k}`);
  const missing = new Set(a.missingTokens);
  const columns = a.columns.map((ca, i) => {
    const merged = ColumnBuilder.fromProfile(ca, missing);
    const other = ColumnBuilder.fromProfile(b.columns[i]!, missing);
    merged.rows += other.rows;
    merged.missing += other.missing;
    merged.invalid += other.invalid;
    merged.moments.merge(other.moments);
    if (merged.sketch !== null) merged.sketch.merge(other.sketch!);
    else merged.categories!.merge(other.categories!);
    return merged.toProfile();
  });
  const notes = [...a.notes, ...b.notes];
  let multivariate: MultivariateProfileJson | null = null;
  if (a.multivariate !== null && b.multivariate !== null && sameEncoding(a.multivariate.encoding, b.multivariate.encoding)) {
    multivariate = {
      method: 'pca',
      encoding: a.multivariate.encoding,
      n: a.multivariate.n + b.multivariate.n,
      sums: a.multivariate.sums.map((v, i) => v + b.multivariate!.sums[i]!),
      products: a.multivariate.products.map((v, i) => v + b.multivariate!.products[i]!),
    };
  } else if (a.multivariate !== null || b.multivariate !== null) {
    const keep = (a.multivariate?.n ?? 0) >= (b.multivariate?.n ?? 0) ? a.multivariate : b.multivariate;
    multivariate = keep;
    notes.push(`multivariate block taken from one input only (${keep?.n ?? 0} of ${a.rows + b.rows} rows): the inputs used different PCA encodings; build the second profile with the first one's encoding to merge exactly`);
  }
  return { format: PROFILE_FORMAT, rows: a.rows + b.rows, sketch: a.sketch, missingTokens: a.missingTokens, columns, multivariate, notes };
}

function pfail(where: string, msg: string): never {
  throw new BerthError('BERTH_ERR_DRIFT_PROFILE', `${where}: ${msg}`);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Validates a parsed profile document (structure and the invariants the detectors rely on). */
export function parseProfile(doc: unknown, where = 'profile'): Profile {
  if (typeof doc !== 'object' || doc === null) pfail(where, 'expected a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.format !== PROFILE_FORMAT && d.format !== PROFILE_FORMAT_V1) pfail(where, `"format" must be "${PROFILE_FORMAT}" (or the older "${PROFILE_FORMAT_V1}"), got ${JSON.stringify(d.format)}`);
  if (!isNum(d.rows) || d.rows < 0) pfail(where, '"rows" must be a non-negative number');
  if (!Array.isArray(d.columns)) pfail(where, '"columns" must be an array');
  // Reuse the schema validator for name/type/role/thresholds.
  parseSchema({ columns: d.columns.map((c: Record<string, unknown>) => ({ name: c?.name, type: c?.type, role: c?.role, ...(c?.thresholds === undefined ? {} : { thresholds: c.thresholds }) })) }, where);
  const sk = d.sketch as Profile['sketch'] | undefined;
  if (sk === undefined || sk.kind !== 'kll' || !isNum(sk.k)) pfail(where, '"sketch" must be {kind:"kll", k, exactLimit, seed}');
  (d.columns as Record<string, unknown>[]).forEach((c, i) => {
    const at = `${where}: columns[${i}] ("${String(c.name)}")`;
    for (const f of ['rows', 'missing', 'invalid']) if (!isNum(c[f]) || (c[f] as number) < 0) pfail(at, `"${f}" must be a non-negative number`);
    if (c.type === 'numeric') {
      const s = c.summary as MomentsJson | undefined;
      if (s === undefined || !isNum(s.count) || !isNum(s.mean) || !isNum(s.m2)) pfail(at, '"summary" must have count, mean, m2');
      try {
        const q = QuantileSketch.fromJSON(c.sketch as QuantileSketchJson);
        if (q.n !== s.count) pfail(at, `sketch holds ${q.n} values but summary.count is ${s.count}`);
      } catch (err) {
        if (err instanceof BerthError) throw err;
        pfail(at, `invalid "sketch": ${(err as Error).message}`);
      }
    } else {
      const cc = c.categories as CategoryCountsJson | undefined;
      if (cc === undefined || !Array.isArray(cc.counts) || !isNum(cc.other)) pfail(at, '"categories" must have counts and other');
      for (const e of cc.counts) if (!Array.isArray(e) || typeof e[0] !== 'string' || !isNum(e[1])) pfail(at, 'each categories.counts entry must be [value, count]');
    }
  });
  const mv = d.multivariate as MultivariateProfileJson | null | undefined;
  if (mv !== null && mv !== undefined) {
    const dim = encodingDimension(mv.encoding);
    if (mv.method !== 'pca' || mv.sums?.length !== dim || mv.products?.length !== (dim * (dim + 1)) / 2) pfail(where, '"multivariate" block is inconsistent with its encoding');
  }
  const notes = Array.isArray(d.notes) ? [...(d.notes as string[])] : [];
  if (d.format === PROFILE_FORMAT_V1 && (d.columns as Record<string, unknown>[]).some((c) => c.type === 'numeric' && (c.sketch as QuantileSketchJson).levels !== undefined)) {
    // Still usable, but its KLL sketches (k = 200) cost the KS tests power: say how to fix it.
    notes.push(`${where} is a ${PROFILE_FORMAT_V1} profile whose numeric columns are KLL sketches (rank error up to ${(100 * Math.max(...(d.columns as Record<string, unknown>[]).filter((c) => c.type === 'numeric').map((c) => (c.sketch as QuantileSketchJson).levels === undefined ? 0 : kllRankErrorBound((c.sketch as QuantileSketchJson).k)))).toFixed(2)} %): p-values are computed at D − ε and lose power; rebuild it (berth reference <model-version-dir> … or berth profile …) for exact reference ECDFs`);
  }
  return { ...(d as unknown as Profile), multivariate: mv ?? null, notes, missingTokens: Array.isArray(d.missingTokens) ? (d.missingTokens as string[]) : ['', '?', 'NA', 'NaN', 'null'] };
}
