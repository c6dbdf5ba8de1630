/**
 * @module server/admission
 * Overload shedding before the body is read (issue 9 item 5): a preParsing hook asks the
 * model version whether a request arriving now would wait longer than its default deadline
 * or batching.maxQueueWaitMs allow (the queue plus the requests admitted and still being
 * read), and refuses at once with 503 BERTH_ERR_OVERLOADED, Retry-After and Retry-After-Ms,
 * so a refusal costs no body read, JSON decode or validation on the HTTP thread.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, isBerthError } from '../errors.js';
import type { ModelVersion } from '../inference/model-version.js';

/**
 * A refused request whose unread rest may be larger than this (or has no Content-Length)
 * gets `Connection: close`: Node would otherwise read and discard all of it to reuse the
 * connection. Smaller bodies are discarded and the connection kept (no reconnect per refusal).
 */
export const DISCARD_BODY_BYTES = 64 * 1024;

/**
 * The client's deadline in milliseconds, for the check before the body (whose
 * `parameters.timeout` is not read yet) is read; without it, batching.queueTimeoutMs.
 */
export const TIMEOUT_HEADER = 'Berth-Timeout-Ms';

/** The deadline (scheduler clock, ms) the early check uses: the header's, else the version's default, else none. */
function deadlineOf(req: FastifyRequest, mv: ModelVersion, nowMs: number): number | undefined {
  const raw = req.headers['berth-timeout-ms'];
  if (raw !== undefined) {
    const s = Array.isArray(raw) ? raw[0]! : raw;
    if (!/^\d{1,15}$/.test(s.trim())) throw new BerthError('BERTH_ERR_BAD_REQUEST', `${TIMEOUT_HEADER}: expected a non-negative integer (milliseconds), got '${s.slice(0, 40)}'`);
    const ms = Number(s);
    if (ms > 0) return nowMs + ms;
  }
  const timeoutMs = mv.settings.batching.queueTimeoutMs;
  return timeoutMs > 0 ? nowMs + timeoutMs : undefined;
}

export interface AdmissionHooks<R extends FastifyRequest> {
  /** Route preParsing hook: admits or refuses before any byte of the body is read. */
  preParsing: (req: R, reply: FastifyReply, payload: NodeJS.ReadableStream) => Promise<NodeJS.ReadableStream>;
  /** Route preHandler hook: the body is read; the handler queues the request next (or fails it). */
  preHandler: (req: R, reply: FastifyReply) => Promise<void>;
}

/**
 * `resolve` finds the version a request is for (404/503 errors pass through); `refused` is
 * told of each refusal (live monitoring), which is also counted as a rejected request.
 */
export function admissionHooks<R extends FastifyRequest>(resolve: (req: R) => ModelVersion, refused?: (mv: ModelVersion) => void): AdmissionHooks<R> {
  const releases = new WeakMap<R, () => void>();
  return {
    async preParsing(req, reply, payload) {
      const mv = resolve(req);
      const deadlineMs = deadlineOf(req, mv, performance.now());
      let release: () => void;
      try {
        release = mv.admitEarly(deadlineMs);
      } catch (err) {
        if (isBerthError(err, 'BERTH_ERR_OVERLOADED')) {
          mv.observe('rejected', reply.elapsedTime * 1e6);
          refused?.(mv);
          if (!(Number(req.headers['content-length']) <= DISCARD_BODY_BYTES)) reply.header('Connection', 'close');
        }
        throw err;
      }
      releases.set(req, release);
      // Whatever ends the request first (decoded, refused later, client gone) stops counting it.
      reply.raw.once('close', release);
      return payload;
    },
    async preHandler(req) {
      releases.get(req)?.();
    },
  };
}
