/**
 * @module drift/values
 * Turns one cell (a CSV string, or a JSON value from a request) into what a column
 * counts: a finite number, a category string, "missing" (a missing token, null,
 * undefined, NaN) or "invalid" (text in a numeric column, ±Infinity). Nothing is dropped
 * silently: missing and invalid cells are counted per column.
 */

export const MISSING = null;
export const INVALID = false;
export type NumericCell = number | typeof MISSING | typeof INVALID;
export type CategoricalCell = string | typeof MISSING;

export function numericCell(v: unknown, missing: ReadonlySet<string>): NumericCell {
  if (typeof v === 'number') return Number.isNaN(v) ? MISSING : Number.isFinite(v) ? v : INVALID;
  if (v === null || v === undefined) return MISSING;
  if (typeof v === 'string') {
    const s = v.trim();
    if (missing.has(s)) return MISSING;
    const x = Number(s);
    return Number.isFinite(x) ? x : INVALID;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  return INVALID;
}

export function categoricalCell(v: unknown, missing: ReadonlySet<string>): CategoricalCell {
  if (v === null || v === undefined) return MISSING;
  if (typeof v === 'number') return Number.isNaN(v) ? MISSING : String(v);
  const s = typeof v === 'string' ? v.trim() : String(v);
  return missing.has(s) ? MISSING : s;
}
