/**
 * @module explain/explain
 * Explanations of served decisions, protocol-independent: for each row of a prepared
 * decision, exact Shapley attributions on the version's raw fields (explain/tabular) of the
 * explained output — the positive class's score for a binary classifier, the predicted
 * class's otherwise, the value for a regressor — with its base value E[f] over the
 * version's background records. The coalition rows are built and run on its session worker (ModelVersion.scoreMasked).
 */
import type { PreparedDecision } from '../decision/path.js';
import type { RowDecision } from '../decision/outcome.js';
import { BerthError } from '../errors.js';
import type { ModelVersion } from '../inference/model-version.js';
import { decideRows } from '../decision/outcome.js';
import type { RawRecord } from '../pipeline/transformer.js';
import { findCounterfactual, type Counterfactual } from './counterfactual.js';
import { reasonsFor, type Reason } from './reasons.js';
import { explainTabular, fieldBlocks, type Explanation } from './tabular.js';

export interface RowExplanation {
  id: string;
  /** Which output (and class) is explained. */
  output: { name: string; class?: string };
  value: number;
  base_value: number;
  method: Explanation['method'];
  coalitions: number;
  background: number;
  attributions: Explanation['attributions'];
  /** The features that pushed the decision toward its outcome, in words (explain/reasons). */
  reasons: Reason[];
  /** Adverse decisions on raw records: the smallest change to actionable fields that flips it (explain/counterfactual). */
  counterfactual?: Counterfactual;
}

/** Runs changed raw records through the version's pipeline and model and decides them as served. */
function decider(mv: ModelVersion): (records: RawRecord[]) => Promise<Array<{ adverse: boolean; outcome?: string; probability?: number } | undefined>> {
  return async (records) => {
    const encoded = mv.transformer!.encode(records);
    const outputs = await mv.runRows(encoded.inputs);
    const decided = decideRows(mv.task, mv.settings.decision, outputs, records.map((_, i) => String(i)));
    return decided.map((d, i) => {
      if (encoded.problems[i]!.some((p) => p.blocking) || d.adverse === undefined) return undefined;
      const out: { adverse: boolean; outcome?: string; probability?: number } = { adverse: d.adverse };
      if (d.outcome !== undefined) out.outcome = d.outcome;
      if (d.probability !== undefined) out.probability = d.probability;
      return out;
    });
  };
}

/** Refuses what cannot be explained, saying why. */
export function checkExplainable(mv: ModelVersion): void {
  const spec = mv.preprocessing?.tabular;
  if (spec === undefined || mv.transformer?.kind !== 'tabular') {
    throw new BerthError('BERTH_ERR_EXPLAIN_UNAVAILABLE', `model '${mv.model}' version ${mv.version} cannot be explained: explanations are on raw fields and need a tabular preprocessing spec (region attributions for image and tensor models are not built yet)`);
  }
  if (mv.explainBackground === undefined) throw new BerthError('BERTH_ERR_EXPLAIN_UNAVAILABLE', `model '${mv.model}' version ${mv.version} cannot be explained: ${mv.explainNote}`);
  if (mv.task.kind === 'none') throw new BerthError('BERTH_ERR_EXPLAIN_UNAVAILABLE', `model '${mv.model}' version ${mv.version} cannot be explained: ${mv.task.reason}`);
}

/** Rows one request may ask to explain: each costs 2^fields × background model rows. */
export const MAX_EXPLAIN_ROWS = 8;

export async function explainRows(mv: ModelVersion, prepared: PreparedDecision, decisions: readonly RowDecision[]): Promise<RowExplanation[]> {
  checkExplainable(mv);
  if (decisions.length > MAX_EXPLAIN_ROWS) throw new BerthError('BERTH_ERR_BAD_REQUEST', `instances: ${decisions.length} rows to explain, at most ${MAX_EXPLAIN_ROWS} per request (each costs ${2 ** mv.preprocessing!.tabular!.features.length} × ${mv.explainBackground!.length / mv.preprocessing!.tabular!.featureCount} model rows)`);
  const spec = mv.preprocessing!.tabular!;
  const input = prepared.request.inputs[0]!;
  const width = spec.featureCount;
  const task = mv.task;
  const out: RowExplanation[] = [];
  const counterfactualOf = (raw: RawRecord): Promise<Counterfactual> => findCounterfactual({
    raw,
    fields: mv.transformer!.fields,
    distributions: mv.explainFields,
    immutable: new Set(mv.settings.explain.immutable),
    decide: decider(mv),
    favourable: mv.settings.decision.positiveOutcome ?? 'favourable',
  });
  for (const d of decisions) {
    const x = (input.data as Float32Array).subarray(d.row * width, (d.row + 1) * width);
    let output: RowExplanation['output'];
    let label: string;
    let towardHigher = true;
    let scored: { output: string; stride: number; index: number };
    if (task.kind === 'classification') {
      const k = task.classCount === 2 && task.positiveIndex !== undefined ? task.positiveIndex : Math.max(0, task.classes.indexOf(d.class ?? ''));
      output = { name: task.scoreOutput, class: task.classes[k]! };
      label = `P(${task.classes[k]!})`;
      // A binary decision went the positive class's way only when that class was predicted.
      if (task.classCount === 2 && task.positiveIndex !== undefined) towardHigher = d.class === task.classes[k];
      scored = { output: task.scoreOutput, stride: task.scoreWidth, index: k };
    } else if (task.kind === 'regression') {
      output = { name: task.valueOutput };
      label = task.valueOutput;
      // The value is the first element of each row's output.
      const dims = mv.signature.outputs.find((o) => o.name === task.valueOutput)?.shape.slice(1) ?? [];
      scored = { output: task.valueOutput, stride: dims.reduce<number>((a, n) => a * (n > 0 ? n : 1), 1), index: 0 };
    } else throw new BerthError('BERTH_ERR_EXPLAIN_UNAVAILABLE', task.reason);
    const job = { input: input.name, x: x.slice(), background: mv.explainBackground!, blocks: fieldBlocks(spec), ...scored };
    const e = await explainTabular(spec, prepared.records?.[d.row] ?? {}, mv.explainBackground!.length / width, (masks) => mv.scoreMasked({ ...job, masks }));
    const row: RowExplanation = { id: d.id, output, value: e.value, base_value: e.baseValue, method: e.method, coalitions: e.coalitions, background: e.background, attributions: e.attributions, reasons: reasonsFor(e.attributions, towardHigher, label, mv.explainFields) };
    const raw = prepared.records?.[d.row];
    if (d.adverse === true && raw !== undefined) {
      row.counterfactual = await counterfactualOf(raw);
    }
    out.push(row);
  }
  return out;
}
