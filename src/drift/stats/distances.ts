/**
 * @module drift/stats/distances
 * Effect sizes between two binned distributions (counts over the same bins): Population
 * Stability Index, Jensen–Shannon distance (log base 2, so it lies in [0, 1]) and
 * Hellinger distance (in [0, 1]). Also the Wasserstein-1 distance normalised by the
 * reference standard deviation. None returns NaN: empty inputs give 0 with no signal.
 */
import { wasserstein1, type WeightedSample } from './ecdf.js';

/** Proportions of a count vector (all zeros when the total is 0). */
export function proportions(counts: ArrayLike<number>): Float64Array {
  let t = 0;
  for (let i = 0; i < counts.length; i++) t += counts[i]!;
  const out = new Float64Array(counts.length);
  if (t > 0) for (let i = 0; i < counts.length; i++) out[i] = counts[i]! / t;
  return out;
}

/** Floor used for empty bins in PSI (Evidently's convention), so ln(0) never appears. */
export const PSI_EMPTY_BIN = 1e-4;

/**
 * Population Stability Index Σ (c − r)·ln(c / r) over bin proportions, empty bins floored
 * at `PSI_EMPTY_BIN`.
 */
export function psi(refCounts: ArrayLike<number>, curCounts: ArrayLike<number>): number {
  const r = proportions(refCounts);
  const c = proportions(curCounts);
  let sum = 0;
  for (let i = 0; i < r.length; i++) {
    const ri = Math.max(r[i]!, PSI_EMPTY_BIN);
    const ci = Math.max(c[i]!, PSI_EMPTY_BIN);
    sum += (ci - ri) * Math.log(ci / ri);
  }
  return sum;
}

/** Jensen–Shannon distance with log base 2 (scipy `jensenshannon(p, q, base=2)`). */
export function jensenShannon(refCounts: ArrayLike<number>, curCounts: ArrayLike<number>): number {
  const p = proportions(refCounts);
  const q = proportions(curCounts);
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i]! + q[i]!) / 2;
    if (p[i]! > 0) js += p[i]! * Math.log(p[i]! / m);
    if (q[i]! > 0) js += q[i]! * Math.log(q[i]! / m);
  }
  js = js / 2 / Math.LN2;
  return Math.sqrt(Math.max(0, Math.min(1, js)));
}

/** Hellinger distance sqrt(1 − Σ √(p·q)), in [0, 1]. */
export function hellinger(refCounts: ArrayLike<number>, curCounts: ArrayLike<number>): number {
  const p = proportions(refCounts);
  const q = proportions(curCounts);
  let bc = 0;
  for (let i = 0; i < p.length; i++) bc += Math.sqrt(p[i]! * q[i]!);
  return Math.sqrt(Math.max(0, 1 - bc));
}

export interface NormalizedWasserstein {
  value: number;
  raw: number;
  reason?: string;
}

/**
 * Wasserstein-1 distance divided by the reference standard deviation (population, ddof 0).
 * A constant reference has no scale: the distance is then 0 if the current sample has the
 * same single value and 1 (saturated) otherwise, with a reason.
 */
export function normalizedWasserstein(ref: WeightedSample, cur: WeightedSample, refStd: number): NormalizedWasserstein {
  const raw = wasserstein1(ref, cur);
  if (ref.total <= 0 || cur.total <= 0) return { value: 0, raw, reason: 'empty sample' };
  if (!(refStd > 0)) return raw === 0 ? { value: 0, raw, reason: 'constant reference' } : { value: 1, raw, reason: 'constant reference: any change counts as full effect' };
  return { value: raw / refStd, raw };
}
