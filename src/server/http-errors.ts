/**
 * @module server/http-errors
 * Turns any error thrown while handling a request into the protocol's error body
 * `{"error": "...", "code": "BERTH_ERR_..."}` with the right status and headers. Fastify's
 * own errors (body too large, bad content length, ...) are mapped to Berth codes.
 */
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, ERROR_CODES, type ErrorCode } from '../errors.js';
import type { Logger } from '../logging/logger.js';

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

export function errorHandler(logger: Logger) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const e = toBerthError(err);
    if (e.status >= 500 && e.code !== 'BERTH_ERR_QUEUE_FULL' && e.code !== 'BERTH_ERR_OVERLOADED' && e.code !== 'BERTH_ERR_MODEL_NOT_READY' && e.code !== 'BERTH_ERR_SHUTTING_DOWN') {
      logger.error({ reqId: request.id, url: request.url, code: e.code, err: e.cause ?? e }, e.message);
    }
    // Every 503 says when to come back (a store that is down: a few seconds).
    const headers = e.status === 503 && !Object.keys(e.headers).some((h) => h.toLowerCase() === 'retry-after') ? { ...e.headers, 'Retry-After': '5' } : e.headers;
    reply.code(e.status).headers(headers).type('application/json').send(JSON.stringify({ error: e.message, code: e.code }));
  };
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
