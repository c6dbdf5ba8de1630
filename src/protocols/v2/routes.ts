/**
 * @module protocols/v2/routes
 * The Open Inference Protocol (KServe V2) REST endpoints: server and model metadata,
 * health, infer (JSON and the binary tensor data extension), Triton's model_repository,
 * model_configuration and statistics extensions.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, isBerthError } from '../../errors.js';
import type { ModelVersion } from '../../inference/model-version.js';
import type { InferenceRequest } from '../../inference/types.js';
import { decisionJson, flagJson, prepareRecords, prepareTensors, type PreparedDecision } from '../../decision/path.js';
import { recordServed, runPrepared, type ServeMonitor } from '../serve.js';
import { checkExplainable, explainRows } from '../../explain/explain.js';
import { rowIds, type RowDecision } from '../../decision/outcome.js';
import { DECISION_ID_HEADER, decisionIdFor, type DecisionIdMode } from '../../decision/ids.js';
import type { ModelManager } from '../../repository/manager.js';
import { admissionHooks } from '../../server/admission.js';
import { boundBody, maxInferBodyBytes } from './limits.js';
import { decodeInferRequest } from './request.js';
import { encodeInferResponse } from './response.js';
import { tritonModelConfig } from './triton.js';

export const V2_EXTENSIONS = ['binary_tensor_data', 'model_repository', 'model_configuration', 'statistics', 'classification', 'parameters'] as const;

export interface V2Context {
  manager: ModelManager;
  serverName: string;
  serverVersion: string;
  /** Whether the first repository sync has finished. */
  started: () => boolean;
  /** Who may call load/unload is decided by security/scopes; this only switches them off. */
  repositoryApi: { enabled: boolean };
  /** Live monitoring: told about every finished inference (blocks the response only with store.durability: sync). */
  monitor?: ServeMonitor;
  /** The server's body limit; an infer body is further bounded by what its version's signature can need. */
  bodyLimitBytes: number;
  /** How decision ids are chosen (monitoring.decisionIds). */
  decisionIds: DecisionIdMode;
}

type ModelParams = { model: string; version?: string };

/** Content types an infer body may come with (security/request-checks refuses the others first). */
const INFER_CONTENT_TYPES = new Set(['application/json', 'application/octet-stream']);

function mediaType(req: FastifyRequest): string | undefined {
  const ct = req.headers['content-type'];
  return ct === undefined ? undefined : ct.split(';')[0]!.trim().toLowerCase();
}

function headerLength(req: FastifyRequest): number | undefined {
  const raw = req.headers['inference-header-content-length'];
  if (raw === undefined) return undefined;
  const s = Array.isArray(raw) ? raw[0]! : raw;
  if (!/^\d{1,12}$/.test(s.trim())) throw new BerthError('BERTH_ERR_BINARY_DATA', `Inference-Header-Content-Length: expected a non-negative integer, got '${s}'`);
  return Number(s);
}

