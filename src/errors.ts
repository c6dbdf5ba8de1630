/**
 * @module errors
 * The one error registry. Every error Berth raises on purpose is a `BerthError` carrying a
 * stable `code` (never reused), the HTTP status it maps to, and an optional `cause`.
 * Callers match on `code`, never on message text. `docs/errors.md` documents every code
 * (a unit test checks the two agree).
 */

/** Registry: code → HTTP status and a one-line description (also the doc text). */
export const ERROR_CODES = {
  // --- generic request problems ---
  BERTH_ERR_BAD_REQUEST: { status: 400, description: 'The request is malformed (bad JSON, wrong field type, missing field).' },
  BERTH_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request content type is not one the endpoint accepts.' },
  BERTH_ERR_BODY_TOO_LARGE: { status: 413, description: 'The request body exceeds the configured size limit.' },
  BERTH_ERR_UNAUTHORIZED: { status: 401, description: 'The endpoint needs an API token ("Authorization: Bearer <token>") and none, or one the server does not know, was given (docs/security.md).' },
  BERTH_ERR_FORBIDDEN: { status: 403, description: 'The endpoint is switched off by configuration, or (repository load/unload without auth.tokens) needs the repository token or a loopback-only server.' },
  BERTH_ERR_INSUFFICIENT_SCOPE: { status: 403, description: 'The API token is valid but lacks the scope the endpoint needs (infer, feedback, read or admin); the message names the scope.' },
  BERTH_ERR_ORIGIN_NOT_ALLOWED: { status: 403, description: 'A browser request came from a web page of another origin that is not in server.allowedOrigins.' },
  BERTH_ERR_HOST_NOT_ALLOWED: { status: 403, description: 'The Host header names neither this loopback server (localhost, 127.0.0.1, [::1] on its port) nor an entry of server.allowedHosts (protects against DNS rebinding).' },
  BERTH_ERR_MISSING_HOST: { status: 400, description: 'An HTTP/1.1 request came without the Host header HTTP/1.1 requires.' },
  BERTH_ERR_RATE_LIMITED: { status: 429, description: 'The token (or, without one, the client address) sent more requests than server.rateLimit allows in its window; Retry-After says when to try again.' },
  BERTH_ERR_NOT_FOUND: { status: 404, description: 'No such route.' },
  BERTH_ERR_HEADERS_TOO_LARGE: { status: 431, description: 'The request headers are larger than the server accepts.' },
  BERTH_ERR_REQUEST_TIMEOUT: { status: 408, description: 'The request (headers and body) did not arrive within server.requestTimeoutMs.' },
  BERTH_ERR_INTERNAL: { status: 500, description: 'An unexpected server error; the log has the details.' },

  // --- inference requests ---
  BERTH_ERR_INVALID_INPUT: { status: 400, description: 'An input tensor does not match the model: name, datatype, shape, element count or value (e.g. NaN).' },
  BERTH_ERR_INVALID_OUTPUT_REQUEST: { status: 400, description: 'A requested output does not exist or its parameters are invalid.' },
  BERTH_ERR_BINARY_DATA: { status: 400, description: 'The binary tensor data extension was used incorrectly (header length, binary_data_size).' },
  BERTH_ERR_BATCH_TOO_LARGE: { status: 400, description: 'The request batch size exceeds the model\'s max batch size.' },

  // --- models and versions ---
  BERTH_ERR_MODEL_NOT_FOUND: { status: 404, description: 'No model with that name is in the repository.' },
  BERTH_ERR_VERSION_NOT_FOUND: { status: 404, description: 'The model has no such version.' },
  BERTH_ERR_DECISION_NOT_FOUND: { status: 404, description: 'Feedback names a request id with no logged decision of that model (the body lists the unknown ids; the other labels were attached).' },
  BERTH_ERR_MODEL_NOT_READY: { status: 503, description: 'The model (version) is loading, unloading or failed to load; retry later.' },
  BERTH_ERR_QUEUE_FULL: { status: 503, description: 'The model\'s batching queue is full; retry later.' },
  BERTH_ERR_OVERLOADED: { status: 503, description: 'A request queued now would wait longer than its deadline or batching.maxQueueWaitMs allow, so it is refused at once; Retry-After (seconds) and Retry-After-Ms say when to retry.' },
  BERTH_ERR_DEADLINE_EXCEEDED: { status: 504, description: 'The request\'s deadline passed while it was queued.' },
  BERTH_ERR_INFERENCE_FAILED: { status: 500, description: 'ONNX Runtime failed while running the model.' },
  BERTH_ERR_INVALID_RECORD: { status: 422, description: 'A raw record cannot be turned into the model\'s inputs (a field missing, of the wrong type, or NaN/Infinity); the message names every offending row, field and value.' },
  BERTH_ERR_ANOMALY_REJECTED: { status: 422, description: 'The model\'s anomaly policy is reject and a row was flagged (out of the training range, an unseen category, an unknown field, unlike the training data); the message names every offending field and value.' },
  BERTH_ERR_EXPLAIN_UNAVAILABLE: { status: 422, description: 'The model version cannot be explained: explanations are on raw fields and need a tabular preprocessing spec and background records (explain.background.json, written by berth background); the message says which is missing.' },
  BERTH_ERR_INPUT_REJECTED_BY_MODEL: { status: 422, description: 'ONNX Runtime could not run the model on this request\'s input values (e.g. an index out of range) although it runs other requests; a failed batch is re-run in parts so only such requests fail.' },
  BERTH_ERR_MODEL_LOAD_FAILED: { status: 400, description: 'A model version could not be loaded (corrupt file, bad config).' },
  BERTH_ERR_PIPELINE_MISMATCH: { status: 400, description: 'A version\'s preprocessing spec does not match the one its model was trained with (the hash recorded in the ONNX metadata, berth.preprocessing.hash), or the spec was edited after its hash was written; the version is not loaded and the previous one keeps serving.' },
  BERTH_ERR_MODEL_CONFIG: { status: 400, description: 'A model configuration file (berth.yaml / berth.json) is invalid.' },
  BERTH_ERR_SHUTTING_DOWN: { status: 503, description: 'The server or worker pool is shutting down.' },

  // --- configuration and CLI ---
  BERTH_ERR_CONFIG: { status: 400, description: 'The server configuration (file, environment or flags) is invalid.' },
  BERTH_ERR_CLI_USAGE: { status: 400, description: 'A command-line argument is missing or invalid.' },
  BERTH_ERR_FILE: { status: 400, description: 'A file could not be read or parsed.' },
  BERTH_ERR_EXPOSED_WITHOUT_AUTH: { status: 400, description: 'The server would listen beyond loopback with no API tokens configured; configure auth.tokens (or BERTH_TOKEN_<NAME>) or start it with --insecure.' },
  BERTH_ERR_TLS: { status: 400, description: 'The TLS certificate or key (server.tls, --tls-cert/--tls-key) is missing, unreadable or invalid, or only one of the two is given.' },

  // --- onnx / quantize ---
  BERTH_ERR_ONNX_DECODE: { status: 400, description: 'A file is not a valid ONNX model (protobuf decode failed, no graph, or tensor data does not match its shape).' },
  BERTH_ERR_ONNX_EXTERNAL_DATA: { status: 400, description: 'A tensor\'s external data is missing, outside the model folder, or shorter than its offset/length say.' },
  BERTH_ERR_ONNX_TOO_LARGE: { status: 400, description: 'The model would exceed protobuf\'s 2 GiB limit; write it with external data.' },
  BERTH_ERR_ONNX_UNSUPPORTED: { status: 400, description: 'The model uses a construct this tool cannot handle (tensor type, cycle, undefined value).' },
  BERTH_ERR_QUANTIZE_NO_WEIGHTS: { status: 400, description: 'The model has no float weights that the chosen mode can quantize.' },
  BERTH_ERR_QUANTIZE_UNSUPPORTED_OP: { status: 400, description: 'An operator type was requested for quantization (or needs a type rule) that Berth does not support.' },
  BERTH_ERR_QUANTIZE_DATA: { status: 400, description: 'A calibration or validation data file is unreadable or does not match the model inputs.' },
  BERTH_ERR_QUANTIZE_CALIBRATION: { status: 500, description: 'Running the FP32 model on the calibration data failed.' },
  BERTH_ERR_QUANTIZE_VERIFY: { status: 500, description: 'The quantized model failed to load or run in ONNX Runtime; nothing was written.' },
  BERTH_ERR_QUANTIZE_ACCURACY: { status: 422, description: 'The quantized model\'s accuracy drop exceeds --max-accuracy-drop even after keeping sensitive nodes in float.' },
  // --- drift ---
  BERTH_ERR_DRIFT_SCHEMA: { status: 400, description: 'A drift schema (columns, types, roles, thresholds) is invalid or does not match the data.' },
  BERTH_ERR_DRIFT_DATA: { status: 400, description: 'A data file for profiling or drift checking is malformed (ragged row, missing column) or has no rows.' },
  BERTH_ERR_DRIFT_PROFILE: { status: 400, description: 'A reference profile is not a valid berth.profile/v2 (or v1) document, or two profiles cannot be merged.' },
  BERTH_ERR_DRIFT_OPTIONS: { status: 400, description: 'A drift option or per-column threshold is out of range.' },
  BERTH_ERR_CALIBRATION: { status: 400, description: 'A score calibration (reference.calibration.json) is not a valid berth.calibration/v1 document, or does not fit the model version (classes, score kind).' },
  // --- store ---
  BERTH_ERR_STORE_UNAVAILABLE: { status: 503, description: 'The decision store cannot be reached or failed (server down, disk full, database locked); decisions are spooled to disk and replayed, queries can be retried.' },
  BERTH_ERR_STORE_REJECTED: { status: 500, description: 'The decision store refused a record\'s content (e.g. a NUL character PostgreSQL cannot hold); the logger drops that record and counts it (reason "rejected").' },
  BERTH_ERR_STORE_INVALID_QUERY: { status: 400, description: 'A decision-log query or feedback item is invalid (limit not a positive integer, bad time bound, label neither a number nor a string).' },
  BERTH_ERR_STORE_BUSY: { status: 503, description: 'Too many decision-log queries are waiting (store.queries.maxQueued); retry after Retry-After. Decision writes are never held up by them.' },
  BERTH_ERR_QUERY_TOO_COSTLY: { status: 400, description: 'A decision-log query would return more tensor bytes than store.queries.maxResultBytes or run longer than store.queries.timeoutMs; the message says how many decisions fit: lower limit or narrow the filters.' },
  BERTH_ERR_QUERY_CANCELLED: { status: 499, description: 'A decision-log query was cancelled because its client went away before the answer (never seen by a client; in logs and metrics only).' },
  BERTH_ERR_DECISION_NOT_DURABLE: { status: 503, description: 'With store.durability: sync, the decision could not be made durable (spool full, disk error, memory full, shutting down), so the response is withheld; the drop is counted in berth_decisions_dropped_total. Retry later.' },
  BERTH_ERR_DECISION_ID_IN_USE: { status: 409, description: 'With store.durability: sync, a different decision of the model is already logged under the request id, so this one was not logged; send a new id (or none: the server assigns one).' },
  BERTH_ERR_STORE_CONFIG: { status: 400, description: 'The store configuration is invalid (store URL scheme, path or option).' },
  BERTH_ERR_STORE_SCHEMA: { status: 500, description: 'The database was created by a newer Berth (its schema version is higher than this one knows); upgrade Berth or use another store.' },
  // --- alerts ---
  BERTH_ERR_ALERT_RULE: { status: 400, description: 'An alert rule is invalid: unknown signal, bad duration or name, threshold out of range for the signal, a new rule without signal/op/threshold, or an annotation template Berth cannot render.' },
  BERTH_ERR_ALERT_CONFIG: { status: 400, description: 'An alerting option is invalid (webhook URL, timeout, retry or interval setting); the message names the option.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface BerthErrorOptions {
  cause?: unknown;
  /** Extra HTTP headers to send with the error (e.g. Retry-After). */
  headers?: Record<string, string>;
}

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: BerthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.headers = options.headers ?? {};
  }
}

export function isBerthError(err: unknown, code?: ErrorCode): err is BerthError {
  return err instanceof BerthError && (code === undefined || err.code === code);
}

/** Message of any thrown value, for logs and wrapped errors. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
