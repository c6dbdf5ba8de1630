/**
 * @module server/app
 * The one composition point: `buildApp(config, deps)` creates the worker pool, the model
 * manager, metrics and the HTTP routes, and wires them together. It never listens; the
 * CLI (or a test) calls `listen`. Request path:
 *
 *   HTTP (fastify, body as Buffer) → protocols/v2 decode + inference/validate
 *   → repository/manager resolve → inference/model-version → batching/scheduler
 *   → runtime/worker-pool → session worker (onnxruntime-node) → back, split, encoded.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { messageOf } from '../errors.js';
import { defaultWorkerCount } from '../config/load.js';
import type { BerthConfig } from '../config/schema.js';
import { registerDashboardRoutes } from '../dashboard/routes.js';
import type { Logger } from '../logging/logger.js';
import { ServerMetrics } from '../metrics/server-metrics.js';
import { registerV1Routes } from '../protocols/v1/routes.js';
import { registerV2Routes } from '../protocols/v2/routes.js';
import { personalKey } from '../monitoring/personal.js';
import { AlertEngine, createNotifiers, defaultAlertRules, resolveAlertRules } from '../monitoring/alerts/index.js';
import { MonitoringMetrics } from '../monitoring/metrics.js';
import { Monitor } from '../monitoring/monitor.js';
import { registerMonitoringRoutes } from '../monitoring/routes.js';
import { ModelManager } from '../repository/manager.js';
import { WorkerPool } from '../runtime/worker-pool.js';
import { BUILTIN_DEFAULTS } from '../repository/model-config.js';
import { loggerOptionsFor, retentionPolicyFor, storeOptionsFor, storeTargetFor } from '../store/config.js';
import { createStore } from '../store/create-store.js';
import { DecisionLogger } from '../store/decision-logger.js';
import { logDecisionLogEvents } from '../store/log-events.js';
import { DecisionExplainer } from '../explain/decision-explainer.js';
import { RetentionTask } from '../store/retention.js';
import { installSecurity } from '../security/hooks.js';
import { securityPolicy } from '../security/policy.js';
import { Redactor } from '../security/redact.js';
import { clientErrorHandler, errorHandler } from './http-errors.js';

export const SERVER_NAME = 'berth';
export const SERVER_VERSION = '0.1.0';

export interface AppDeps {
  logger: Logger;
  /** Share a pool between apps (tests); otherwise one is created and closed with the app. */
  pool?: WorkerPool;
  /** Collect Node's default process metrics (off in tests that build many apps). */
  defaultMetrics?: boolean;
}

export interface BerthApp {
  http: FastifyInstance;
  monitor: Monitor | undefined;
  /** The decision log (off when monitoring or the store is switched off). */
  decisionLog: DecisionLogger | undefined;
  /** Explanations stored with logged decisions (explain/decision-explainer), when there is a store. */
  explainer: DecisionExplainer | undefined;
  manager: ModelManager;
  pool: WorkerPool;
  metrics: ServerMetrics;
  config: Readonly<BerthConfig>;
  /** Resolves when the first repository scan and its loads have finished. */
  modelsLoaded: Promise<void>;
  listen(): Promise<string>;
  close(): Promise<void>;
}

