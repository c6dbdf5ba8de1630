/**
 * @module security/tokens
 * The API tokens the server knows, kept only as SHA-256 digests. A presented token is hashed
 * and its digest compared with every configured digest by `timingSafeEqual`, all of them,
 * whichever matches: the time a lookup takes says nothing about which token (or how much of
 * one) was right.
 */
// The default import (the module object), so the comparison can be observed by a test.
import crypto from 'node:crypto';
import { BerthError } from '../errors.js';
import type { Scope, TokenConfig } from './config.js';

export function sha256Hex(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  /** Requests per rate-limit window, when the token has its own limit. */
  rateLimit: number | undefined;
}

interface Entry {
  digest: Buffer;
  principal: Principal;
}

export class TokenTable {
  readonly #entries: Entry[];

  constructor(tokens: readonly TokenConfig[]) {
    const names = new Set<string>();
    const digests = new Set<string>();
    this.#entries = tokens.map((t, i) => {
      const hex = t.sha256.toLowerCase();
      if (names.has(t.name)) throw new BerthError('BERTH_ERR_CONFIG', `auth.tokens[${i}].name: '${t.name}' is used by another token; names must be unique`);
      if (digests.has(hex)) throw new BerthError('BERTH_ERR_CONFIG', `auth.tokens[${i}].sha256: the same token is configured twice (also under another name)`);
      names.add(t.name);
      digests.add(hex);
      return { digest: Buffer.from(hex, 'hex'), principal: { name: t.name, scopes: new Set(t.scopes), rateLimit: t.rateLimit } };
    });
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The principal whose token this is, or undefined. Compares against every entry. */
  lookup(token: string): Principal | undefined {
    const digest = crypto.createHash('sha256').update(token, 'utf8').digest();
    let found: Principal | undefined;
    for (const e of this.#entries) {
      if (crypto.timingSafeEqual(digest, e.digest) && found === undefined) found = e.principal;
    }
    return found;
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined without one, null when malformed. */
export function bearerToken(header: string | undefined): string | undefined | null {
  if (header === undefined || header === '') return undefined;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  return m === null ? null : m[1]!;
}
