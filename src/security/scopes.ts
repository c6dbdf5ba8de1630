/**
 * @module security/scopes
 * The one table of who may call what: every route the server registers, with the scope a
 * token needs for it (or the open class it belongs to) and the body it takes. The security
 * hooks (./hooks.ts) refuse to start a server with a route missing here, so a new endpoint
 * cannot go out unclassified: add it to ROUTES when you add the route.
 */
import { BerthError } from '../errors.js';
import type { PublicClass, Scope } from './config.js';

/**
 * - a scope: a token with that scope (when tokens are configured)
 * - a public class: open by default (auth.public); a token of any scope once closed
 * - `health`: always open, no Host or Origin check (load balancers and probes)
 */
export type Access = Scope | PublicClass | 'health';

/** What a POST body must be: `json` (application/json, may be empty), `infer` (JSON or binary tensor data). */
export type BodyKind = 'none' | 'json' | 'infer';

export interface RouteRule {
  access: Access;
  body: BodyKind;
  /** Its answer can carry model load errors (file paths, ONNX Runtime source locations): strip them. */
  redact?: true;
}

const meta = (redact = false): RouteRule => (redact ? { access: 'metadata', body: 'none', redact: true } : { access: 'metadata', body: 'none' });
const read: RouteRule = { access: 'read', body: 'none' };

/** `METHOD url` as fastify registers it → rule. HEAD routes follow their GET. */
export const ROUTES: Readonly<Record<string, RouteRule>> = {
  'GET /v2/health/live': { access: 'health', body: 'none' },
  'GET /v2/health/ready': { access: 'health', body: 'none' },

  'GET /v2': meta(),
  'GET /v2/models/:model': meta(true),
  'GET /v2/models/:model/versions/:version': meta(true),
  'GET /v2/models/:model/ready': meta(true),
  'GET /v2/models/:model/versions/:version/ready': meta(true),
  'GET /v2/models/:model/config': meta(true),
  'GET /v2/models/:model/versions/:version/config': meta(true),
  // Lists models with their state and load errors; also re-scans the repository.
  'POST /v2/repository/index': { access: 'metadata', body: 'json', redact: true },

  'POST /v2/models/:model/infer': { access: 'infer', body: 'infer' },
  'POST /v2/models/:model/versions/:version/infer': { access: 'infer', body: 'infer' },
  'POST /v2/models/:model/explain': { access: 'infer', body: 'infer' },
  'POST /v2/models/:model/versions/:version/explain': { access: 'infer', body: 'infer' },
  'POST /v2/models/:model/feedback': { access: 'feedback', body: 'json' },

  // KServe V1 / TF Serving REST: the verb rides on the last segment ({model}:predict).
  'POST /v1/models/:model': { access: 'infer', body: 'json' },
  'POST /v1/models/:model/versions/:version': { access: 'infer', body: 'json' },
  'GET /v1/models/:model': meta(true),
  'GET /v1/models/:model/versions/:version': meta(true),
  'GET /v1/models/:model/metadata': meta(true),

  'POST /v2/repository/models/:model/load': { access: 'admin', body: 'json' },
  'POST /v2/repository/models/:model/unload': { access: 'admin', body: 'json' },

  'GET /metrics': { access: 'metrics', body: 'none' },
  'GET /v2/models/stats': { access: 'metrics', body: 'none' },
  'GET /v2/models/:model/stats': { access: 'metrics', body: 'none' },
  'GET /v2/models/:model/versions/:version/stats': { access: 'metrics', body: 'none' },

  'GET /api/predictions': read,
  'GET /api/timeseries': read,
  'GET /api/models': { access: 'read', body: 'none', redact: true },
  'GET /api/quality': read,
  'GET /api/drift': read,
  'GET /api/fairness': read,
  'GET /api/alerts': read,

  'GET /': { access: 'dashboard', body: 'none', redact: true },
  'GET /dashboard/:build/*': { access: 'dashboard', body: 'none' },
};

export function routeKey(method: string, url: string): string {
  return `${method === 'HEAD' ? 'GET' : method} ${url}`;
}

/** The rule of a registered route; throws (and so stops start-up) for a route not in ROUTES. */
export function ruleFor(method: string | string[], url: string): RouteRule {
  const methods = Array.isArray(method) ? method : [method];
  let rule: RouteRule | undefined;
  for (const m of methods) {
    rule = ROUTES[routeKey(m, url)];
    if (rule === undefined) {
      throw new BerthError('BERTH_ERR_INTERNAL', `route ${m} ${url} has no access rule: add it to ROUTES in src/security/scopes.ts (its scope, or the open class it belongs to) and to docs/security.md`);
    }
  }
  return rule!;
}
