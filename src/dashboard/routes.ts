/**
 * @module dashboard/routes
 * The monitoring dashboard: `GET /` serves the page (see page.ts), `GET /dashboard/<build>/…`
 * its scripts, styles and uPlot (see assets.ts). The page is a client of the JSON APIs in
 * monitoring/routes.ts and talks to no other host (enforced by its Content-Security-Policy).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelManager } from '../repository/manager.js';
import { loadAssets } from './assets.js';
import { renderPage } from './page.js';

export interface DashboardContext {
  manager: ModelManager;
  serverVersion: string;
  /** Live monitoring is on: /api/models, /api/quality, /api/drift and /api/alerts exist. */
  monitoring: boolean;
  /** The decision log is on: /api/predictions and /api/timeseries answer (else 403). */
  decisionLog: boolean;
  /** How often the page polls the APIs (ms); default 3000. */
  refreshIntervalMs?: number;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 3000;

/**
 * Same-origin only: no CDN, no web fonts, no other host. uPlot styles its elements through
 * the CSSOM (allowed); inline style attributes are not used.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function commonHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
}

export function registerDashboardRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  const bundle = loadAssets();
  const refreshIntervalMs = ctx.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;

  app.get('/', async (_req, reply) => {
    const html = renderPage(bundle.base, {
      serverVersion: ctx.serverVersion,
      monitoring: ctx.monitoring,
      decisionLog: ctx.decisionLog,
      refreshIntervalMs,
      models: ctx.manager.index().map((e) => ({ name: e.name, version: e.version ?? null, state: e.state, reason: e.reason })),
    });
    return commonHeaders(reply)
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .type('text/html; charset=utf-8')
      .send(html);
  });

  // Asset URLs carry the build id, so a response never changes: cache it for a year. A
  // request for another build (a page from before a restart) gets the current file, uncached.
  app.get('/dashboard/:build/*', async (req: FastifyRequest<{ Params: { build: string; '*': string } }>, reply) => {
    const asset = bundle.assets.get(req.params['*']);
    if (asset === undefined) {
      return reply.code(404).type('application/json').send(JSON.stringify({ error: `no dashboard file '${req.params['*']}'`, code: 'BERTH_ERR_NOT_FOUND' }));
    }
    const current = req.params.build === bundle.build;
    commonHeaders(reply)
      .header('etag', asset.etag)
      .header('cache-control', current ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(asset.contentType);
    if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    return reply.send(asset.body);
  });
}
