/**
 * @module security/hooks
 * Wires the security policy into fastify. `onRoute`: every route must have a rule in
 * ./scopes.ts (start-up fails otherwise). `onRequest`, before any body is read, in this
 * order: Host (DNS rebinding), Origin (other web pages; CORS for allowed ones), the token
 * and its scope (sets `request.principal`), the rate limit, the Content-Type. `onSend`:
 * answers that can carry model load errors lose file paths (./redact.ts).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError } from '../errors.js';
import { isOpen, type SecurityPolicy } from './policy.js';
import type { Redactor } from './redact.js';
import { checkContentType } from './request-checks.js';
import { type RouteRule, ruleFor } from './scopes.js';
import { bearerToken, type Principal } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated token's name; undefined when the request carried none (or auth is off). */
    principal: string | undefined;
  }
  interface FastifyContextConfig {
    /** This route's entry of the access table (set by the onRoute hook). */
    security?: RouteRule;
  }
}

const CORS_ALLOW_HEADERS = 'authorization, content-type, inference-header-content-length';

export interface SecurityHooksOptions {
  policy: SecurityPolicy;
  redactor: Redactor;
}

export function installSecurity(http: FastifyInstance, { policy, redactor }: SecurityHooksOptions): void {
  http.decorateRequest('principal', undefined);
  const principals = new Map<string, Principal>();

  http.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object), security: ruleFor(route.method, route.url) };
  });

  http.addHook('onRequest', (req, reply, done) => {
    try {
      if (req.headers.host === undefined && req.raw.httpVersion === '1.1') {
        throw new BerthError('BERTH_ERR_MISSING_HOST', 'the request has no Host header, which HTTP/1.1 requires (Host: <server name>:<port>)');
      }
      if (preflight(req, reply, policy)) return;
      const rule = req.routeOptions.config.security;
      if (rule === undefined || rule.access === 'health') {
        done();
        return;
      }
      policy.host.check(req.headers.host, req.socket?.localPort, policy.https !== undefined);
      const origin = req.headers.origin;
      policy.origin.check(origin, req.headers.host);
      if (origin !== undefined && policy.origin.listed(origin)) reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
      const principal = authenticate(req, rule, policy);
      if (principal !== undefined) {
        req.principal = principal.name;
        principals.set(principal.name, principal);
      }
      checkContentType(rule.body, req.headers['content-type'], hasBody(req));
      done();
    } catch (err) {
      done(err as Error);
    }
  });

  if (policy.rateLimit.enabled) installRateLimit(http, policy, principals);

  http.addHook('onSend', (req, _reply, payload, done) => {
    if (req.routeOptions.config.security?.redact === true && typeof payload === 'string' && redactor.applies(payload)) {
      done(null, redactor.redact(payload));
      return;
    }
    done(null, payload);
  });
}

function hasBody(req: FastifyRequest): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** A CORS preflight from an allowed origin: answered here (no route takes OPTIONS). */
function preflight(req: FastifyRequest, reply: FastifyReply, policy: SecurityPolicy): boolean {
  const origin = req.headers.origin;
  if (req.method !== 'OPTIONS' || origin === undefined || req.headers['access-control-request-method'] === undefined || !policy.origin.listed(origin)) return false;
  void reply
    .code(204)
    .header('access-control-allow-origin', origin)
    .header('access-control-allow-methods', 'GET, POST')
    .header('access-control-allow-headers', CORS_ALLOW_HEADERS)
    .header('access-control-max-age', '600')
    .header('vary', 'Origin')
    .send();
  return true;
}

/**
 * The principal the request acts as, or a 401/403. Without auth.tokens only repository
 * load/unload is guarded (by the deprecated repository token, or by listening on loopback).
 */
