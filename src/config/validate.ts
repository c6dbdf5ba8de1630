/**
 * @module config/validate
 * Validation of configuration objects against TypeBox schemas, with messages that name
 * the file and the field ("berth.yaml: batching.maxQueueDelayMs: expected number").
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BerthError, type ErrorCode } from '../errors.js';

/** JSON-pointer path `/a/0/b` as `a[0].b`, or `(top level)`. */
export function fieldName(path: string): string {
  if (path === '') return '(top level)';
  return path
    .split('/')
    .slice(1)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

/** The allowed values of a union of literals (an enum), else undefined. */
function literalChoices(schema: unknown): unknown[] | undefined {
  const anyOf = (schema as { anyOf?: unknown } | undefined)?.anyOf;
  if (!Array.isArray(anyOf) || anyOf.length === 0) return undefined;
  const values = anyOf.map((s) => (s as { const?: unknown }).const);
  return values.every((v) => v !== undefined) ? values : undefined;
}

/** Returns `value` typed as the schema, or throws `code` listing every problem found (up to 5). */
export function validate<S extends TSchema>(schema: S, value: unknown, where: string, code: ErrorCode): Static<S> {
  if (Value.Check(schema, value)) return value;
  const problems: string[] = [];
  for (const e of Value.Errors(schema, value)) {
    const field = fieldName(e.path);
    const choices = literalChoices(e.schema);
    const msg = e.schema && (e.schema as { additionalProperties?: unknown }).additionalProperties === false && e.message.includes('Unexpected property')
      ? `unknown field`
      : choices !== undefined
        ? `expected one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(e.value) ?? String(e.value)}`
        : e.message.toLowerCase();
    const line = `${field}: ${msg}`;
    if (!problems.includes(line)) problems.push(line);
    if (problems.length >= 5) break;
  }
  throw new BerthError(code, `${where}: ${problems.join('; ')}`);
}
