/**
 * Issue 10, item 1: class probabilities from a score output. Probabilities pass (renormalised),
 * logits become probabilities only when configured (softmax; sigmoid for one logit), and
 * anything else is reported as not probabilities with the fix — never read as them.
 * Softmax reference: scipy.special.softmax([2.0, -1.0, 0.5]) = [0.78559703, 0.03911257, 0.1752904].
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tensor } from '../../../src/inference/types.js';
import { classProbabilities, type ClassificationTask } from '../../../src/monitoring/scores.js';

const task = (over: Partial<ClassificationTask> = {}): ClassificationTask => ({
  kind: 'classification', scoreOutput: 'scores', labelOutput: undefined, classCount: 3, classes: ['a', 'b', 'c'], positiveIndex: undefined, scoreKind: undefined, scoreWidth: 3, ...over,
});
const tensor = (data: number[], width: number): Tensor => ({ name: 'scores', datatype: 'FP32', shape: [data.length / width, width], data: Float32Array.from(data) });

test('probability rows pass, divided by their sum; the argmax is the predicted class', () => {
  const p = classProbabilities(task(), tensor([0.2, 0.5, 0.3000001, 0.9, 0.05, 0.05], 3), 2);
  assert.equal(p.problem, undefined);
  assert.deepEqual(Array.from(p.predicted), [1, 0]);
  for (let r = 0; r < 2; r++) assert.ok(Math.abs(p.probabilities[r * 3]! + p.probabilities[r * 3 + 1]! + p.probabilities[r * 3 + 2]! - 1) < 1e-15);
});

test('regression: logits are reported as not probabilities, with the setting that fixes it', () => {
  const p = classProbabilities(task(), tensor([0.2, 0.5, 0.3, 2.0, -1.0, 0.5], 3), 2);
  assert.match(p.problem!, /^output 'scores' is not class probabilities \(row 1: a score of 2 is outside \[0, 1\]\); if it holds logits, set monitoring\.scoreKind: logits/);
  // Rows summing to 2 are not probabilities either, though every value is in [0, 1].
  assert.match(classProbabilities(task(), tensor([0.9, 0.9, 0.2], 3), 1).problem!, /its scores sum to 2, not 1/);
  assert.match(classProbabilities(task({ scoreKind: 'probabilities' }), tensor([2, 0, 0], 3), 1).problem!, /^monitoring\.scoreKind is probabilities, but row 0/);
});

test('scoreKind logits: softmax per row (scipy.special.softmax), sigmoid for one logit', () => {
  const p = classProbabilities(task({ scoreKind: 'logits' }), tensor([2.0, -1.0, 0.5], 3), 1);
  assert.equal(p.problem, undefined);
  [0.78559703, 0.03911257, 0.1752904].forEach((v, k) => assert.ok(Math.abs(p.probabilities[k]! - v) < 1e-7, `p[${k}] = ${p.probabilities[k]}`));
  const one = classProbabilities(task({ scoreKind: 'logits', classCount: 2, classes: ['no', 'yes'], positiveIndex: 1, scoreWidth: 1 }), tensor([0, 2, -3], 1), 3);
  assert.deepEqual(Array.from(one.predicted), [0, 1, 0]);
  assert.ok(Math.abs(one.probabilities[3]! - 1 / (1 + Math.exp(-2))) < 1e-15);
  assert.ok(Math.abs(one.probabilities[2]! + one.probabilities[3]! - 1) < 1e-15);
});
