/**
 * @module explain/shapley
 * Exact interventional Shapley values over M features: every coalition S of features is
 * valued as v(S) = mean over the background rows b of f(x_S, b_S̄) — the row with the
 * features in S taken from x and the others from b — and
 *   φ_i = Σ_{S ⊆ M∖{i}} |S|! (M − |S| − 1)! / M! · (v(S ∪ {i}) − v(S)),
 * so Σφ = v(M) − v(∅) = f(x) − E_b[f] (efficiency) by construction. The caller evaluates
 * the model on the 2^M × |background| rows this asks for, in whatever batches it likes;
 * this file only does the bookkeeping, so it can be checked against brute force.
 */
import { BerthError } from '../errors.js';

/** Above this many features enumerating coalitions is too costly (2^M model rows per background row). */
export const MAX_EXACT_FEATURES = 16;

/** log(n!) for n ≤ MAX_EXACT_FEATURES, and the Shapley weight of a coalition of size s among m features. */
function weights(m: number): Float64Array {
  const fact = [1];
  for (let k = 1; k <= m; k++) fact.push(fact[k - 1]! * k);
  const w = new Float64Array(m);
  for (let s = 0; s < m; s++) w[s] = (fact[s]! * fact[m - s - 1]!) / fact[m]!;
  return w;
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
}

/**
 * Shapley values from the coalition values `v[mask]` (bit i set: feature i from x), for
 * `m` features: φ_i for every i. `v` has 2^m entries; v[0] = E[f], v[2^m − 1] = f(x).
 */
export function shapleyFromCoalitions(v: ArrayLike<number>, m: number): Float64Array {
  if (m > MAX_EXACT_FEATURES) throw new BerthError('BERTH_ERR_BAD_REQUEST', `exact Shapley values over ${m} features would need 2^${m} coalitions; at most ${MAX_EXACT_FEATURES}`);
  const n = 1 << m;
  if (v.length !== n) throw new BerthError('BERTH_ERR_INTERNAL', `expected ${n} coalition values, got ${v.length}`);
  const w = weights(m);
  const phi = new Float64Array(m);
  for (let mask = 0; mask < n; mask++) {
    const s = popcount(mask);
    for (let i = 0; i < m; i++) {
      const bit = 1 << i;
      if ((mask & bit) !== 0) continue;
      phi[i]! += w[s]! * (v[mask | bit]! - v[mask]!);
    }
  }
  return phi;
}

/**
 * The coalition values from the model's outputs on the coalition rows, laid out as
 * `rowOf(mask, b) = mask * background + b` (every coalition, then every background row).
 */
export function coalitionValues(outputs: ArrayLike<number>, m: number, background: number): Float64Array {
  const n = 1 << m;
  const v = new Float64Array(n);
  for (let mask = 0; mask < n; mask++) {
    let sum = 0;
    for (let b = 0; b < background; b++) sum += outputs[mask * background + b]!;
    v[mask] = sum / background;
  }
  return v;
}
