/**
 * @module explain/tabular
 * Shapley attributions on the raw fields of a tabular model version: a coalition hides
 * fields by taking their encoded slots from a background record instead (a one-hot field
 * moves as one block, so `workclass` gets one value, not nine). The rows of every
 * coalition × background record are built from the encoded record and background once,
 * then run through the version's model in large batches on its session worker.
 */
import { BerthError } from '../errors.js';
import type { Tensor } from '../inference/types.js';
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

/** Rows per model call when evaluating coalitions. */
const CHUNK_ROWS = 8192;

/**
 * Exact Shapley values of `score(outputs, row)` for one encoded record `x` (its raw record
 * `raw`), with the encoded `background` rows (count × width) standing in for hidden fields.
 */
export async function explainTabular(
  spec: TabularSpec,
  x: Float32Array,
  raw: Readonly<Record<string, unknown>>,
  background: Float32Array,
  run: (rows: Float32Array, count: number) => Promise<Tensor[]>,
  score: (outputs: readonly Tensor[], row: number) => number,
): Promise<Explanation> {
  const features = spec.features;
  const m = features.length;
  if (m > MAX_EXACT_FEATURES) throw new BerthError('BERTH_ERR_BAD_REQUEST', `the model has ${m} raw fields; exact Shapley values go up to ${MAX_EXACT_FEATURES}`);
  const width = spec.featureCount;
  const b = background.length / width;
  if (b < 1 || !Number.isInteger(b)) throw new BerthError('BERTH_ERR_INTERNAL', 'the explanation background has no rows');
  const n = 1 << m;
  const total = n * b;
  const outputs = new Float64Array(total);
  for (let start = 0; start < total; start += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, total - start);
    const rows = new Float32Array(count * width);
    for (let k = 0; k < count; k++) {
      const r = start + k;
      const mask = Math.floor(r / b);
      const bg = r % b;
      const at = k * width;
      rows.set(background.subarray(bg * width, (bg + 1) * width), at);
      for (let i = 0; i < m; i++) {
        if ((mask & (1 << i)) === 0) continue;
        const f = features[i]!;
        rows.set(x.subarray(f.offset, f.offset + f.width), at + f.offset);
      }
    }
    const out = await run(rows, count);
    for (let k = 0; k < count; k++) outputs[start + k] = score(out, k);
  }
  const v = coalitionValues(outputs, m, b);
  const phi = shapleyFromCoalitions(v, m);
  const attributions = features.map((f, i) => ({ feature: f.column, value: raw[f.column] ?? null, contribution: phi[i]! }));
  attributions.sort((a, c) => Math.abs(c.contribution) - Math.abs(a.contribution));
  return { method: 'exact', coalitions: n, background: b, value: v[n - 1]!, baseValue: v[0]!, attributions };
}
