/**
 * @module server/http-errors
 * Turns any error thrown while handling a request into the protocol's error body
 * `{"error": "...", "code": "BERTH_ERR_..."}` with the right status and headers. Fastify's
 * own errors (body too large, bad content length, ...) are mapped to Berth codes. Bodies
 * say what failed, not where (security/redact): the log keeps the paths.
 */
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, ERROR_CODES, type ErrorCode } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Redactor } from '../security/redact.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BERTH_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BERTH_ERR_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BERTH_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BERTH_ERR_BAD_REQUEST',
  FST_ERR_BAD_URL: 'BERTH_ERR_BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'BERTH_ERR_BAD_REQUEST',
};

export function toBerthError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const fe = err as Partial<FastifyError>;
  const mapped = fe.code === undefined ? undefined : FASTIFY_CODES[fe.code];
  if (mapped !== undefined) return new BerthError(mapped, fe.message ?? mapped, { cause: err });
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new BerthError('BERTH_ERR_BAD_REQUEST', fe.message ?? 'bad request', { cause: err });
  }
  return new BerthError('BERTH_ERR_INTERNAL', 'internal server error; the server log has the details', { cause: err });
}

/** Answers that are the client's or the load's doing, not the server's fault: never logged as errors. */
const NOT_SERVER_FAULTS = new Set<ErrorCode>(['BERTH_ERR_QUEUE_FULL', 'BERTH_ERR_OVERLOADED', 'BERTH_ERR_MODEL_NOT_READY', 'BERTH_ERR_SHUTTING_DOWN', 'BERTH_ERR_DEADLINE_EXCEEDED']);

export function errorHandler(logger: Logger, redactor?: Redactor) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const e = unsupportedMediaType(toBerthError(err), request);
    if (e.status >= 500 && !NOT_SERVER_FAULTS.has(e.code)) {
      logger.error({ reqId: request.id, url: request.url, code: e.code, err: e.cause ?? e }, e.message);
    } else if (e.code === 'BERTH_ERR_DEADLINE_EXCEEDED') {
      // The client's deadline passed (its choice, or load): worth a line, not a stack.
      logger.info({ reqId: request.id, url: request.url, code: e.code }, e.message);
    }
    // Every 503 says when to come back (a store that is down: a few seconds).
    const headers = e.status === 503 && !Object.keys(e.headers).some((h) => h.toLowerCase() === 'retry-after') ? { ...e.headers, 'Retry-After': '5' } : e.headers;
    const message = redactor !== undefined && redactor.applies(e.message) ? redactor.redact(e.message) : e.message;
    reply.code(e.status).headers(headers).type('application/json').send(JSON.stringify({ error: message, code: e.code }));
  };
}

/** Fastify's own 415 (a Content-Type it cannot even parse) named like Berth's. */
function unsupportedMediaType(e: BerthError, request: FastifyRequest): BerthError {
  if (e.code !== 'BERTH_ERR_UNSUPPORTED_MEDIA_TYPE' || (e.cause as Partial<FastifyError> | undefined)?.code !== 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return e;
  const ct = request.headers['content-type'] ?? '';
  return new BerthError('BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type '${ct.slice(0, 100)}' is not a media type this endpoint reads (expected application/json)`, { cause: e.cause });
}

/**
 * Errors below the router (unparseable request line or headers, bad Content-Length, header
 * overflow, request timeout): Node hands over the socket, so the answer is written raw, in
 * the same `{"error", "code"}` body as every other error, and the connection is closed.
 */
export function clientErrorHandler(err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, reason, message]: [ErrorCode, string, string] =
    err.code === 'HPE_HEADER_OVERFLOW' ? ['BERTH_ERR_HEADERS_TOO_LARGE', 'Request Header Fields Too Large', 'the request headers are larger than the server accepts']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['BERTH_ERR_REQUEST_TIMEOUT', 'Request Timeout', 'the request was not received in time']
        : ['BERTH_ERR_BAD_REQUEST', 'Bad Request', `malformed HTTP request (${err.code ?? 'parse error'})`];
  const status = ERROR_CODES[code].status;
  const body = JSON.stringify({ error: message, code });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
