/**
 * @module test/unit/drift/helpers
 * Shared helpers for the drift tests: the integer-arithmetic sequences that
 * test/fixtures/drift/scipy_reference.py also builds, and a relative-tolerance assertion.
 */
import assert from 'node:assert/strict';

/** x_i = ((i·mul + add) mod m) / scale + shift for i = 0..n−1 (same as `seq` in scipy_reference.py). */
export function seq(n: number, mul: number, add: number, mod: number, scale: number, shift = 0): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * mul + add) % mod) / scale + shift;
  return out;
}

/** Asserts |actual − expected| ≤ rel·|expected| + abs. */
export function close(actual: number, expected: number, rel = 1e-9, abs = 1e-15, what = ''): void {
  const ok = Math.abs(actual - expected) <= rel * Math.abs(expected) + abs;
  assert.ok(ok, `${what} expected ${expected}, got ${actual} (rel ${rel}, abs ${abs})`);
}

/** mulberry32 (src/random.ts), under the name the tests use. */
export { mulberry32 as rng } from '../../../src/random.js';

/** Standard normal draws from a uniform generator (Box–Muller). */
export function normals(n: number, rand: () => number, mean = 0, sd = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rand();
    const v = rand();
    out[i] = mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}
