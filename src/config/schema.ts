/**
 * @module config/schema
 * The server configuration: one TypeBox schema, filled from defaults ← file ← environment
 * ← flags (see ./load.ts), validated once at start-up, then frozen. docs/config.md lists
 * every field; a unit test checks it against this schema.
 */
import { type Static, Type } from '@sinclair/typebox';
import { ModelDefaultsSchema } from '../repository/model-config.js';
import { AlertingSchema } from '../monitoring/alerts/config.js';
import { LOG_LEVELS } from '../logging/logger.js';
import { StoreConfigSchema } from '../store/config.js';
import { AuthConfigSchema, ServerSecurityFields } from '../security/config.js';

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Address to listen on. Beyond loopback (127.0.0.1, ::1, localhost) the server needs auth.tokens or --insecure.' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8000, description: 'HTTP port (0 = any free port).' }),
        bodyLimitBytes: Type.Integer({ minimum: 1024, default: 64 * 1024 * 1024, description: 'Largest request body accepted; larger bodies get 413.' }),
        requestTimeoutMs: Type.Integer({ minimum: 0, default: 60_000, description: 'A request whose headers and body have not arrived by then gets 408 and is closed (0 = no limit).' }),
        ...ServerSecurityFields,
      },
      { additionalProperties: false, default: {} },
    ),
    repository: Type.Object(
      {
        path: Type.String({ minLength: 1, default: 'models', description: 'The model repository directory.' }),
        pollIntervalMs: Type.Integer({ minimum: 0, default: 5000, description: 'Re-scan interval; 0 = only at start and on repository API calls.' }),
        api: Type.Object(
          {
            enabled: Type.Boolean({ default: true, description: 'Serve the repository load/unload endpoints.' }),
            token: Type.Optional(Type.String({ minLength: 8, description: 'Deprecated (use auth.tokens with scope admin): when set, load/unload need "Authorization: Bearer <token>"; it also counts as an admin token when auth.tokens is set. Without any token they are refused unless the server listens on loopback only.' })),
          },
          { additionalProperties: false, default: {} },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    runtime: Type.Object(
      {
        workers: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, description: 'Inference worker threads (ONNX Runtime sessions run there, never on the HTTP thread). Default: the number of CPUs (at most 16).' })),
      },
      { additionalProperties: false, default: {} },
    ),
    models: Type.Composite([
      ModelDefaultsSchema,
      Type.Object({}),
    ], { additionalProperties: false, default: {}, description: 'Defaults for every model; a model\'s berth.yaml overrides them.' }),
    monitoring: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Live monitoring: decision log, quality on feedback, drift, alerts.' }),
        evaluationIntervalMs: Type.Integer({ minimum: 100, default: 5000, description: 'How often signals (latency, errors, quality, drift) are computed, exported and checked by the alert rules.' }),
        qualityWindowHours: Type.Number({ exclusiveMinimum: 0, default: 24, description: 'Labelled decisions this recent count for live accuracy.' }),
        minLabelled: Type.Integer({ minimum: 1, default: 20, description: 'Live quality is reported from this many labelled decisions.' }),
        latencyWindowSeconds: Type.Integer({ minimum: 1, default: 300, description: 'Window of the latency percentiles and error rate.' }),
        driftWindowSeconds: Type.Integer({ minimum: 1, default: 60, description: 'A live drift window closes after this long…' }),
        driftMinRows: Type.Integer({ minimum: 1, default: 200, description: '…once it holds this many rows.' }),
        driftMaxRowsPerSecond: Type.Integer({ minimum: 1, default: 1000, description: 'Above this many rows a second per model version, drift windows take a uniform random sample of the rows (the share is in /api/drift as sampleRate): drift costs CPU per row, and its tests need thousands of rows per window, not every one.' }),
        keepInputs: Type.Boolean({ default: true, description: 'Keep request inputs in the decision log (else only a hash); a model\'s monitoring.keepInputs overrides.' }),
        explainQueueSize: Type.Integer({ minimum: 1, default: 64, description: 'Decisions waiting for a logged explanation (berth.yaml explain.log); beyond this the explainer skips and counts them (berth_explanations_total{result="skipped"}) instead of falling further behind.' }),
        explainMaxBusyFraction: Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.1, description: 'Share of wall time the decision-log explainer may keep the model busy (it rests in between), so logged explanations cost serving a bounded share of its throughput.' }),
        maxInputBytes: Type.Integer({ minimum: 0, default: 65536, description: 'Inputs larger than this are logged as a hash only.' }),
        decisionIds: Type.Union([Type.Literal('client'), Type.Literal('server')], { default: 'client', description: 'The id a decision is logged under (and feedback names): client = the request id, prefixed "<token>:" when API tokens are configured so a client cannot claim another\'s ids; server = an id only the server knows before answering (when labels feed retraining). The response carries it as parameters.decision_id and the Berth-Decision-Id header.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    auth: AuthConfigSchema,
    alerting: AlertingSchema,
    store: StoreConfigSchema,
    logging: Type.Object(
      {
        level: Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: 'info', description: 'pino log level; debug logs one line per request.' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type BerthConfig = Static<typeof ConfigSchema>;

/** Environment variables and the config fields they set. */
export const ENV_VARS: Record<string, { path: string[]; type: 'string' | 'integer' | 'boolean' | 'list' | 'json' }> = {
  BERTH_HOST: { path: ['server', 'host'], type: 'string' },
  BERTH_PORT: { path: ['server', 'port'], type: 'integer' },
  BERTH_BODY_LIMIT_BYTES: { path: ['server', 'bodyLimitBytes'], type: 'integer' },
  BERTH_REQUEST_TIMEOUT_MS: { path: ['server', 'requestTimeoutMs'], type: 'integer' },
  BERTH_ALLOWED_HOSTS: { path: ['server', 'allowedHosts'], type: 'list' },
  BERTH_ALLOWED_ORIGINS: { path: ['server', 'allowedOrigins'], type: 'list' },
  BERTH_MAX_CONNECTIONS: { path: ['server', 'maxConnections'], type: 'integer' },
  BERTH_RATE_LIMIT_MAX: { path: ['server', 'rateLimit', 'max'], type: 'integer' },
  BERTH_TLS_CERT: { path: ['server', 'tls', 'cert'], type: 'string' },
  BERTH_TLS_KEY: { path: ['server', 'tls', 'key'], type: 'string' },
  BERTH_TOKENS: { path: ['auth', 'tokens'], type: 'json' },
  BERTH_INSECURE: { path: ['auth', 'insecure'], type: 'boolean' },
  BERTH_REPOSITORY: { path: ['repository', 'path'], type: 'string' },
  BERTH_POLL_INTERVAL_MS: { path: ['repository', 'pollIntervalMs'], type: 'integer' },
  BERTH_REPOSITORY_API: { path: ['repository', 'api', 'enabled'], type: 'boolean' },
  BERTH_REPOSITORY_TOKEN: { path: ['repository', 'api', 'token'], type: 'string' },
  BERTH_WORKERS: { path: ['runtime', 'workers'], type: 'integer' },
  BERTH_LOG_LEVEL: { path: ['logging', 'level'], type: 'string' },
  BERTH_DATA_DIR: { path: ['store', 'dataDir'], type: 'string' },
  BERTH_PERSONAL_KEY: { path: ['store', 'personalKey'], type: 'string' },
  BERTH_STORE_URL: { path: ['store', 'url'], type: 'string' },
};
