/**
 * @module server/http-errors
 * Turns any error thrown while handling a request into the protocol's error body
 * `{"error": "...", "code": "BERTH_ERR_..."}` with the right status and headers. Fastify's
 * own errors (body too large, bad content length, ...) are mapped to Berth codes.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, type ErrorCode } from '../errors.js';
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
    if (e.status >= 500 && e.code !== 'BERTH_ERR_QUEUE_FULL' && e.code !== 'BERTH_ERR_MODEL_NOT_READY' && e.code !== 'BERTH_ERR_SHUTTING_DOWN') {
      logger.error({ reqId: request.id, url: request.url, code: e.code, err: e.cause ?? e }, e.message);
    }
    reply.code(e.status).headers(e.headers).type('application/json').send(JSON.stringify({ error: e.message, code: e.code }));
  };
}
