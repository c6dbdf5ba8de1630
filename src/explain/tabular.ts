/**
 * @module explain/tabular
 * Shapley attributions on the raw fields of a tabular model version: a coalition hides
 * fields by taking their encoded slots from a background record instead (a one-hot field
 * moves as one block, so `workclass` gets one value, not nine). The rows of every
 * coalition × background record are built in the version's session worker from the masks
 * sent there (runtime/messages MaskedRowsJob), and only one score per row comes back.
 */
import { BerthError } from '../errors.js';
import type { TabularSpec } from '../preprocessing/tabular.js';
import { coalitionValues, MAX_EXACT_FEATURES, shapleyFromCoalitions } from './shapley.js';

export interface Attribution {
  feature: string;
  /** The raw value the record had. */
  value: unknown;
  contribution: number;
}

export interface Explanation {
  method: 'exact';
  /** Coalitions evaluated (2^features) and background records averaged over. */
  coalitions: number;
  background: number;
  /** f(x) for the explained output, and E[f] over the background. */
  value: number;
  baseValue: number;
  /** Largest |contribution| first. */
  attributions: Attribution[];
}

/**
 * Coalition × background rows per worker call (the worker runs queued batches in between).
 * The worker runs only the distinct ones, usually a fraction of these.
 */
const CHUNK_ROWS = 32_768;

/**
 * Scores the rows of coalitions (masks: one byte per feature, 1 = from the record) × every
 * background row, in mask-major order: ModelVersion.scoreMasked with the record, background,
 * blocks and explained output filled in.
 */
export type CoalitionScorer = (masks: Uint8Array) => Promise<Float64Array>;

/** The record's raw fields as the worker's masking blocks: (offset, width) per field. */
export function fieldBlocks(spec: TabularSpec): Int32Array {
  return Int32Array.from(spec.features.flatMap((f) => [f.offset, f.width]));
}

/**
 * Exact Shapley values of the explained output for one record (its raw record `raw`), with
 * `background` rows of `width` standing in for hidden fields; `scoreRows` runs coalitions.
 */
export async function explainTabular(
  spec: TabularSpec,
  raw: Readonly<Record<string, unknown>>,
  backgroundRows: number,
  scoreRows: CoalitionScorer,
): Promise<Explanation> {
  const features = spec.features;
  const m = features.length;
  if (m > MAX_EXACT_FEATURES) throw new BerthError('BERTH_ERR_BAD_REQUEST', `the model has ${m} raw fields; exact Shapley values go up to ${MAX_EXACT_FEATURES}`);
  const b = backgroundRows;
  if (b < 1 || !Number.isInteger(b)) throw new BerthError('BERTH_ERR_INTERNAL', 'the explanation background has no rows');
  const n = 1 << m;
  const outputs = new Float64Array(n * b);
  const perCall = Math.max(1, Math.floor(CHUNK_ROWS / b));
  for (let first = 0; first < n; first += perCall) {
    const count = Math.min(perCall, n - first);
    const masks = new Uint8Array(count * m);
    for (let c = 0; c < count; c++) {
      const mask = first + c;
      for (let i = 0; i < m; i++) masks[c * m + i] = (mask >> i) & 1;
    }
    outputs.set(await scoreRows(masks), first * b);
  }
  const v = coalitionValues(outputs, m, b);
  const phi = shapleyFromCoalitions(v, m);
  const attributions = features.map((f, i) => ({ feature: f.column, value: raw[f.column] ?? null, contribution: phi[i]! }));
  attributions.sort((a, c) => Math.abs(c.contribution) - Math.abs(a.contribution));
  return { method: 'exact', coalitions: n, background: b, value: v[n - 1]!, baseValue: v[0]!, attributions };
}
