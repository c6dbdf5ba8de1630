/**
 * @module security/policy
 * Turns the configuration into the decisions the request hooks make: which tokens exist,
 * whether every route needs one, which Hosts and Origins are answered. Built first in
 * buildApp, so a server that would listen beyond loopback with no tokens (and no
 * --insecure) refuses to start before it opens anything.
 */
import { BerthError } from '../errors.js';
import type { BerthConfig } from '../config/schema.js';
import type { PublicClass, TokenConfig } from './config.js';
import { HostCheck, isLoopbackAddress, OriginCheck } from './request-checks.js';
import type { Access } from './scopes.js';
import { readTls } from './tls.js';
import { sha256Hex, TokenTable } from './tokens.js';

/** The name the deprecated repository.api.token authenticates as. */
export const REPOSITORY_TOKEN_NAME = 'repository-api';

export interface SecurityPolicy {
  /** Every route but health and the public classes needs a token (auth.tokens is not empty). */
  fullAuth: boolean;
  tokens: TokenTable;
  /** Only the repository token (deprecated): guards load/unload when fullAuth is off. */
  repositoryToken: TokenTable | undefined;
  /** The listen address is loopback only. */
  loopback: boolean;
  /** Open without a token although tokens are configured. */
  publicClasses: ReadonlySet<PublicClass>;
  host: HostCheck;
  origin: OriginCheck;
  https: { cert: Buffer; key: Buffer } | undefined;
  rateLimit: { max: number; timeWindowMs: number; enabled: boolean };
  /** Lines for the start-up log (deprecations, what is open). */
  notices: string[];
}

export function securityPolicy(config: Readonly<BerthConfig>): SecurityPolicy {
  const loopback = isLoopbackAddress(config.server.host);
  const legacy = config.repository.api.token;
  const configured: TokenConfig[] = [...config.auth.tokens];
  const notices: string[] = [];
  const fullAuth = configured.length > 0;
  if (legacy !== undefined) {
    const entry: TokenConfig = { name: REPOSITORY_TOKEN_NAME, sha256: sha256Hex(legacy), scopes: ['admin'] };
    if (fullAuth) configured.push(entry);
    notices.push(`repository.api.token (BERTH_REPOSITORY_TOKEN) is deprecated: it still guards repository load/unload${fullAuth ? ` (as the admin token '${REPOSITORY_TOKEN_NAME}')` : ''}; configure auth.tokens with scope admin instead (docs/security.md)`);
  }
  if (!loopback && !fullAuth && !config.auth.insecure) {
    throw new BerthError(
      'BERTH_ERR_EXPOSED_WITHOUT_AUTH',
      `refusing to listen on ${config.server.host} without API tokens: anyone who can reach the port could run, read and control everything. Configure auth.tokens (or BERTH_TOKEN_<NAME>=<scopes>:<token>; docs/security.md), listen on 127.0.0.1, or pass --insecure (auth.insecure: true, BERTH_INSECURE=1) to serve without tokens anyway`,
    );
  }
  if (!loopback && !fullAuth) notices.push(`listening on ${config.server.host} without API tokens (--insecure): every route but repository load/unload is open to anyone who can reach the port`);
  const tokens = new TokenTable(configured);
  const perToken = configured.some((t) => t.rateLimit !== undefined);
  return {
    fullAuth,
    tokens,
    repositoryToken: !fullAuth && legacy !== undefined ? new TokenTable([{ name: REPOSITORY_TOKEN_NAME, sha256: sha256Hex(legacy), scopes: ['admin'] }]) : undefined,
    loopback,
    publicClasses: new Set(config.auth.public),
    host: new HostCheck({ loopback, allowedHosts: config.server.allowedHosts }),
    origin: new OriginCheck(config.server.allowedOrigins),
    https: readTls(config.server.tls),
    rateLimit: { max: config.server.rateLimit.max, timeWindowMs: config.server.rateLimit.timeWindowMs, enabled: config.server.rateLimit.max > 0 || perToken },
    notices,
  };
}

/** Whether a route of this access class needs no token under the policy. */
export function isOpen(policy: SecurityPolicy, access: Access): boolean {
  if (access === 'health') return true;
  if (!policy.fullAuth) return access !== 'admin';
  return access === 'metadata' || access === 'metrics' || access === 'dashboard' ? policy.publicClasses.has(access) : false;
}
