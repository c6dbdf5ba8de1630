/**
 * @module config/load
 * Builds the frozen server configuration: schema defaults ← config file (YAML or JSON) ←
 * environment (BERTH_*) ← command-line flags. Errors name the source and the field.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { BerthError, messageOf } from '../errors.js';
import { SCOPES } from '../security/config.js';
import { sha256Hex } from '../security/tokens.js';
import { ConfigSchema, ENV_VARS, type BerthConfig } from './schema.js';
import { validate } from './validate.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars from `over` replace. */
export function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isObject(v) && isObject(out[k]) ? merge(out[k] as Json, v) : v;
  }
  return out;
}

function setPath(target: Json, path: string[], value: unknown): void {
  let o = target;
  for (const key of path.slice(0, -1)) {
    if (!isObject(o[key])) o[key] = {};
    o = o[key] as Json;
  }
  o[path[path.length - 1]!] = value;
}

export function readConfigFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new BerthError('BERTH_ERR_CONFIG', `config file ${file}: cannot read: ${messageOf(err)}`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new BerthError('BERTH_ERR_CONFIG', `config file ${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${messageOf(err)}`);
  }
  if (raw === null || raw === undefined) return {};
  if (!isObject(raw)) throw new BerthError('BERTH_ERR_CONFIG', `config file ${file}: expected a mapping at the top level`);
  return raw;
}

export function fromEnvironment(env: Record<string, string | undefined>): Json {
  const out: Json = {};
  for (const [name, spec] of Object.entries(ENV_VARS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (spec.type === 'integer') {
      if (!/^-?\d+$/.test(raw.trim())) throw new BerthError('BERTH_ERR_CONFIG', `environment ${name}: expected an integer, got '${raw}'`);
      value = Number(raw);
    } else if (spec.type === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(raw)) throw new BerthError('BERTH_ERR_CONFIG', `environment ${name}: expected true or false, got '${raw}'`);
      value = /^(true|1)$/i.test(raw);
    } else if (spec.type === 'list') {
      value = raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
    } else if (spec.type === 'json') {
      try {
        value = JSON.parse(raw);
      } catch (err) {
        throw new BerthError('BERTH_ERR_CONFIG', `environment ${name}: expected JSON, got '${raw.slice(0, 40)}${raw.length > 40 ? '…' : ''}' (${messageOf(err)})`);
      }
    }
    setPath(out, spec.path, value);
  }
  const plain = tokensFromEnvironment(env);
  if (plain.length > 0) {
    const listed = (out.auth as Json | undefined)?.tokens;
    setPath(out, ['auth', 'tokens'], [...(Array.isArray(listed) ? listed : []), ...plain]);
  }
  return out;
}

const TOKEN_VAR = /^BERTH_TOKEN_([A-Z0-9][A-Z0-9_]*)$/;
const MIN_PLAIN_TOKEN_LENGTH = 16;

/**
 * `BERTH_TOKEN_<NAME>=<scope,scope>:<token>`: a token handed over in plain text (the usual
 * way secrets reach a container), kept only as its SHA-256 like the configured ones.
 */
export function tokensFromEnvironment(env: Record<string, string | undefined>): Json[] {
  const out: Json[] = [];
  for (const [name, raw] of Object.entries(env)) {
    const m = TOKEN_VAR.exec(name);
    if (m === null || raw === undefined || raw === '') continue;
    const colon = raw.indexOf(':');
    const scopes = colon < 0 ? [] : raw.slice(0, colon).split(',').map((x) => x.trim());
    const token = colon < 0 ? '' : raw.slice(colon + 1);
    const example = `e.g. ${name}=infer,read:$(openssl rand -hex 32)`;
    if (colon < 0) throw new BerthError('BERTH_ERR_CONFIG', `environment ${name}: expected <scopes>:<token>, got no ':' (${example})`);
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || unknown.length > 0) {
      throw new BerthError('BERTH_ERR_CONFIG', `environment ${name}: scopes must be a comma-separated list of ${SCOPES.join(', ')}, got '${raw.slice(0, colon)}' (${example})`);
    }
    if (token.length < MIN_PLAIN_TOKEN_LENGTH) {
      throw new BerthError('BERTH_ERR_CONFIG', `environment ${name}: the token must have at least ${MIN_PLAIN_TOKEN_LENGTH} characters, got ${token.length} (${example})`);
    }
    out.push({ name: m[1]!.toLowerCase().replace(/_/g, '-'), sha256: sha256Hex(token), scopes: [...new Set(scopes)] });
  }
  return out.sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

/** Tokens from the environment are added to those of the file, not put in their place. */
function withEnvironment(base: Json, fromEnv: Json): Json {
  const merged = merge(base, fromEnv);
  const envTokens = (fromEnv.auth as Json | undefined)?.tokens;
  const baseTokens = (base.auth as Json | undefined)?.tokens;
  if (Array.isArray(envTokens) && Array.isArray(baseTokens)) setPath(merged, ['auth', 'tokens'], [...baseTokens, ...envTokens]);
  return merged;
}

function deepFreeze<T>(o: T): T {
  if (isObject(o) || Array.isArray(o)) {
    for (const v of Object.values(o as object)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Worker threads when none are configured: one per CPU, at most 16. */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(availableParallelism(), 16));
}

export interface ConfigSources {
  file?: string;
  env?: Record<string, string | undefined>;
  /** Partial config from command-line flags (already shaped like the config). */
  flags?: Json;
}

export function loadConfig(sources: ConfigSources = {}): Readonly<BerthConfig> {
  const defaults = Value.Default(ConfigSchema, {}) as Json;
  setPath(defaults, ['runtime', 'workers'], defaultWorkerCount());
  let merged = defaults;
  if (sources.file !== undefined) {
    const fromFile = readConfigFile(sources.file);
    validate(ConfigSchema, merge(defaults, fromFile), `config file ${sources.file}`, 'BERTH_ERR_CONFIG');
    merged = merge(merged, fromFile);
  }
  const fromEnv = fromEnvironment(sources.env ?? {});
  merged = withEnvironment(merged, fromEnv);
  validate(ConfigSchema, merged, 'environment', 'BERTH_ERR_CONFIG');
  const config = validate(ConfigSchema, merge(merged, sources.flags ?? {}), 'command-line flags', 'BERTH_ERR_CONFIG');
  return deepFreeze(config);
}
