/**
 * @module decision/path
 * A version's decision path, protocol-independent: raw records → the version's pipeline
 * (transformer) → the anomaly layer → the model → decisions a person reads. Protocol
 * adapters (V1 `:predict`, V2 with content_type "pd", V2 tensors) decode their own formats
 * and call `prepareRecords` or `prepareTensors`, refuse what `refusalOf` says to refuse,
 * run `mv.infer`, and turn outputs into decisions with `decisionsOf`. Tensor requests skip
 * the pipeline and get the anomaly layer in input space.
 */
import type { AnomalyFlag } from '../anomaly/detector.js';
import { BerthError } from '../errors.js';
import type { ModelVersion } from '../inference/model-version.js';
import type { InferenceRequest, InferenceResult } from '../inference/types.js';
import type { RawRecord } from '../pipeline/transformer.js';
import type { DecisionDetail } from '../store/store.js';
import { decideRows, rowIds, type RowDecision } from './outcome.js';

/** At most this many offending fields are named in one refusal message (the rest are counted). */
const MAX_NAMED = 20;

/** A request ready for the model, with what the path learnt about its rows. */
export interface PreparedDecision {
  request: InferenceRequest;
  /** The raw records (raw-record requests only). */
  records?: readonly RawRecord[];
  /** Per row: the anomaly layer's flags (empty arrays when the layer is off or found nothing). */
  flags: AnomalyFlag[][];
  /** The pipeline the records went through. */
  pipeline?: { kind: string; hash: string };
  /** Whether the anomaly layer looked at the rows (raw records always get the field checks; tensors need a profile). */
  checked: boolean;
}

export interface RequestBase {
  id: string;
  decisionId?: string;
  deadlineMs?: number;
  parameters: Record<string, unknown>;
}

/** Refuses a request the version cannot take as raw records (no pipeline, empty, too many rows). */
function checkRecordRequest(mv: ModelVersion, records: readonly RawRecord[], where: string): void {
  if (mv.transformer === undefined) {
    throw new BerthError('BERTH_ERR_BAD_REQUEST', `model '${mv.model}' version ${mv.version} has no preprocessing spec, so it takes tensors only (send the model's inputs: ${mv.signature.inputs.map((s) => `${s.name} ${s.datatype} [${s.shape.join(', ')}]`).join(', ')})`);
  }
  if (records.length === 0) throw new BerthError('BERTH_ERR_BAD_REQUEST', `${where}: expected at least one record`);
  const max = mv.signature.maxBatchSize;
  if (max > 0 && records.length > max) throw new BerthError('BERTH_ERR_BAD_REQUEST', `${where}: ${records.length} records, more than the model's max_batch_size ${max}; split the request`);
  if (max === 0 && records.length > 1) throw new BerthError('BERTH_ERR_BAD_REQUEST', `${where}: ${records.length} records, but the model takes one row per request (max_batch_size 0)`);
}

/** Raw records through the version's pipeline and the anomaly layer. */
export function prepareRecords(mv: ModelVersion, records: readonly RawRecord[], base: RequestBase, where: string): PreparedDecision {
  checkRecordRequest(mv, records, where);
  const t = mv.transformer!;
  const encoded = t.encode(records);
  const rows = records.length;
  let flags: AnomalyFlag[][];
  if (mv.settings.anomaly.policy !== 'off' && mv.anomaly !== undefined) flags = mv.anomaly.check(encoded.inputs[0], rows, records, encoded.problems);
  else {
    // No profile (or the layer off): the pipeline's own field checks still run — a record that
    // cannot be encoded is never served; with the layer off only those blocking problems count.
    const off = mv.settings.anomaly.policy === 'off';
    flags = encoded.problems.map((ps) => ps.filter((p) => !off || p.blocking).map((p) => ({ kind: p.kind, field: p.field, value: p.value, message: p.message, blocking: p.blocking })));
  }
  const request: InferenceRequest = { id: base.id, inputs: encoded.inputs, outputs: mv.signature.outputs.map((o) => o.name), batchSize: rows, parameters: base.parameters };
  if (base.decisionId !== undefined) request.decisionId = base.decisionId;
  if (base.deadlineMs !== undefined) request.deadlineMs = base.deadlineMs;
  return { request, records, flags, pipeline: { kind: t.kind, hash: t.hash }, checked: mv.settings.anomaly.policy !== 'off' };
}

