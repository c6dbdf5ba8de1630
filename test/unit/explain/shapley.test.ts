/**
 * Exact Shapley values checked against what they must be: the permutation definition
 * (brute force over all M! orderings), the closed form of a linear model
 * (φ_i = w_i·(x_i − mean_b b_i)), zero for a feature the model ignores, equal values for
 * symmetric features, and efficiency (Σφ = f(x) − E[f]).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalitionValues, shapleyFromCoalitions } from '../../../src/explain/shapley.js';
import { mulberry32 } from '../../../src/random.js';

type F = (row: readonly number[]) => number;

/** v(S) for every mask: the mean over background rows of f with features in S from x. */
function values(f: F, x: readonly number[], background: readonly number[][]): Float64Array {
  const m = x.length;
  const outputs: number[] = [];
  for (let mask = 0; mask < 1 << m; mask++) {
    for (const b of background) outputs.push(f(x.map((xi, i) => ((mask >> i) & 1 ? xi : b[i]!))));
  }
  return coalitionValues(outputs, m, background.length);
}

/** Shapley by definition: the average marginal contribution over every ordering of the features. */
function bruteForce(f: F, x: readonly number[], background: readonly number[][]): number[] {
  const m = x.length;
  const v = values(f, x, background);
  const phi = new Array<number>(m).fill(0);
  let orderings = 0;
  const permute = (prefix: number[], rest: number[]): void => {
    if (rest.length === 0) {
      orderings++;
      let mask = 0;
      for (const i of prefix) {
        phi[i]! += v[mask | (1 << i)]! - v[mask]!;
        mask |= 1 << i;
      }
      return;
    }
    rest.forEach((i, k) => permute([...prefix, i], [...rest.slice(0, k), ...rest.slice(k + 1)]));
  };
  permute([], Array.from({ length: m }, (_, i) => i));
  return phi.map((p) => p / orderings);
}

const r = mulberry32(42);
const background = Array.from({ length: 5 }, () => Array.from({ length: 7 }, () => r() * 4 - 2));
const x = Array.from({ length: 7 }, () => r() * 4 - 2);
// Interactions, a product, a threshold: nothing additive about it; feature 6 is ignored.
const nonlinear: F = (z) => Math.tanh(z[0]! * z[1]!) + (z[2]! > 0.3 ? z[3]! ** 2 : -z[4]!) + Math.exp(0.3 * z[5]!) * z[0]!;

test('exact Shapley equals the permutation definition (7 features, all 5040 orderings) to 1e-9, and is efficient', () => {
  const phi = shapleyFromCoalitions(values(nonlinear, x, background), 7);
  const brute = bruteForce(nonlinear, x, background);
  for (let i = 0; i < 7; i++) assert.ok(Math.abs(phi[i]! - brute[i]!) < 1e-9, `feature ${i}: ${phi[i]} vs ${brute[i]}`);
  const v = values(nonlinear, x, background);
  const sum = phi.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - (v[127]! - v[0]!)) < 1e-12, 'Σφ = f(x) − E[f]');
  assert.equal(phi[6], 0, 'a feature the model ignores gets exactly 0');
});

test('a linear model has the closed form φ_i = w_i·(x_i − mean of the background), exactly', () => {
  const w = [0.5, -2, 3, 0, 1.25, -0.75, 4];
  const linear: F = (z) => 0.1 + z.reduce((a, zi, i) => a + w[i]! * zi, 0);
  const phi = shapleyFromCoalitions(values(linear, x, background), 7);
  for (let i = 0; i < 7; i++) {
    const mean = background.reduce((a, b) => a + b[i]!, 0) / background.length;
    assert.ok(Math.abs(phi[i]! - w[i]! * (x[i]! - mean)) < 1e-12, `feature ${i}`);
  }
});

test('symmetric features get equal values', () => {
  const sym: F = (z) => z[0]! * z[1]! + z[2]!;
  const bg = [[0, 0, 0], [1, 1, 5]];
  const phi = shapleyFromCoalitions(values(sym, [2, 2, 1], bg), 3);
  assert.ok(Math.abs(phi[0]! - phi[1]!) < 1e-12);
  assert.ok(phi[0]! > 0);
});

test('too many features for exact enumeration is refused, naming the limit', () => {
  assert.throws(() => shapleyFromCoalitions(new Float64Array(1 << 17), 17), /at most 16/);
});
