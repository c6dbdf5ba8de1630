/**
 * @module monitoring/routes
 * HTTP endpoints of live monitoring: ground-truth feedback (`POST /v2/models/{m}/feedback`)
 * and the read APIs the dashboard uses (`/api/...`): decision log, time series, quality,
 * drift, alerts, models.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError } from '../errors.js';
import type { ModelManager } from '../repository/manager.js';
import type { FeedbackItem, PredictionStore } from '../store/store.js';
import { decideTask } from './binding.js';
import { labelChecker, type LabelCheck } from './labels.js';
import type { Monitor } from './monitor.js';

export interface MonitoringRoutesContext {
  manager: ModelManager;
  monitor: Monitor;
  store: PredictionStore | undefined;
  /** Active and recently resolved alerts (the alert engine's view), when alerting is on. */
  alerts?: () => unknown[];
}

const MAX_FEEDBACK_ITEMS = 10_000;

function bad(message: string): BerthError {
  return new BerthError('BERTH_ERR_BAD_REQUEST', message);
}

function jsonBody(req: FastifyRequest): unknown {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (body.length === 0) throw bad('request body is empty; expected {"id": "...", "label": ...} or {"feedback": [...]}');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw bad(`request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function feedbackItem(v: unknown, where: string, checkLabel: LabelCheck): FeedbackItem {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${where}: expected an object with "id" and "label"`);
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string' || o.id === '' || o.id.length > 256) throw bad(`${where}.id: expected a non-empty string (the inference request id)`);
  const item: FeedbackItem = { id: o.id, label: checkLabel(o.label, `${where}.label`) };
  if (o.time !== undefined) item.time = timeOf(o.time, `${where}.time`);
  return item;
}

/** A time given as ms since the epoch or an ISO 8601 string. */
function timeOf(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    if (/^\d{1,16}$/.test(v)) return Number(v);
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  throw bad(`${where}: expected milliseconds since the epoch or an ISO 8601 time, got ${JSON.stringify(v)}`);
}

type Query = Record<string, string | undefined>;

function optionalTime(q: Query, key: string): number | undefined {
  return q[key] === undefined || q[key] === '' ? undefined : timeOf(q[key], key);
}

function limitOf(q: Query, max: number, dflt: number): number {
  const raw = q.limit;
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw bad(`limit: expected an integer from 1 to ${max}, got '${raw}'`);
  return Number(raw);
}

/**
 * Each of these parameters at most once: fastify turns `?id=a&id=b` into an array, which no
 * filter means. Refused with 400 naming the parameter.
 */
function singleValued(q: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) {
    const v = q[k];
    if (Array.isArray(v)) throw bad(`${k}: given ${v.length} times; expected once (one value per filter)`);
  }
}

/**
 * An AbortSignal that aborts when the client goes away before its answer, so the store can
 * drop the query from its queue or stop it between rows instead of working for nobody.
 */
function clientGone(reply: FastifyReply): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.once('close', onClose);
  return { signal: controller.signal, done: () => reply.raw.off('close', onClose) };
}

const DECISION_QUERY_PARAMS = ['model', 'version', 'id', 'outcome', 'since', 'until', 'labelled', 'limit'] as const;

function requireStore(store: PredictionStore | undefined): PredictionStore {
  if (store === undefined) throw new BerthError('BERTH_ERR_FORBIDDEN', 'the decision log is switched off (store.enabled: false)');
  return store;
}