export function buildApp(config: Readonly<BerthConfig>, deps: AppDeps): BerthApp {
  const { logger } = deps;
  // First, so a server that must not start (exposed without tokens, bad TLS files) opens nothing.
  const security = securityPolicy(config);
  for (const notice of security.notices) logger.warn(notice);
  const redactor = new Redactor([config.repository.path]);
  const metrics = new ServerMetrics({ defaultMetrics: deps.defaultMetrics ?? true });
  const ownPool = deps.pool === undefined;
  const pool = deps.pool ?? new WorkerPool({ size: config.runtime.workers ?? defaultWorkerCount() });
  const mon = config.monitoring;
  // Rules per served version (defaults ← models.alerts ← its berth.yaml), resolved when it loaded.
  let versionRules: (model: string, version: string) => ReturnType<typeof resolveAlertRules> = () => [];
  const fallbackRules = resolveAlertRules(defaultAlertRules(), { where: 'config: models.alerts', rules: config.models.alerts });
  const alerts = mon.enabled && config.alerting.enabled
    ? new AlertEngine({
        rules: (model, version) => versionRules(model, version),
        notifiers: createNotifiers(config.alerting, { logger, metrics: metrics.alerts }),
        logger,
        repeatIntervalMs: config.alerting.repeatIntervalMs,
        resolvedRetentionMs: config.alerting.resolvedRetentionMs,
        groupBy: config.alerting.groupBy,
        metrics: metrics.alerts,
        ...(config.alerting.externalUrl === undefined ? {} : { externalUrl: config.alerting.externalUrl }),
      })
    : undefined;
  // The decision log: a store (SQLite in the data directory unless a URL names another),
  // written through a logger that batches off the request path and spools when it is down.
  const storeConfig = config.store;
  const store = mon.enabled && storeConfig.enabled ? createStore(storeTargetFor(storeConfig), storeOptionsFor(storeConfig)) : undefined;
  const decisionLog = store === undefined ? undefined : new DecisionLogger(store, loggerOptionsFor(storeConfig));
  if (decisionLog !== undefined) {
    metrics.decisionLog.bind(decisionLog);
    logDecisionLogEvents(decisionLog, logger);
  }
  // Explanations stored with logged decisions, by each model's explain.log policy (off the request path).
  const explainer = store === undefined ? undefined : new DecisionExplainer({
    attach: (model, items) => store.attachExplanations(model, items),
    queueSize: mon.explainQueueSize,
    maxBusyFraction: mon.explainMaxBusyFraction,
    count: (model, result, n) => metrics.explanations.inc({ model, result }, n),
    log: logger,
  });
  if (explainer !== undefined) metrics.bindExplainer(explainer);
  const retention = store === undefined ? undefined : new RetentionTask(store, {
    policy: retentionPolicyFor(storeConfig),
    intervalMs: storeConfig.retention.intervalMinutes * 60_000,
    onRun: ({ deleted, error, durationMs }) => {
      if (error !== undefined) logger.warn({ err: messageOf(error) }, 'decision log retention failed; retrying at the next interval');
      else if (deleted > 0) logger.info({ deleted, ms: Math.round(durationMs) }, 'decision log retention');
    },
  });
  const monitor = mon.enabled
    ? new Monitor({
        store,
        decisions: decisionLog,
        explainer,
        alerts,
        log: logger,
        metrics: new MonitoringMetrics(metrics),
        evaluationIntervalMs: mon.evaluationIntervalMs,
        qualityWindowMs: mon.qualityWindowHours * 3_600_000,
        minLabelled: mon.minLabelled,
        latencyWindowMs: mon.latencyWindowSeconds * 1000,
        driftWindowMs: mon.driftWindowSeconds * 1000,
        driftMinRows: mon.driftMinRows,
        driftMaxRowsPerSecond: mon.driftMaxRowsPerSecond,
        keepInputs: mon.keepInputs,
        maxInputBytes: mon.maxInputBytes,
        personalKey: () => personalKey(storeConfig.personalKey, storeConfig.dataDir),
      })
    : undefined;
  const manager = new ModelManager({
    root: config.repository.path,
    pool,
    metrics,
    logger,
    defaults: config.models,
    defaultMaxBatchSize: config.models.maxBatchSize ?? BUILTIN_DEFAULTS.maxBatchSize,
    pollIntervalMs: config.repository.pollIntervalMs,
    ...(monitor === undefined ? {} : { onVersionServing: (mv) => monitor.attach(mv), onVersionRetired: (mv) => monitor.detach(mv) }),
  });
  versionRules = (model, version) => manager.readyVersions(model).find((v) => String(v.version) === version)?.settings.alertRules ?? fallbackRules;

  const onError = errorHandler(logger, redactor);
  metrics.setQueueDepthSource(function* () {
    for (const name of manager.modelNames()) {
      for (const v of manager.readyVersions(name)) yield { model: v.model, version: String(v.version), depth: v.queueDepth };
    }
  });

  // Without Node's own Host check, a request without Host gets the JSON 400 of the security hook.
  const serverOptions = security.https === undefined ? { http: { requireHostHeader: false } } : { https: { ...security.https, requireHostHeader: false } };
  const http = Fastify({
    ...serverOptions,
    loggerInstance: logger as FastifyBaseLogger,
    // Berth logs one line per request itself (debug level, onResponse hook below).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimitBytes,
    requestTimeout: config.server.requestTimeoutMs,
    // Request ids for logs; inference ids are separate (the request's own "id").
    genReqId: (() => {
      let n = 0;
      return () => `r${(++n).toString(36)}`;
    })(),
    // Model names may be 128 characters long (repository/scan); fastify's default is 100.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    // Router-level errors (bad URL encoding, over-long parameter) get the protocol's error body too.
    frameworkErrors: (err, req, reply) => onError(err, req, reply),
    clientErrorHandler,
  }) as unknown as FastifyInstance;
  if (config.server.maxConnections > 0) http.server.maxConnections = config.server.maxConnections;

  // Bodies arrive as raw Buffers whatever their type; each route interprets its own.
  http.removeAllContentTypeParsers();
  http.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  http.setErrorHandler(onError);
  http.setNotFoundHandler((req, reply) => {
    reply.code(404).type('application/json').send(JSON.stringify({ error: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'BERTH_ERR_NOT_FOUND' }));
  });
  http.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    if (logger.isLevelEnabled('debug')) {
      logger.debug({ reqId: req.id, method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 1000) / 1000 }, 'request');
    }
    done();
  });

  // Before any route: every route is checked against the access table as it is added.
  installSecurity(http, { policy: security, redactor });

  let started = false;
  registerV2Routes(http, {
    manager,
    serverName: SERVER_NAME,
    serverVersion: SERVER_VERSION,
    started: () => started,
    repositoryApi: { enabled: config.repository.api.enabled },
    ...(monitor === undefined ? {} : { monitor }),
    bodyLimitBytes: config.server.bodyLimitBytes,
    decisionIds: config.monitoring.decisionIds,
  });
  registerV1Routes(http, { manager, ...(monitor === undefined ? {} : { monitor }), decisionIds: config.monitoring.decisionIds, bodyLimitBytes: config.server.bodyLimitBytes });
  if (monitor !== undefined) {
    registerMonitoringRoutes(http, { manager, monitor, store, ...(alerts === undefined ? {} : { alerts: () => alerts.alerts() }) });
    monitor.start();
  }
  http.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  registerDashboardRoutes(http, { manager, serverVersion: SERVER_VERSION, monitoring: monitor !== undefined, decisionLog: decisionLog !== undefined });

  // Never fails because the store is down: the logger spools and keeps probing.
  const logStarted = decisionLog?.start().then(() => retention?.start());

  const modelsLoaded = manager.start().then(
    () => {
      started = true;
    },
    (err: unknown) => {
      logger.error({ err: messageOf(err) }, 'initial repository scan failed');
      throw err;
    },
  );
  // Callers that never await modelsLoaded must not see an unhandled rejection.
  modelsLoaded.catch(() => undefined);

  let closing: Promise<void> | undefined;
  return {
    http, manager, pool, metrics, config, modelsLoaded, monitor, decisionLog, explainer,
    async listen() {
      return http.listen({ host: config.server.host, port: config.server.port });
    },
    close() {
      closing ??= (async () => {
        await http.close();
        monitor?.close();
        await explainer?.close();
        // Decisions still in memory go to the store, or to the spool for the next run.
        await logStarted?.catch(() => undefined);
        await retention?.stop();
        await decisionLog?.close();
        await store?.close();
        await alerts?.flush();
        await alerts?.close();
        await manager.close();
        if (ownPool) await pool.close();
      })();
      return closing;
    },
  };
}