function authenticate(req: FastifyRequest, rule: RouteRule, policy: SecurityPolicy): Principal | undefined {
  const token = bearerToken(req.headers.authorization);
  const route = `${req.method} ${req.routeOptions.url ?? ''}`;
  if (token === null) {
    throw new BerthError('BERTH_ERR_UNAUTHORIZED', 'Authorization header: expected "Bearer <token>"', { headers: { 'WWW-Authenticate': 'Bearer error="invalid_request"' } });
  }
  if (!policy.fullAuth) {
    if (rule.access !== 'admin') return undefined;
    if (policy.repositoryToken !== undefined) {
      const p = token === undefined ? undefined : policy.repositoryToken.lookup(token);
      if (p === undefined) {
        throw new BerthError('BERTH_ERR_UNAUTHORIZED', `${route} needs "Authorization: Bearer <token>" with the repository token (repository.api.token)`, { headers: { 'WWW-Authenticate': 'Bearer' } });
      }
      return p;
    }
    if (!policy.loopback) {
      throw new BerthError('BERTH_ERR_FORBIDDEN', 'repository load/unload needs a token when the server listens beyond loopback: configure auth.tokens with scope admin (docs/security.md)');
    }
    return undefined;
  }
  const principal = token === undefined ? undefined : policy.tokens.lookup(token);
  if (token !== undefined && principal === undefined) {
    throw new BerthError('BERTH_ERR_UNAUTHORIZED', 'the API token is not one this server knows (auth.tokens, BERTH_TOKEN_<NAME>)', { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
  }
  if (isOpen(policy, rule.access)) return principal;
  const scope = rule.access === 'admin' || rule.access === 'infer' || rule.access === 'feedback' || rule.access === 'read' ? rule.access : undefined;
  if (principal === undefined) {
    const needs = scope === undefined ? 'an API token (any scope: auth.public does not list this route\'s class)' : `an API token with scope '${scope}'`;
    throw new BerthError('BERTH_ERR_UNAUTHORIZED', `${route} needs ${needs}: send "Authorization: Bearer <token>"`, { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
  if (scope !== undefined && !principal.scopes.has(scope)) {
    throw new BerthError('BERTH_ERR_INSUFFICIENT_SCOPE', `token '${principal.name}' lacks scope '${scope}', which ${route} needs (its scopes: ${[...principal.scopes].join(', ')})`, {
      headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
    });
  }
  return principal;
}

/**
 * Counting by @fastify/rate-limit (its store and windows), keyed by the token's name, else
 * the client address; the limiter is created on the first request, once the plugin is loaded.
 */
function installRateLimit(http: FastifyInstance, policy: SecurityPolicy, principals: ReadonlyMap<string, Principal>): void {
  void http.register(rateLimit, { global: false });
  const limitOf = (req: FastifyRequest): number => (req.principal === undefined ? undefined : principals.get(req.principal)?.rateLimit) ?? policy.rateLimit.max;
  let limiter: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  const windowSeconds = Math.round(policy.rateLimit.timeWindowMs / 1000);
  http.addHook('onRequest', async (req, reply) => {
    const rule = req.routeOptions.config.security;
    if (rule === undefined || rule.access === 'health' || limitOf(req) === 0) return;
    limiter ??= http.createRateLimit({
      keyGenerator: (r) => (r.principal === undefined ? `ip:${r.ip}` : `token:${r.principal}`),
      max: (r) => limitOf(r),
      timeWindow: policy.rateLimit.timeWindowMs,
    });
    const r = await limiter(req);
    if (r.isAllowed) return;
    void reply.header('x-ratelimit-limit', String(r.max)).header('x-ratelimit-remaining', String(r.remaining)).header('x-ratelimit-reset', String(r.ttlInSeconds));
    if (!r.isExceeded) return;
    const who = req.principal === undefined ? `client ${req.ip}` : `token '${req.principal}'`;
    throw new BerthError('BERTH_ERR_RATE_LIMITED', `rate limit: ${who} may send ${r.max} requests per ${windowSeconds} s (server.rateLimit${req.principal === undefined ? '' : ', auth.tokens[].rateLimit'}); retry in ${r.ttlInSeconds} s`, {
      headers: { 'Retry-After': String(Math.max(1, r.ttlInSeconds)) },
    });
  });
}
