/**
 * @module explain/background
 * The background an explanation hides fields with: a small set of raw training records,
 * shipped with the version as `<model>/<N>/explain.background.json` (written by
 * `berth background`). Stratified by label, so the base value E[f] is the model's mean over
 * records with the training data's class mix; seeded, so the same data gives the same file.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BerthError, messageOf } from '../errors.js';
import { mulberry32 } from '../random.js';

export const BACKGROUND_FILE = 'explain.background.json';
export const BACKGROUND_FORMAT = 'berth.background/v1';

export interface Background {
  format: typeof BACKGROUND_FORMAT;
  /** Where the records came from and how they were drawn. */
  source: string;
  records: Record<string, unknown>[];
}

/** `size` records drawn without replacement, each label's share as in `records` (largest remainders), label fields dropped. */
export function sampleBackground(records: readonly Record<string, unknown>[], size: number, seed: number, labelColumn: string | undefined): Record<string, unknown>[] {
  if (records.length === 0) throw new BerthError('BERTH_ERR_CLI_USAGE', 'no records to draw the background from');
  const n = Math.min(size, records.length);
  const groups = new Map<string, number[]>();
  records.forEach((r, i) => {
    const key = labelColumn === undefined ? '' : String(r[labelColumn]);
    const g = groups.get(key) ?? [];
    g.push(i);
    groups.set(key, g);
  });
  const keys = [...groups.keys()].sort();
  const exact = keys.map((k) => (n * groups.get(k)!.length) / records.length);
  const take = exact.map(Math.floor);
  const order = keys.map((_, i) => i).sort((a, b) => exact[b]! - take[b]! - (exact[a]! - take[a]!) || a - b);
  for (let k = 0; take.reduce((a, b) => a + b, 0) < n; k++) take[order[k % order.length]!]! += 1;
  const r = mulberry32(seed);
  const out: Record<string, unknown>[] = [];
  keys.forEach((key, g) => {
    const idx = [...groups.get(key)!];
    for (let i = 0; i < take[g]!; i++) {
      const j = i + Math.floor(r() * (idx.length - i));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
      const rec = { ...records[idx[i]!]! };
      if (labelColumn !== undefined) delete rec[labelColumn];
      out.push(rec);
    }
  });
  return out;
}

/** The version's background records, or why there are none. */
export function loadBackground(modelFile: string): { records?: Record<string, unknown>[]; note: string } {
  const path = join(dirname(modelFile), BACKGROUND_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { note: `no ${BACKGROUND_FILE} beside the model (write it with berth background)` };
    return { note: `${BACKGROUND_FILE}: ${messageOf(err)}` };
  }
  try {
    const b = JSON.parse(text) as Partial<Background>;
    if (b.format !== BACKGROUND_FORMAT || !Array.isArray(b.records) || b.records.length === 0) return { note: `${BACKGROUND_FILE}: not a ${BACKGROUND_FORMAT} document with records` };
    return { records: b.records, note: `${b.records.length} background records` };
  } catch (err) {
    return { note: `${BACKGROUND_FILE}: ${messageOf(err)}` };
  }
}
