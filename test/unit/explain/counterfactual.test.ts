/**
 * Counterfactuals: the cheapest change of actionable fields, over reference values, that
 * flips an adverse decision; immutable fields are never proposed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findCounterfactual, quantileOf } from '../../../src/explain/counterfactual.js';
import type { FieldDistribution } from '../../../src/explain/reasons.js';

// Reference hours 1..100 (one record each), sex 50/50.
const hours: FieldDistribution = { kind: 'numeric', sample: { values: Float64Array.from({ length: 100 }, (_, i) => i + 1), weights: null, total: 100 } };
const sex: FieldDistribution = { kind: 'categorical', share: new Map([['Female', 0.5], ['Male', 0.5]]) };
const fields = [{ name: 'hours', type: 'numeric' as const, used: true }, { name: 'sex', type: 'categorical' as const, used: true }];
// The model approves Male with hours ≥ 30, anyone with hours ≥ 60.
const decide = async (rs: Record<string, unknown>[]) => rs.map((r) => {
  const ok = (r.hours as number) >= 60 || (r.sex === 'Male' && (r.hours as number) >= 30);
  return { adverse: !ok, outcome: ok ? 'approved' : 'rejected' };
});

test('quantiles of a sample: the smallest value with at least p of the weight at or below it', () => {
  assert.equal(quantileOf((hours as any).sample, 0.25), 25);
  assert.equal(quantileOf({ values: Float64Array.from([1, 2]), weights: Float64Array.from([3, 1]), total: 4 }, 0.5), 1);
});

test('the nearest flipping value of an actionable field; an immutable field is never changed', async () => {
  const distributions = new Map<string, FieldDistribution>([['hours', hours], ['sex', sex]]);
  const raw = { hours: 35, sex: 'Female' };
  const free = await findCounterfactual({ raw, fields, distributions, immutable: new Set(), decide, favourable: 'approved' });
  // Changing sex (cost 1) flips it too, but moving hours from 35 to 60 costs 0.25 of the reference.
  assert.deepEqual(free.changes, [{ feature: 'hours', from: 35, to: 60 }]);
  assert.equal(free.text, 'would be approved with hours 60 (instead of 35)');
  const locked = await findCounterfactual({ raw, fields, distributions, immutable: new Set(['hours']), decide, favourable: 'approved' });
  assert.deepEqual(locked.changes, [{ feature: 'sex', from: 'Female', to: 'Male' }]);
  const none = await findCounterfactual({ raw, fields, distributions, immutable: new Set(['hours', 'sex']), decide, favourable: 'approved' });
  assert.deepEqual(none.changes, []);
  assert.match(none.text, /^no change of one or two actionable fields \(none\)/);
});
