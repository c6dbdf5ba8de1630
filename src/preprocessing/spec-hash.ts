/**
 * @module preprocessing/spec-hash
 * The content hash of a preprocessing spec: sha256 (hex) of the RFC 8785 (JCS) canonical JSON
 * of the spec without its `hash` field — the rule the spec itself states in `hashAlgorithm`
 * and the examples' train.py writes into the ONNX file (`berth.preprocessing.hash`). Equal
 * specs hash equal whatever their whitespace or key order.
 */
import { createHash } from 'node:crypto';

/** RFC 8785: keys sorted by UTF-16 code units, no whitespace, ECMAScript number and string forms. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError('JSON has no form for a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value as object).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  throw new TypeError(`cannot canonicalise a ${typeof value}`);
}

/** The spec's content hash (its `hash` field excluded). */
export function specHash(spec: Readonly<Record<string, unknown>>): string {
  const { hash: _ignored, ...rest } = spec;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}
