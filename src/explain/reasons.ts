/**
 * @module explain/reasons
 * Reason codes: the attributions that pushed a decision toward its outcome, as sentences a
 * person can read ("hours-per-week 20: lower than 80% of reference records; lowered
 * P(>50K) by 0.11"). Where a raw value sits is read from the version's reference profile
 * (the training data's distribution per raw field), so the words say how usual it is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { QuantileSketch, type QuantileSketchJson } from '../drift/sketch/kll.js';
import type { WeightedSample } from '../drift/stats/ecdf.js';
import { REFERENCE_PROFILE_FILE } from '../monitoring/reference.js';
import type { Attribution } from './tabular.js';

/** Per raw field: a numeric field's sorted sample, or a categorical field's shares. */
export type FieldDistribution = { kind: 'numeric'; sample: WeightedSample } | { kind: 'categorical'; share: ReadonlyMap<string, number> };

/** The raw fields' reference distributions from the reference.profile.json beside `modelFile` (empty when absent or unreadable). */
export function loadFieldDistributions(modelFile: string): Map<string, FieldDistribution> {
  const out = new Map<string, FieldDistribution>();
  const file = join(dirname(modelFile), REFERENCE_PROFILE_FILE);
  if (!existsSync(file)) return out;
  let columns: unknown;
  try {
    columns = (JSON.parse(readFileSync(file, 'utf8')) as { columns?: unknown }).columns;
  } catch {
    return out;
  }
  if (!Array.isArray(columns)) return out;
  for (const c of columns as Array<{ name?: unknown; role?: unknown; type?: unknown; sketch?: QuantileSketchJson; categories?: { counts?: [string, number][] } }>) {
    if (typeof c.name !== 'string' || c.role !== 'feature') continue;
    try {
      if (c.type === 'numeric' && c.sketch !== undefined) out.set(c.name, { kind: 'numeric', sample: QuantileSketch.fromJSON(c.sketch).toSample() });
      else if (c.type === 'categorical' && Array.isArray(c.categories?.counts)) {
        const counts = c.categories.counts;
        const total = counts.reduce((n, [, k]) => n + k, 0);
        if (total > 0) out.set(c.name, { kind: 'categorical', share: new Map(counts.map(([v, k]) => [v, k / total])) });
      }
    } catch {
      // A column the profile cannot describe just gets no position phrase.
    }
  }
  return out;
}

/** Weight of the sample strictly below and strictly above v, as fractions of the total. */
export function fractionsAround(s: WeightedSample, v: number): { below: number; above: number } {
  let below = 0;
  let above = 0;
  for (let i = 0; i < s.values.length; i++) {
    const w = s.weights === null ? 1 : s.weights[i]!;
    if (s.values[i]! < v) below += w;
    else if (s.values[i]! > v) above += w;
  }
  return { below: below / s.total, above: above / s.total };
}

const percent = (f: number): string => `${Math.round(f * 100)}%`;
const size = (x: number): string => (x >= 0.01 ? x.toFixed(2) : x.toPrecision(1));

/** Where a raw value sits in its field's reference distribution, in words. */
export function positionOf(d: FieldDistribution | undefined, value: unknown): string | undefined {
  if (d === undefined || value === null || value === undefined) return undefined;
  if (d.kind === 'categorical') return `shared by ${percent(d.share.get(String(value)) ?? 0)} of reference records`;
  const v = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(v)) return undefined;
  const { below, above } = fractionsAround(d.sample, v);
  if (below === 1) return 'higher than every reference record';
  if (above === 1) return 'lower than every reference record';
  if (below >= 0.5) return `higher than ${percent(below)} of reference records`;
  if (above >= 0.5) return `lower than ${percent(above)} of reference records`;
  return `near the middle of reference records`;
}

export interface Reason {
  feature: string;
  value: unknown;
  contribution: number;
  text: string;
}

/** Reasons given per decision. */
export const MAX_REASONS = 3;

/**
 * The attributions that pushed the explained output toward the decision (`towardHigher`:
 * the decision followed a high output, e.g. approved on P(>50K); false: a low one, e.g.
 * rejected), largest first, in words. `outputLabel` names the output ("P(>50K)").
 */
export function reasonsFor(attributions: readonly Attribution[], towardHigher: boolean, outputLabel: string, fields: ReadonlyMap<string, FieldDistribution>): Reason[] {
  return attributions
    .filter((a) => (towardHigher ? a.contribution > 0 : a.contribution < 0))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, MAX_REASONS)
    .map((a) => {
      const where = positionOf(fields.get(a.feature), a.value);
      const effect = `${a.contribution > 0 ? 'raised' : 'lowered'} ${outputLabel} by ${size(Math.abs(a.contribution))}`;
      return { feature: a.feature, value: a.value, contribution: a.contribution, text: `${a.feature} ${String(a.value)}: ${where === undefined ? '' : `${where}; `}${effect}` };
    });
}
