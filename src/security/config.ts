/**
 * @module security/config
 * The security parts of the server configuration (TypeBox, embedded by src/config/schema.ts):
 * the `auth` section (API tokens with scopes, which route classes stay open, --insecure) and
 * the `server` fields that limit who may talk to the server (Host and Origin allow-lists,
 * TLS, rate and connection limits). docs/security.md explains each with examples.
 */
import { type Static, Type } from '@sinclair/typebox';

/** What a token may do. `read` is decision data (/api/*, the dashboard's data); `admin` is repository control. */
export const SCOPES = ['infer', 'feedback', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Route classes that are open without a token by default (auth.public); health is always open. */
export const PUBLIC_CLASSES = ['metadata', 'metrics', 'dashboard'] as const;
export type PublicClass = (typeof PUBLIC_CLASSES)[number];

/** A token name: what logs, rate limits and (later) decision ids are keyed by. */
export const TOKEN_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

export const TokenSchema = Type.Object(
  {
    name: Type.String({ pattern: TOKEN_NAME_PATTERN, description: 'Who the token belongs to (letters, digits, . _ -; at most 64).' }),
    sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'SHA-256 of the token, in hex (printf %s "$TOKEN" | sha256sum); the token itself is never stored.' }),
    scopes: Type.Array(Type.Union(SCOPES.map((s) => Type.Literal(s))), { minItems: 1, uniqueItems: true, description: 'What the token may do: infer, feedback, read, admin.' }),
    rateLimit: Type.Optional(Type.Integer({ minimum: 1, description: 'Requests this token may send per server.rateLimit.timeWindowMs (overrides server.rateLimit.max).' })),
  },
  { additionalProperties: false },
);
export type TokenConfig = Static<typeof TokenSchema>;

export const AuthConfigSchema = Type.Object(
  {
    tokens: Type.Array(TokenSchema, {
      default: [],
      description: 'API tokens, sent as "Authorization: Bearer <token>". With at least one, every route but health (and auth.public) needs a token with the route\'s scope. BERTH_TOKEN_<NAME>=<scopes>:<token> adds one from the environment.',
    }),
    public: Type.Array(Type.Union(PUBLIC_CLASSES.map((c) => Type.Literal(c))), {
      uniqueItems: true,
      default: [...PUBLIC_CLASSES],
      description: 'Route classes open without a token when tokens are configured: metadata (/v2, model metadata, ready, config, repository index), metrics (/metrics, statistics), dashboard (the page and its files, not its data). A class left out needs a token of any scope.',
    }),
    insecure: Type.Boolean({ default: false, description: 'Allow listening beyond loopback without tokens (--insecure): every route but repository load/unload is then open to anyone who can reach the port.' }),
  },
  { additionalProperties: false, default: {} },
);
export type AuthConfig = Static<typeof AuthConfigSchema>;

/** Fields of the `server` section about exposure (spread into it by src/config/schema.ts). */
export const ServerSecurityFields = {
  allowedHosts: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Host names (host or host:port) the server answers besides localhost, 127.0.0.1 and [::1] on its port. When the server listens on loopback or this list is set, a request for any other Host gets 403 (DNS rebinding).',
  }),
  allowedOrigins: Type.Array(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Web page origins (scheme://host[:port]) besides the server\'s own that may call the API from a browser (answered with CORS headers); any other Origin gets 403.',
  }),
  maxConnections: Type.Integer({ minimum: 0, default: 0, description: 'Open connections the server accepts; more are closed at once (Node\'s server.maxConnections; 0 = no limit).' }),
  rateLimit: Type.Object(
    {
      max: Type.Integer({ minimum: 0, default: 0, description: 'Requests per window for each token (or client address without one); more get 429 with Retry-After. 0 = no limit except per-token auth.tokens[].rateLimit.' }),
      timeWindowMs: Type.Integer({ minimum: 1000, default: 60_000, description: 'The rate limit\'s window.' }),
    },
    { additionalProperties: false, default: {} },
  ),
  tls: Type.Object(
    {
      cert: Type.Optional(Type.String({ minLength: 1, description: 'PEM certificate (chain) file: serve HTTPS (--tls-cert). Needs tls.key.' })),
      key: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key file of tls.cert (--tls-key).' })),
    },
    { additionalProperties: false, default: {} },
  ),
};