export function registerMonitoringRoutes(app: FastifyInstance, ctx: MonitoringRoutesContext): void {
  const { manager, monitor } = ctx;
  const knownModel = (name: string | undefined): void => {
    if (name !== undefined && name !== '' && !manager.has(name)) throw new BerthError('BERTH_ERR_MODEL_NOT_FOUND', `unknown model '${name}'`);
  };

  /** Labels are checked against the model's default version (its classes, its preprocessing spec's label rule). */
  const checkerFor = (model: string): LabelCheck => {
    const mv = manager.readyVersions(model)[0];
    if (mv === undefined) return labelChecker(model, { kind: 'none', reason: 'no version is loaded' }, false);
    return labelChecker(model, decideTask(mv.signature, mv.metadata, mv.settings.monitoring), mv.preprocessing?.tabular?.label !== undefined);
  };

  app.post('/v2/models/:model/feedback', async (req: FastifyRequest<{ Params: { model: string } }>, reply) => {
    knownModel(req.params.model);
    requireStore(ctx.store);
    const checkLabel = checkerFor(req.params.model);
    const body = jsonBody(req);
    let items: FeedbackItem[];
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'feedback' in body) {
      const list = (body as { feedback: unknown }).feedback;
      if (!Array.isArray(list) || list.length === 0) throw bad('feedback: expected a non-empty array of {"id", "label"}');
      if (list.length > MAX_FEEDBACK_ITEMS) throw bad(`feedback: at most ${MAX_FEEDBACK_ITEMS} items per request, got ${list.length}`);
      items = list.map((v, i) => feedbackItem(v, `feedback[${i}]`, checkLabel));
    } else {
      items = [feedbackItem(body, 'body', checkLabel)];
    }
    const { attached, unknown } = await monitor.feedback(req.params.model, items);
    if (unknown.length > 0) {
      return reply.code(404).send({
        error: `no logged decision of model '${req.params.model}' has id ${unknown.slice(0, 5).map((u) => `'${u}'`).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}${attached.length > 0 ? `; the other ${attached.length} label(s) were attached` : ''}`,
        code: 'BERTH_ERR_DECISION_NOT_FOUND',
        attached: attached.length,
        unknown,
      });
    }
    return { attached: attached.length };
  });

  app.get('/api/predictions', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    const q = req.query;
    singleValued(q, DECISION_QUERY_PARAMS);
    knownModel(q.model);
    const store = requireStore(ctx.store);
    const query: Parameters<PredictionStore['queryDecisions']>[0] = { limit: limitOf(q, 10_000, 100) };
    if (q.model) query.model = q.model;
    if (q.version) query.version = q.version;
    if (q.id) query.id = q.id;
    if (q.outcome) query.outcome = q.outcome;
    const since = optionalTime(q, 'since');
    const until = optionalTime(q, 'until');
    if (since !== undefined) query.since = since;
    if (until !== undefined) query.until = until;
    if (q.labelled !== undefined && q.labelled !== '') {
      if (q.labelled !== 'true' && q.labelled !== 'false') throw bad(`labelled: expected true or false, got '${q.labelled}'`);
      query.labelled = q.labelled === 'true';
    }
    const gone = clientGone(reply);
    try {
      return { predictions: await store.queryDecisions(query, { signal: gone.signal }) };
    } finally {
      gone.done();
    }
  });

  app.get('/api/timeseries', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const q = req.query;
    knownModel(q.model);
    const store = requireStore(ctx.store);
    const query: Parameters<PredictionStore['queryPoints']>[0] = { limit: limitOf(q, 100_000, 10_000) };
    if (q.model) query.model = q.model;
    if (q.version) query.version = q.version;
    if (q.metric) query.metric = q.metric;
    if (q.key !== undefined) query.key = q.key;
    const since = optionalTime(q, 'since');
    const until = optionalTime(q, 'until');
    if (since !== undefined) query.since = since;
    if (until !== undefined) query.until = until;
    const points = await store.queryPoints(query);
    const series = new Map<string, { metric: string; model: string; version: string; key: string; points: [number, number][] }>();
    for (const p of points) {
      const id = `${p.model}\0${p.version}\0${p.metric}\0${p.key}`;
      let s = series.get(id);
      if (s === undefined) {
        s = { metric: p.metric, model: p.model, version: p.version, key: p.key, points: [] };
        series.set(id, s);
      }
      s.points.push([p.time, p.value]);
    }
    return { series: [...series.values()] };
  });

  app.get('/api/models', async () => ({
    models: manager.modelNames().map((name) => ({
      name,
      versions: manager.index().filter((e) => e.name === name).map((e) => {
        const mon = monitor.versions().find((v) => v.model === name && v.version === e.version);
        return {
          version: e.version ?? null,
          state: e.state,
          reason: e.reason,
          task: mon?.binding.task.kind,
          classes: mon?.binding.task.kind === 'classification' ? mon.binding.task.classes : undefined,
          validatedAccuracy: mon?.binding.validatedAccuracy,
          drift: e.version === undefined ? undefined : monitor.drift(name, e.version)?.enabled ?? false,
          window: e.version === undefined ? undefined : monitor.window(name, e.version),
          quality: e.version === undefined ? undefined : monitor.quality(name, e.version),
        };
      }),
    })),
  }));

  const versionOf = (q: Query): { model: string; version: string } => {
    if (!q.model) throw bad('model: required');
    knownModel(q.model);
    if (q.version && !manager.index().some((e) => e.name === q.model && String(e.version) === q.version)) {
      throw new BerthError('BERTH_ERR_VERSION_NOT_FOUND', `model '${q.model}' has no version '${q.version}'`);
    }
    const version = q.version || String(manager.resolve(q.model).version);
    return { model: q.model, version };
  };

  app.get('/api/quality', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { model, version } = versionOf(req.query);
    return { model, version, quality: monitor.quality(model, version) ?? null };
  });

  app.get('/api/drift', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { model, version } = versionOf(req.query);
    return { model, version, drift: monitor.drift(model, version) ?? null };
  });

  app.get('/api/fairness', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { model, version } = versionOf(req.query);
    return { model, version, fairness: monitor.fairness(model, version) ?? null };
  });

  app.get('/api/alerts', async () => ({ alerts: ctx.alerts?.() ?? [] }));
}
