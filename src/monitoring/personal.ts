/**
 * @module monitoring/personal
 * Personal fields in the decision log. A tabular preprocessing spec may mark raw columns as
 * personal (`"personal": {"sex": "hash", "race": "drop"}`). The model still sees them; the
 * decision log does not keep them in clear: their slots in the logged feature tensor are
 * zeroed, and for `hash` a keyed hash of the decoded value (HMAC-SHA-256 with the store's
 * personal key, 128 bits in hex) is logged as an extra BYTES tensor `personal:<column>`, one
 * element per row, so decisions of the same person or group can still be joined and counted
 * (fairness by group) without storing the value. `drop` keeps nothing. A missing value hashes
 * as the empty string. The key must be the same on every replica sharing a store
 * (`store.personalKey`, BERTH_PERSONAL_KEY); without one a random key is kept in the data
 * directory.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../inference/types.js';
import type { TabularSpec } from '../preprocessing/tabular.js';

export type PersonalPolicy = 'hash' | 'drop';

export interface PersonalRedactor {
  /** Columns redacted, for the log line at load. */
  readonly columns: Readonly<Record<string, PersonalPolicy>>;
  /** The logged copy of a request's inputs: personal slots zeroed, hashes appended. */
  redact(inputs: readonly Tensor[]): Tensor[];
}

/** A redactor for a version whose spec marks personal columns, or undefined when none is marked. */
export function personalRedactor(spec: TabularSpec, key: Buffer): PersonalRedactor | undefined {
  const marked = spec.personal ?? {};
  const features = spec.features.filter((f) => marked[f.column] !== undefined);
  if (features.length === 0) return undefined;
  const width = spec.featureCount;
  return {
    columns: marked,
    redact(inputs) {
      const out: Tensor[] = [];
      const hashes: Tensor[] = [];
      for (const t of inputs) {
        // The spec encodes one input: the float tensor whose last dimension is its feature count.
        if (t.datatype !== 'FP32' || t.shape.at(-1) !== width || !(t.data instanceof Float32Array)) {
          out.push(t);
          continue;
        }
        const data = Float32Array.from(t.data);
        const rows = data.length / width;
        for (const f of features) {
          const values: string[] = [];
          for (let r = 0; r < rows; r++) {
            const base = r * width + f.offset;
            if (marked[f.column] === 'hash') values.push(hmac(key, f.column, decoded(f, data, base)));
            data.fill(0, base, base + f.width);
          }
          if (marked[f.column] === 'hash') hashes.push({ name: `personal:${f.column}`, datatype: 'BYTES', shape: [rows], data: values });
        }
        out.push({ ...t, data });
      }
      return [...out, ...hashes];
    },
  };
}

/** The raw value a feature's slots encode: the category whose slot is set, or the de-standardised number. */
function decoded(f: TabularSpec['features'][number], data: Float32Array, base: number): string {
  if (f.type === 'numeric') return String(Math.round((data[base]! * f.std + f.mean) * 1e6) / 1e6);
  for (let k = 0; k < f.width; k++) if (data[base + k] === 1) return f.categories[k]!;
  return ''; // missing (all zero) or unseen
}

function hmac(key: Buffer, column: string, value: string): string {
  return createHmac('sha256', key).update(`${column}\u0000${value}`).digest('hex').slice(0, 32);
}

/**
 * The key personal fields are hashed with: the configured one, else a random key created once
 * in the data directory (`personal.key`, mode 0600) so hashes stay joinable across restarts.
 */
export function personalKey(configured: string | undefined, dataDir: string): Buffer {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  const path = join(dataDir, 'personal.key');
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true });
    try {
      writeFileSync(path, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process made it first
    }
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'utf8');
}
