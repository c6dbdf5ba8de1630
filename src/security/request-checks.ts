/**
 * @module security/request-checks
 * The checks that keep web pages out: the Host header (a page on a rebound DNS name reaches
 * a loopback server under its own name), the Origin header (a page of another site sending
 * requests with the user's network position) and the Content-Type (the types a page may send
 * without a CORS preflight — text/plain, form encodings — are never accepted). Pure
 * functions of the request's headers; ./hooks.ts applies them.
 */
import { BerthError } from '../errors.js';
import type { BodyKind } from './scopes.js';

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', 'localhost']);
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Whether a listen address reaches only this machine. Other 127.x addresses count as beyond loopback. */
export function isLoopbackAddress(host: string): boolean {
  return LOOPBACK_ADDRESSES.has(host.toLowerCase().replace(/^\[(.*)\]$/, '$1'));
}

/** `host[:port]` of a Host header or allow-list entry, lower-cased; undefined when malformed. */
export function parseHostPort(value: string): { host: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (m === null) return undefined;
  return { host: m[1]!.toLowerCase(), port: m[2] === undefined ? undefined : Number(m[2]) };
}

export interface HostPolicy {
  /** The listen address is loopback: only loopback names (and allowedHosts) are answered. */
  loopback: boolean;
  allowedHosts: readonly string[];
}

export class HostCheck {
  readonly #enforced: boolean;
  readonly #allowed: { host: string; port: number | undefined }[];

  constructor(policy: HostPolicy) {
    this.#enforced = policy.loopback || policy.allowedHosts.length > 0;
    this.#allowed = policy.allowedHosts.map((h, i) => {
      const p = parseHostPort(h);
      if (p === undefined) throw new BerthError('BERTH_ERR_CONFIG', `server.allowedHosts[${i}]: expected a host name or host:port, got '${h}'`);
      return p;
    });
  }

  /**
   * Throws unless the Host header names this server. `localPort` is the port the connection
   * came in on (undefined for requests injected in-process, which have no socket); a Host
   * without a port means the scheme's default port.
   */
  check(hostHeader: string | undefined, localPort: number | undefined, tls: boolean): void {
    if (!this.#enforced || hostHeader === undefined) return;
    const p = parseHostPort(hostHeader);
    const port = p?.port ?? (tls ? 443 : 80);
    if (p !== undefined) {
      if (LOOPBACK_NAMES.includes(p.host) && (localPort === undefined || port === localPort)) return;
      if (this.#allowed.some((a) => a.host === p.host && (a.port === undefined || a.port === port))) return;
    }
    throw new BerthError('BERTH_ERR_HOST_NOT_ALLOWED', `Host '${hostHeader.slice(0, 100)}' is not allowed: this server answers localhost, 127.0.0.1 and [::1] on port ${localPort ?? '(any)'}${this.#allowed.length > 0 ? ` and ${this.#allowed.length} name(s) of server.allowedHosts` : ''}; add the name to server.allowedHosts (BERTH_ALLOWED_HOSTS) to serve it (the check stops DNS rebinding)`);
  }
}

/** `scheme://host[:port]` of an origin, lower-cased, default port omitted; undefined when not a URL origin. */
export function normalizeOrigin(value: string): string | undefined {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return u.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

export class OriginCheck {
  readonly #allowed: Set<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.#allowed = new Set(allowedOrigins.map((o, i) => {
      const n = normalizeOrigin(o);
      if (n === undefined || new URL(o).pathname.length > 1) throw new BerthError('BERTH_ERR_CONFIG', `server.allowedOrigins[${i}]: expected an origin like https://dashboard.example.com[:port], got '${o}'`);
      return n;
    }));
  }

  /** Whether the origin is one of server.allowedOrigins (so it gets CORS headers). */
  listed(origin: string): boolean {
    const n = normalizeOrigin(origin);
    return n !== undefined && this.#allowed.has(n);
  }

  /**
   * Throws unless a browser request's Origin is the server's own (the page was served by
   * this host) or allowed. Requests without Origin (curl, SDKs, same-origin GETs) pass.
   */
  check(originHeader: string | undefined, hostHeader: string | undefined): void {
    if (originHeader === undefined) return;
    let own = false;
    try {
      own = hostHeader !== undefined && new URL(originHeader).host.toLowerCase() === hostHeader.toLowerCase();
    } catch {
      // 'null' (sandboxed frames, file: pages) or garbage: not an origin that can be ours.
    }
    if (own || this.listed(originHeader)) return;
    throw new BerthError('BERTH_ERR_ORIGIN_NOT_ALLOWED', `Origin '${originHeader.slice(0, 100)}' is not allowed: a web page may call this server only from its own origin or one listed in server.allowedOrigins (BERTH_ALLOWED_ORIGINS); add it there to allow it`);
  }
}

const ACCEPTED: Record<Exclude<BodyKind, 'none'>, readonly string[]> = {
  json: ['application/json'],
  infer: ['application/json', 'application/octet-stream'],
};

/** RFC 9110 `type/subtype` (tokens), parameters cut off. */
const MEDIA_TYPE = /^[a-z0-9!#$%&'*+.^_`|~-]+\/[a-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * Throws 415 unless a body comes with one of the types the route reads. A bodyless request
 * may omit Content-Type (curl -X POST); a bodyless one that names another type (an HTML form)
 * is refused like one with a body.
 */
export function checkContentType(kind: BodyKind, contentType: string | undefined, hasBody: boolean): void {
  if (kind === 'none') return;
  const accepted = ACCEPTED[kind];
  const list = accepted.join(' or ');
  if (contentType === undefined || contentType.trim() === '') {
    if (!hasBody) return;
    throw new BerthError('BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type header missing: this endpoint accepts ${list} (e.g. curl -H 'Content-Type: application/json')`);
  }
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  if (!MEDIA_TYPE.test(media)) {
    throw new BerthError('BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type '${contentType.slice(0, 100)}' is not a media type (expected type/subtype): this endpoint accepts ${list}`);
  }
  if (!accepted.includes(media)) {
    throw new BerthError('BERTH_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type '${media}' is not accepted: this endpoint accepts ${list}${kind === 'infer' ? ' (binary tensor data: application/octet-stream with Inference-Header-Content-Length)' : ''}`);
  }
}
