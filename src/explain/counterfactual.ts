/**
 * @module explain/counterfactual
 * For an adverse decision, the smallest change to actionable raw fields that flips it
 * ("would be approved with capital-gain 7688 (instead of 0)"). Candidate values are values
 * seen in the version's reference data (quantiles of a numeric field, the categories of a
 * categorical one); fields the model config names immutable or protected are never changed.
 * One field at a time first, then pairs; every candidate record goes through the version's
 * own pipeline and model, so the flip is the served decision's, threshold included.
 */
import type { WeightedSample } from '../drift/stats/ecdf.js';
import type { RawField, RawRecord } from '../pipeline/transformer.js';
import { fractionsAround, type FieldDistribution } from './reasons.js';

export interface Change {
  feature: string;
  from: unknown;
  to: number | string;
}

export interface Counterfactual {
  /** Empty when no change of one or two actionable fields flips the decision. */
  changes: Change[];
  /** The outcome the changed record gets. */
  outcome?: string;
  /** Its positive-class probability (binary classifiers). */
  probability?: number;
  text: string;
}

/** Candidate values tried per numeric field alone, and per field in pairs. */
const SINGLE_QUANTILES = 40;
const PAIR_CANDIDATES = 8;

/** The weighted sample's value at quantile p (the smallest value with at least p of the weight at or below it). */
export function quantileOf(s: WeightedSample, p: number): number {
  const target = p * s.total;
  let seen = 0;
  for (let i = 0; i < s.values.length; i++) {
    seen += s.weights === null ? 1 : s.weights[i]!;
    if (seen >= target) return s.values[i]!;
  }
  return s.values[s.values.length - 1]!;
}

interface Candidate {
  feature: string;
  to: number | string;
  /** How far the change moves the person: the share of reference records between old and new value (numeric), 1 for another category. */
  cost: number;
}

/** Values a field may take instead of `from`, cheapest first. */
export function candidatesFor(field: string, d: FieldDistribution, from: unknown, limit: number): Candidate[] {
  const out: Candidate[] = [];
  if (d.kind === 'categorical') {
    const byShare = [...d.share.entries()].filter(([v]) => v !== String(from)).sort((a, b) => b[1] - a[1]);
    for (const [v] of byShare.slice(0, limit)) out.push({ feature: field, to: v, cost: 1 });
    return out;
  }
  const x = typeof from === 'number' ? from : Number(from);
  const seen = new Set<number>();
  for (let q = 1; q < limit; q++) {
    const v = quantileOf(d.sample, q / limit);
    if (seen.has(v) || v === x) continue;
    seen.add(v);
    out.push({ feature: field, to: v, cost: Number.isFinite(x) ? rankDistance(d.sample, x, v) : 1 });
  }
  for (const v of [d.sample.values[0]!, d.sample.values[d.sample.values.length - 1]!]) {
    if (!seen.has(v) && v !== x) out.push({ feature: field, to: v, cost: Number.isFinite(x) ? rankDistance(d.sample, x, v) : 1 });
  }
  return out.sort((a, b) => a.cost - b.cost);
}

/** Mid-rank of v in the sample: the share below it plus half the share at it. */
function midRank(s: WeightedSample, v: number): number {
  const { below, above } = fractionsAround(s, v);
  return below + (1 - below - above) / 2;
}

function rankDistance(s: WeightedSample, a: number, b: number): number {
  return Math.abs(midRank(s, b) - midRank(s, a));
}

export interface CounterfactualInputs {
  raw: RawRecord;
  fields: readonly RawField[];
  distributions: ReadonlyMap<string, FieldDistribution>;
  immutable: ReadonlySet<string>;
  /** Runs changed records through the version's pipeline and model: per record, whether its decision is still adverse, with its outcome and probability; undefined for a record the pipeline refuses. */
  decide: (records: RawRecord[]) => Promise<Array<{ adverse: boolean; outcome?: string; probability?: number } | undefined>>;
  /** The favourable outcome's name, for the sentence. */
  favourable: string;
}

const show = (v: unknown): string => (typeof v === 'string' ? v : String(v));

function sentence(changes: Change[], outcome: string): string {
  return `would be ${outcome} with ${changes.map((c) => `${c.feature} ${show(c.to)} (instead of ${show(c.from)})`).join(' and ')}`;
}

/** The cheapest flip by one field, else by two; `changes: []` when none is found among reference values. */
export async function findCounterfactual(c: CounterfactualInputs): Promise<Counterfactual> {
  const actionable = c.fields.filter((f) => f.used && !c.immutable.has(f.name) && c.distributions.has(f.name));
  const candidates = (limit: number): Candidate[][] => actionable.map((f) => candidatesFor(f.name, c.distributions.get(f.name)!, c.raw[f.name], limit));
  const perField = candidates(SINGLE_QUANTILES);
  const tryAll = async (sets: Candidate[][]): Promise<Counterfactual | undefined> => {
    if (sets.length === 0) return undefined;
    const records = sets.map((set) => {
      const r: Record<string, unknown> = { ...c.raw };
      for (const k of set) r[k.feature] = k.to;
      return r;
    });
    const decided = await c.decide(records);
    let best = -1;
    let bestCost = Infinity;
    decided.forEach((d, i) => {
      const cost = sets[i]!.reduce((n, k) => n + k.cost, 0);
      if (d !== undefined && !d.adverse && cost < bestCost) {
        best = i;
        bestCost = cost;
      }
    });
    if (best < 0) return undefined;
    const changes = sets[best]!.map((k) => ({ feature: k.feature, from: c.raw[k.feature] ?? null, to: k.to }));
    const d = decided[best]!;
    const out: Counterfactual = { changes, text: sentence(changes, d.outcome ?? c.favourable) };
    if (d.outcome !== undefined) out.outcome = d.outcome;
    if (d.probability !== undefined) out.probability = d.probability;
    return out;
  };
  const single = await tryAll(perField.flat().map((k) => [k]));
  if (single !== undefined) return single;
  // Pairs over a coarser grid (8 quantiles or the 8 commonest categories per field).
  const coarse = candidates(PAIR_CANDIDATES);
  const pairs: Candidate[][] = [];
  for (let i = 0; i < coarse.length; i++) {
    for (let j = i + 1; j < coarse.length; j++) {
      for (const a of coarse[i]!) for (const b of coarse[j]!) pairs.push([a, b]);
    }
  }
  const pair = await tryAll(pairs);
  if (pair !== undefined) return pair;
  return { changes: [], text: `no change of one or two actionable fields (${actionable.map((f) => f.name).join(', ') || 'none'}) to values seen in the reference data flips this decision` };
}
