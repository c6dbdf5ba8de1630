/**
 * @module protocols/serve
 * The part of an inference every protocol adapter shares, once it has decoded a request
 * into a prepared decision (decision/path): refuse what the decision path refuses, run the
 * model, count the outcome, and tell monitoring — refused and failed requests are logged
 * with their reason, shed ones only counted.
 */
import { isBerthError } from '../errors.js';
import type { ModelVersion } from '../inference/model-version.js';
import type { InferenceResult } from '../inference/types.js';
import type { RequestOutcome } from '../metrics/server-metrics.js';
import type { Monitor } from '../monitoring/monitor.js';
import { decisionsOf, refusalOf, type PreparedDecision } from '../decision/path.js';
import type { RowDecision } from '../decision/outcome.js';

export type ServeMonitor = Pick<Monitor, 'recordSuccess' | 'recordFailure' | 'recordRefusal'>;

export function outcomeOf(err: unknown): RequestOutcome {
  if (!isBerthError(err)) return 'error';
  if (err.code === 'BERTH_ERR_QUEUE_FULL' || err.code === 'BERTH_ERR_OVERLOADED' || err.code === 'BERTH_ERR_MODEL_NOT_READY' || err.code === 'BERTH_ERR_SHUTTING_DOWN') return 'rejected';
  if (err.code === 'BERTH_ERR_DEADLINE_EXCEEDED') return 'timeout';
  return err.status < 500 ? 'invalid' : 'error';
}

export function elapsedNs(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0);
}

/** Runs a prepared decision through the model; throws the refusal or the failure after counting and logging it. */
export async function runPrepared(monitor: ServeMonitor | undefined, mv: ModelVersion, prepared: PreparedDecision, t0: bigint, decide: boolean): Promise<{ result: InferenceResult; decisions: RowDecision[] | undefined }> {
  const refusal = refusalOf(mv, prepared);
  if (refusal !== undefined) {
    const ns = elapsedNs(t0);
    mv.observe('invalid', ns);
    monitor?.recordRefusal(mv, prepared, refusal, ns / 1e6);
    throw refusal;
  }
  let result: InferenceResult;
  try {
    result = await mv.infer(prepared.request);
  } catch (err) {
    const outcome = outcomeOf(err);
    const ns = elapsedNs(t0);
    mv.observe(outcome, ns);
    if (outcome !== 'invalid') monitor?.recordFailure(mv);
    // Shed requests (overload) are counted, not logged: logging them would load the store when it can least afford it.
    if (outcome !== 'rejected') monitor?.recordRefusal(mv, prepared, err, ns / 1e6);
    throw err;
  }
  return { result, decisions: decide ? decisionsOf(mv, prepared, result) : undefined };
}

/** Counts a served request and hands it to monitoring; with store.durability sync, resolves once the decision is durable. */
export async function recordServed(monitor: ServeMonitor | undefined, mv: ModelVersion, prepared: PreparedDecision, result: InferenceResult, decisions: RowDecision[] | undefined, t0: bigint): Promise<void> {
  const ns = elapsedNs(t0);
  mv.observe('success', ns, result, prepared.request.batchSize);
  await monitor?.recordSuccess(mv, prepared.request, result, ns / 1e6, prepared, decisions);
}
