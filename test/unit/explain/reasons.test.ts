/**
 * Reason codes in words: where a raw value sits in its reference distribution, and which
 * attributions are given as reasons for a decision.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fractionsAround, positionOf, reasonsFor, type FieldDistribution } from '../../../src/explain/reasons.js';

// Ten reference records of hours-per-week: 20 once, 40 six times, 50 twice, 60 once.
const hours: FieldDistribution = { kind: 'numeric', sample: { values: Float64Array.from([20, 40, 40, 40, 40, 40, 40, 50, 50, 60]), weights: null, total: 10 } };

test('a value is placed by the share of reference records strictly below and above it', () => {
  assert.deepEqual(fractionsAround((hours as any).sample, 40), { below: 0.1, above: 0.3 });
  assert.equal(positionOf(hours, 20), 'lower than 90% of reference records');
  assert.equal(positionOf(hours, 55), 'higher than 90% of reference records');
  assert.equal(positionOf(hours, 61), 'higher than every reference record');
  assert.equal(positionOf(hours, 19), 'lower than every reference record');
  assert.equal(positionOf(hours, 40), 'near the middle of reference records');
  // Weighted samples (a compacted sketch) count each value by its weight.
  const weighted: FieldDistribution = { kind: 'numeric', sample: { values: Float64Array.from([1, 2]), weights: Float64Array.from([3, 1]), total: 4 } };
  assert.equal(positionOf(weighted, 2), 'higher than 75% of reference records');
  assert.equal(positionOf({ kind: 'categorical', share: new Map([['Private', 0.7]]) }, 'Private'), 'shared by 70% of reference records');
  assert.equal(positionOf({ kind: 'categorical', share: new Map([['Private', 0.7]]) }, 'Unseen'), 'shared by 0% of reference records');
  assert.equal(positionOf(hours, null), undefined);
});

test('reasons are the attributions toward the decision, largest first, at most three', () => {
  const attributions = [
    { feature: 'a', value: 1, contribution: 0.2 },
    { feature: 'hours', value: 20, contribution: -0.11 },
    { feature: 'c', value: 'x', contribution: -0.3 },
    { feature: 'd', value: 2, contribution: -0.004 },
    { feature: 'e', value: 3, contribution: -0.05 },
  ];
  const fields = new Map([['hours', hours]]);
  const rejected = reasonsFor(attributions, false, 'P(>50K)', fields);
  assert.deepEqual(rejected.map((r) => r.feature), ['c', 'hours', 'e']);
  assert.equal(rejected[1]!.text, 'hours 20: lower than 90% of reference records; lowered P(>50K) by 0.11');
  assert.equal(rejected[0]!.text, 'c x: lowered P(>50K) by 0.30', 'no distribution: no position phrase');
  const approved = reasonsFor(attributions, true, 'P(>50K)', fields);
  assert.deepEqual(approved.map((r) => r.text), ['a 1: raised P(>50K) by 0.20']);
  assert.equal(reasonsFor([{ feature: 'd', value: 2, contribution: -0.004 }], false, 'y', new Map())[0]!.text, 'd 2: lowered y by 0.004');
});