function bodyOf(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

function modelMetadata(manager: ModelManager, v: ModelVersion, allVersions: boolean, bodyLimitBytes: number): object {
  return {
    name: v.model,
    versions: allVersions ? manager.readyVersions(v.model).map((x) => String(x.version)) : [String(v.version)],
    platform: 'onnxruntime_onnx',
    inputs: v.signature.inputs.map((s) => ({ name: s.name, datatype: s.datatype, shape: s.shape })),
    outputs: v.signature.outputs.map((s) => ({ name: s.name, datatype: s.datatype, shape: s.shape })),
    parameters: { max_batch_size: v.signature.maxBatchSize, batching: v.batchingNote.merged, batching_reason: v.batchingNote.reason, max_request_bytes: maxInferBodyBytes(v.signature, bodyLimitBytes), ...(v.preprocessing === undefined ? {} : { preprocessing_kind: v.preprocessing.kind, preprocessing_hash: v.preprocessing.hash }) },
  };
}

export function registerV2Routes(app: FastifyInstance, ctx: V2Context): void {
  const { manager } = ctx;

  app.get('/v2', async () => ({ name: ctx.serverName, version: ctx.serverVersion, extensions: V2_EXTENSIONS }));
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_req, reply) => {
    const ready = ctx.started() && manager.allReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  // --- model metadata and readiness ---
  const metadata = async (req: FastifyRequest<{ Params: ModelParams }>) => {
    const v = manager.resolve(req.params.model, req.params.version);
    return modelMetadata(manager, v, req.params.version === undefined, ctx.bodyLimitBytes);
  };
  app.get('/v2/models/:model', metadata);
  app.get('/v2/models/:model/versions/:version', metadata);

  const ready = async (req: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { model, version } = req.params;
    try {
      manager.resolve(model, version);
      return { name: model, ready: true };
    } catch (err) {
      if (isBerthError(err, 'BERTH_ERR_MODEL_NOT_READY')) return reply.code(503).headers(err.headers).send({ name: model, ready: false, reason: err.message });
      throw err;
    }
  };
  app.get('/v2/models/:model/ready', ready);
  app.get('/v2/models/:model/versions/:version/ready', ready);

  // --- infer ---
  const infer = async (req: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const t0 = process.hrtime.bigint();
    const ct = mediaType(req);
    if (ct !== undefined && !INFER_CONTENT_TYPES.has(ct)) {
      throw new BerthError('BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type '${ct}' is not accepted; send application/json, or application/octet-stream with Inference-Header-Content-Length for binary tensor data`);
    }
    const mv = manager.resolve(req.params.model, req.params.version);
    let decoded;
    try {
      decoded = decodeInferRequest({
        signature: mv.signature,
        body: bodyOf(req),
        headerLength: headerLength(req),
        nowMs: performance.now(),
        defaultTimeoutMs: mv.settings.batching.queueTimeoutMs,
      });
    } catch (err) {
      mv.observe('invalid', Number(process.hrtime.bigint() - t0));
      throw err;
    }
    const decisionId = decisionIdFor(ctx.decisionIds, decoded.request.id, decoded.clientId, req.principal);
    if (decisionId !== decoded.request.id) decoded.request.decisionId = decisionId;
    let prepared: PreparedDecision;
    try {
      prepared = decoded.records === undefined ? prepareTensors(mv, decoded.request) : prepareRecords(mv, decoded.records, decoded.request, 'inputs');
    } catch (err) {
      mv.observe('invalid', Number(process.hrtime.bigint() - t0));
      throw err;
    }
    // POST …/explain, or parameters.explain on infer: the response's parameters carry the explanations.
    const explain = req.url.split('?')[0]!.endsWith('/explain') || decoded.request.parameters.explain === true;
    if (explain) checkExplainable(mv);
    const { result, decisions } = await runPrepared(ctx.monitor, mv, prepared, t0, decoded.records !== undefined || explain);
    const request = prepared.request;
    const params = responseParameters(request, decisionId, prepared, decoded.records === undefined ? undefined : decisions) ?? {};
    if (explain) params.explanations = await explainRows(mv, prepared, decisions!);
    const enc = encodeInferResponse(mv.model, String(mv.version), request.id, decoded.outputs, result, Object.keys(params).length === 0 ? undefined : params);
    await recordServed(ctx.monitor, mv, prepared, result, decisions, t0);
    if (enc.headerLength !== undefined) reply.header('Inference-Header-Content-Length', String(enc.headerLength));
    if (ctx.monitor !== undefined) reply.header(DECISION_ID_HEADER, decisionId);
    return reply.type(enc.contentType).send(enc.body);
  };
  // Before the body is read: refuse what this version can never need (Content-Length, or counted as it streams in).
  const limits = new WeakMap<ModelVersion, number>();
  const bodyLimit = {
    preParsing: async (req: FastifyRequest<{ Params: ModelParams }>, _reply: FastifyReply, payload: NodeJS.ReadableStream) => {
      const mv = manager.resolve(req.params.model, req.params.version);
      let limit = limits.get(mv);
      if (limit === undefined) limits.set(mv, (limit = maxInferBodyBytes(mv.signature, ctx.bodyLimitBytes)));
      return boundBody(req.headers, payload, limit, ctx.bodyLimitBytes, mv.model);
    },
  };
  // Overload shedding comes first: a refusal reads no body at all (server/admission).
  const admission = admissionHooks((req: FastifyRequest<{ Params: ModelParams }>) => manager.resolve(req.params.model, req.params.version), (mv) => ctx.monitor?.recordFailure(mv));
  const inferHooks = { preParsing: [admission.preParsing, bodyLimit.preParsing], preHandler: admission.preHandler };
  app.post('/v2/models/:model/infer', inferHooks, infer);
  app.post('/v2/models/:model/versions/:version/infer', inferHooks, infer);
  // The same body as infer; the answer adds parameters.explanations (explain/explain).
  app.post('/v2/models/:model/explain', inferHooks, infer);
  app.post('/v2/models/:model/versions/:version/explain', inferHooks, infer);

  // --- Triton model_configuration extension ---
  const config = async (req: FastifyRequest<{ Params: ModelParams }>) => tritonModelConfig(manager.resolve(req.params.model, req.params.version));
  app.get('/v2/models/:model/config', config);
  app.get('/v2/models/:model/versions/:version/config', config);

  // --- Triton statistics extension ---
  app.get('/v2/models/stats', async () => ({
    model_stats: manager.modelNames().flatMap((name) => manager.readyVersions(name).map((v) => v.stats.toJSON(v.model, String(v.version)))),
  }));
  const stats = async (req: FastifyRequest<{ Params: ModelParams }>) => {
    const { model, version } = req.params;
    if (!manager.has(model)) manager.resolve(model); // 404 with the standard message
    const versions = version === undefined ? manager.readyVersions(model) : [manager.resolve(model, version)];
    return { model_stats: versions.map((v) => v.stats.toJSON(v.model, String(v.version))) };
  };
  app.get('/v2/models/:model/stats', stats);
  app.get('/v2/models/:model/versions/:version/stats', stats);

  // --- model_repository extension ---
  app.post('/v2/repository/index', async (req) => {
    const body = optionalJsonBody(req);
    const readyOnly = body.ready;
    if (readyOnly !== undefined && typeof readyOnly !== 'boolean') throw new BerthError('BERTH_ERR_BAD_REQUEST', `ready: expected true or false, got ${JSON.stringify(readyOnly)}`);
    await manager.syncAll();
    const entries = manager.index();
    return readyOnly === true ? entries.filter((e) => e.state === 'READY') : entries;
  });
  app.post('/v2/repository/models/:model/load', async (req: FastifyRequest<{ Params: ModelParams }>) => {
    checkRepositoryApi(ctx.repositoryApi);
    const body = optionalJsonBody(req);
    if (body.parameters !== undefined && (typeof body.parameters !== 'object' || body.parameters === null || Array.isArray(body.parameters))) {
      throw new BerthError('BERTH_ERR_BAD_REQUEST', 'parameters: expected an object');
    }
    await manager.loadModel(req.params.model);
    return {};
  });
  app.post('/v2/repository/models/:model/unload', async (req: FastifyRequest<{ Params: ModelParams }>) => {
    checkRepositoryApi(ctx.repositoryApi);
    optionalJsonBody(req);
    await manager.unloadModel(req.params.model);
    return {};
  });
}

/** The response's parameters: the decision id when it differs, the decisions of raw records, any anomaly flags. */
function responseParameters(request: InferenceRequest, decisionId: string, prepared: PreparedDecision, decisions: RowDecision[] | undefined): Record<string, unknown> | undefined {
  const params: Record<string, unknown> = {};
  if (request.decisionId !== undefined) params.decision_id = decisionId;
  // A batched request's rows are decisions of their own: feedback labels them by these ids.
  if (request.batchSize > 1) params.decision_ids = rowIds(decisionId, request.batchSize);
  if (decisions !== undefined) {
    params.content_type = 'pd';
    params.decisions = decisions.map((d) => ({ ...decisionJson(d), row: d.row }));
  }
  const flagged = prepared.flags.flatMap((flags, row) => flags.map((f) => ({ row, ...flagJson(f) })));
  if (flagged.length > 0) params.anomalies = flagged;
  return Object.keys(params).length === 0 ? undefined : params;
}

/** The JSON object body of a control request; an empty body is `{}`. */
function optionalJsonBody(req: FastifyRequest): Record<string, unknown> {
  const body = bodyOf(req);
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BerthError('BERTH_ERR_BAD_REQUEST', `request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BerthError('BERTH_ERR_BAD_REQUEST', 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

function checkRepositoryApi(api: V2Context['repositoryApi']): void {
  if (!api.enabled) throw new BerthError('BERTH_ERR_FORBIDDEN', 'the repository load/unload API is switched off (repository.api.enabled: false)');
}
