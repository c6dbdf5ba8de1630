/**
 * @module protocols/v1/routes
 * KServe V1 / TF Serving REST: `POST /v1/models/{m}:predict` (and `:explain`) and
 * `/v1/models/{m}/versions/{v}:predict` with `{"instances": [...]}` or `{"inputs": ...}`,
 * answering `{"predictions": [...]}` — one decision per row (class, positive-class
 * probability, outcome, anomaly flags, decision id); `GET /v1/models/{m}` (version status)
 * and `GET /v1/models/{m}/metadata` (the raw fields a record takes).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DECISION_ID_HEADER, decisionIdFor, type DecisionIdMode } from '../../decision/ids.js';
import type { RowDecision } from '../../decision/outcome.js';
import { decisionJson, prepareRecords, prepareTensors, type PreparedDecision } from '../../decision/path.js';
import { BerthError } from '../../errors.js';
import type { InferenceRequest } from '../../inference/types.js';
import type { ModelVersion } from '../../inference/model-version.js';
import type { ModelManager } from '../../repository/manager.js';
import { boundBody, maxInferBodyBytes } from '../v2/limits.js';
import { elapsedNs, recordServed, runPrepared, type ServeMonitor } from '../serve.js';
import { decodePredictRequest, unknownVerb } from './request.js';
import { checkExplainable, explainRows } from '../../explain/explain.js';

export interface V1Context {
  manager: ModelManager;
  monitor?: ServeMonitor;
  decisionIds: DecisionIdMode;
  /** The server's body limit; a predict body is further bounded by what its version can need. */
  bodyLimitBytes: number;
}

/** Generous JSON bytes for one raw record (names, values, an unseen category or two). */
const RECORD_BYTES = 16 * 1024;
const ENVELOPE_BYTES = 64 * 1024;

/** The largest predict body a version can need: its batch of records, or of its input's rows. */
function maxPredictBodyBytes(mv: ModelVersion, serverLimit: number): number {
  if (mv.transformer === undefined) return maxInferBodyBytes(mv.signature, serverLimit);
  return Math.min(serverLimit, Math.max(1, mv.signature.maxBatchSize) * RECORD_BYTES + ENVELOPE_BYTES);
}

type VerbParams = { model: string; version?: string };

/** `income:predict` → ['income', 'predict'] (model names hold no ':'). */
function splitVerb(s: string, what: string): [string, string] {
  const i = s.lastIndexOf(':');
  if (i <= 0) throw new BerthError('BERTH_ERR_NOT_FOUND', `POST /v1/models/{model}:predict: the ${what} must end in ':predict'`);
  return [s.slice(0, i), s.slice(i + 1)];
}

function bodyOf(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** A row's prediction as V1 answers it: the decision with its flags, or the raw outputs of a model with no known task. */
function predictionOf(d: RowDecision, prepared: PreparedDecision, outputs: Record<string, unknown[]> | undefined): Record<string, unknown> {
  const p = decisionJson(d, prepared.flags[d.row]);
  if (outputs !== undefined && d.class === undefined && d.value === undefined) p.outputs = Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v[d.row]]));
  return p;
}

function rowsOf(request: InferenceRequest, outputs: readonly { name: string; shape: number[]; data: ArrayLike<unknown> }[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const t of outputs) {
    const rows = request.batchSize;
    const width = rows === 0 ? 0 : t.data.length / rows;
    out[t.name] = Array.from({ length: rows }, (_, r) => Array.from({ length: width }, (_, k) => {
      const v = t.data[r * width + k];
      return typeof v === 'bigint' ? String(v) : v;
    }));
  }
  return out;
}

