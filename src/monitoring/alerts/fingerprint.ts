/**
 * @module monitoring/alerts/fingerprint
 * Alert identity. An alert is its label set; its fingerprint is computed the way Prometheus
 * and Alertmanager compute a label set's fingerprint (prometheus/common model.LabelSet):
 * FNV-1a 64 over the labels sorted by name, each name and value followed by the byte 0xff
 * (which cannot occur in UTF-8), printed as 16 lowercase hex digits. So the same labels give
 * the same fingerprint here, in Alertmanager and across restarts.
 */
import type { Labels } from './template.js';

const OFFSET64 = 0xcbf29ce484222325n;
const PRIME64 = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
const SEPARATOR = 0xff;
const utf8 = new TextEncoder();

function add(h: bigint, bytes: Uint8Array): bigint {
  for (const b of bytes) h = ((h ^ BigInt(b)) * PRIME64) & MASK64;
  return ((h ^ BigInt(SEPARATOR)) * PRIME64) & MASK64;
}

/** The fingerprint as an unsigned 64-bit integer. */
export function labelsHash(labels: Labels): bigint {
  let h = OFFSET64;
  for (const name of Object.keys(labels).sort()) {
    h = add(h, utf8.encode(name));
    h = add(h, utf8.encode(labels[name]!));
  }
  return h;
}

/** The fingerprint as Alertmanager prints it: 16 hex digits. */
export function fingerprint(labels: Labels): string {
  return labelsHash(labels).toString(16).padStart(16, '0');
}

/** Labels with keys in sorted order (stable JSON and logs). */
export function sortLabels(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) out[k] = labels[k]!;
  return out;
}

/** A label set as Prometheus prints one: {a="x", b="y"} (used for Alertmanager's groupKey). */
export function labelsString(labels: Labels): string {
  const pairs = Object.keys(labels).map((k) => `${k}=${JSON.stringify(labels[k])}`).sort();
  return `{${pairs.join(', ')}}`;
}