/** A decoded tensor request through the anomaly layer (in input space). */
export function prepareTensors(mv: ModelVersion, request: InferenceRequest): PreparedDecision {
  const rows = request.batchSize;
  const detector = mv.settings.anomaly.policy === 'off' ? undefined : mv.anomaly;
  const input = detector === undefined ? undefined : request.inputs.find((t) => t.name === detector.profile.input.name);
  const flags = detector === undefined ? Array.from({ length: rows }, () => []) : detector.check(input, rows);
  return { request, flags, checked: detector !== undefined };
}

function describe(prepared: PreparedDecision, pick: (f: AnomalyFlag) => boolean): string {
  const parts: string[] = [];
  let more = 0;
  const rows = prepared.flags.length;
  prepared.flags.forEach((flags, row) => {
    for (const f of flags) {
      if (!pick(f)) continue;
      if (parts.length < MAX_NAMED) parts.push(rows > 1 ? `row ${row}: ${f.message}` : f.message);
      else more++;
    }
  });
  return `${parts.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/**
 * Why the request must not reach the model, if it must not: a row that cannot be encoded
 * (always), or any flag under policy reject. Counts every checked row (berth_anomaly_rows_total)
 * and its flags (berth_anomalies_total) either way, when the layer is on.
 */
export function refusalOf(mv: ModelVersion, prepared: PreparedDecision): BerthError | undefined {
  let flagged = false;
  let blocking = false;
  const on = prepared.checked;
  for (const row of prepared.flags) {
    if (on) mv.countAnomalies(row);
    if (row.length === 0) continue;
    flagged = true;
    if (row.some((f) => f.blocking)) blocking = true;
  }
  if (blocking) return new BerthError('BERTH_ERR_INVALID_RECORD', `the record cannot be encoded for the model: ${describe(prepared, (f) => f.blocking)}`);
  if (flagged && mv.settings.anomaly.policy === 'reject') {
    return new BerthError('BERTH_ERR_ANOMALY_REJECTED', `refused by the anomaly policy (reject) of model '${mv.model}': ${describe(prepared, () => true)}`);
  }
  return undefined;
}

/** One decision per row, with its id (`<decision id>/<row>` for a batched request). */
export function decisionsOf(mv: ModelVersion, prepared: PreparedDecision, result: InferenceResult): RowDecision[] {
  const r = prepared.request;
  return decideRows(mv.task, mv.settings.decision, result.outputs, rowIds(r.decisionId ?? r.id, r.batchSize));
}

/** A decision as responses show it: what the person reads first, then the scores, then the flags. */
export function decisionJson(d: RowDecision, flags: readonly AnomalyFlag[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = { id: d.id };
  if (d.class !== undefined) out.class = d.class;
  if (d.outcome !== undefined) out.outcome = d.outcome;
  if (d.adverse !== undefined) out.adverse = d.adverse;
  if (d.probability !== undefined) out.probability = d.probability;
  if (d.probabilities !== undefined) out.probabilities = d.probabilities;
  if (d.value !== undefined) out.value = d.value;
  if (flags.length > 0) out.flags = flags.map(flagJson);
  return out;
}

/** A flag as a response and the decision log show it. */
export function flagJson(f: AnomalyFlag): { kind: string; field?: string; message: string; score?: number } {
  return { kind: f.kind, ...(f.field === undefined ? {} : { field: f.field }), message: f.message, ...(f.score === undefined ? {} : { score: f.score }) };
}

/** The short form stored in the decision log's `flags` column: `kind` or `kind:field`. */
export function flagKey(f: AnomalyFlag): string {
  return f.field === undefined ? f.kind : `${f.kind}:${f.field}`;
}

/** Row `row` of a prepared decision as the decision log's detail. */
export function detailOf(prepared: PreparedDecision, row: number, decision?: RowDecision): DecisionDetail {
  const d: DecisionDetail = {};
  const record = prepared.records?.[row];
  if (record !== undefined) d.record = { ...record };
  if (prepared.pipeline !== undefined) d.pipeline = prepared.pipeline;
  const flags = prepared.flags[row] ?? [];
  if (flags.length > 0) d.anomalies = flags.map(flagJson);
  if (decision !== undefined) {
    const shown: NonNullable<DecisionDetail['decision']> = {};
    if (decision.class !== undefined) shown.class = decision.class;
    if (decision.probability !== undefined) shown.probability = decision.probability;
    if (decision.outcome !== undefined) shown.outcome = decision.outcome;
    if (decision.adverse !== undefined) shown.adverse = decision.adverse;
    if (Object.keys(shown).length > 0) d.decision = shown;
  }
  return d;
}