export function registerV1Routes(app: FastifyInstance, ctx: V1Context): void {
  const { manager } = ctx;

  const predict = async (req: FastifyRequest<{ Params: VerbParams }>, reply: FastifyReply) => {
    const t0 = process.hrtime.bigint();
    let model = req.params.model;
    let version = req.params.version;
    let verb: string;
    if (version === undefined) [model, verb] = splitVerb(model, 'model name');
    else [version, verb] = splitVerb(version, 'version');
    if (verb !== 'predict' && verb !== 'explain') throw unknownVerb(verb);
    const mv = manager.resolve(model, version);
    if (verb === 'explain') checkExplainable(mv);
    let prepared: PreparedDecision;
    let decisionId: string;
    try {
      const decoded = decodePredictRequest(bodyOf(req), mv.signature, mv.transformer !== undefined);
      decisionId = decisionIdFor(ctx.decisionIds, decoded.id, decoded.clientId, req.principal);
      const deadlineMs = mv.settings.batching.queueTimeoutMs > 0 ? performance.now() + mv.settings.batching.queueTimeoutMs : undefined;
      const base = { id: decoded.id, parameters: decoded.parameters, ...(decisionId === decoded.id ? {} : { decisionId }), ...(deadlineMs === undefined ? {} : { deadlineMs }) };
      if (decoded.records !== undefined) prepared = prepareRecords(mv, decoded.records, base, 'instances');
      else {
        const request: InferenceRequest = { ...base, inputs: decoded.inputs!, outputs: mv.signature.outputs.map((o) => o.name), batchSize: decoded.rows };
        prepared = prepareTensors(mv, request);
      }
    } catch (err) {
      mv.observe('invalid', elapsedNs(t0));
      throw err;
    }
    const { result, decisions } = await runPrepared(ctx.monitor, mv, prepared, t0, true);
    const raw = mv.task.kind === 'classification' || mv.task.kind === 'regression' ? undefined : rowsOf(prepared.request, result.outputs);
    let body: string;
    if (verb === 'explain') {
      const explanations = await explainRows(mv, prepared, decisions!);
      body = JSON.stringify({ explanations: explanations.map((e, i) => ({ ...e, prediction: predictionOf(decisions![i]!, prepared, raw) })) });
    } else body = JSON.stringify({ predictions: decisions!.map((d) => predictionOf(d, prepared, raw)) });
    await recordServed(ctx.monitor, mv, prepared, result, decisions, t0);
    if (ctx.monitor !== undefined) reply.header(DECISION_ID_HEADER, decisionId);
    return reply.type('application/json').send(body);
  };
  // Before the body is read: refuse what the version can never need (as V2 infer does).
  const limits = new WeakMap<ModelVersion, number>();
  const bodyLimit = {
    preParsing: async (req: FastifyRequest<{ Params: VerbParams }>, _reply: FastifyReply, payload: NodeJS.ReadableStream) => {
      const { model, version } = req.params;
      let mv: ModelVersion;
      try {
        mv = version === undefined ? manager.resolve(splitVerb(model, 'model name')[0]) : manager.resolve(model, splitVerb(version, 'version')[0]);
      } catch {
        return payload; // the handler answers with the reason
      }
      let limit = limits.get(mv);
      if (limit === undefined) limits.set(mv, (limit = maxPredictBodyBytes(mv, ctx.bodyLimitBytes)));
      return boundBody(req.headers, payload, limit, ctx.bodyLimitBytes, mv.model);
    },
  };
  app.post('/v1/models/:model', bodyLimit, predict);
  app.post('/v1/models/:model/versions/:version', bodyLimit, predict);

  // TF Serving's model status, with KServe V1's {name, ready}.
  const status = async (req: FastifyRequest<{ Params: VerbParams }>) => {
    const { model, version } = req.params;
    if (!manager.has(model)) manager.resolve(model); // 404 with the standard message
    const entries = manager.index().filter((e) => e.name === model && e.version !== undefined && (version === undefined || e.version === version));
    if (version !== undefined && entries.length === 0) manager.resolve(model, version);
    const ready = entries.some((e) => e.state === 'READY');
    return {
      name: model,
      ready,
      model_version_status: entries.map((e) => ({
        version: e.version,
        state: e.state === 'READY' ? 'AVAILABLE' : e.state === 'LOADING' ? 'LOADING' : e.state === 'UNAVAILABLE' ? 'UNAVAILABLE' : e.state,
        status: e.state === 'READY' ? { error_code: 'OK', error_message: '' } : { error_code: 'UNAVAILABLE', error_message: e.reason },
      })),
    };
  };
  app.get('/v1/models/:model', status);
  app.get('/v1/models/:model/versions/:version', status);

  // What a record of this model holds: its raw fields (names, types, categories) and outcome names.
  app.get('/v1/models/:model/metadata', async (req: FastifyRequest<{ Params: VerbParams }>) => {
    const mv = manager.resolve(req.params.model);
    const t = mv.transformer;
    return {
      name: mv.model,
      version: String(mv.version),
      takes: t === undefined ? 'tensors' : 'records',
      ...(t === undefined
        ? { inputs: mv.signature.inputs.map((s) => ({ name: s.name, datatype: s.datatype, shape: s.shape })) }
        : { fields: t.fields.filter((f) => f.used).map((f) => ({ name: f.name, type: f.type, ...(f.categories === undefined ? {} : { categories: f.categories }) })), preprocessing_hash: t.hash }),
      task: mv.task.kind,
      ...(mv.task.kind === 'classification' ? { classes: mv.task.classes } : {}),
      decision: mv.settings.decision,
      anomaly_policy: mv.settings.anomaly.policy,
    };
  });
}
