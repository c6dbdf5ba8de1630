/**
 * @module drift/stats/multiple
 * Multiple-testing corrections: adjusted p-values for Bonferroni (family-wise error) and
 * Benjamini–Hochberg (false discovery rate; the step-up adjusted values, as R's
 * `p.adjust(method = "BH")`).
 */

export type Correction = 'bonferroni' | 'bh' | 'none';

/** Adjusted p-values in the input order. */
export function adjustPValues(pValues: readonly number[], method: Correction): number[] {
  const m = pValues.length;
  if (method === 'none' || m === 0) return pValues.slice();
  if (method === 'bonferroni') return pValues.map((p) => Math.min(1, p * m));
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[b]! - pValues[a]!); // descending p
  const out = new Array<number>(m);
  let running = 1;
  order.forEach((idx, k) => {
    const rank = m - k; // rank of this p among ascending order
    running = Math.min(running, (pValues[idx]! * m) / rank);
    out[idx] = Math.min(1, running);
  });
  return out;
}
