/**
 * The live fairness window (monitoring/fairness): selection rates by group and demographic
 * parity with Fairlearn's definitions (difference = max − min, ratio = min ÷ max over the
 * groups), checked on hand-computed cases; the ring forgets the oldest decisions exactly;
 * small groups are listed but never decide the disparity.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairnessWindow, groupsOf, MISSING_GROUP } from '../../../src/monitoring/fairness.js';

test('selection rates and demographic parity by hand: a 4/5 vs 1/5 case gives difference 0.6 and ratio 0.25', () => {
  // Group a: 5 decisions, 4 favourable; group b: 5 decisions, 1 favourable.
  const w = new FairnessWindow(['g'], 100);
  [1, 1, 1, 1, 0].forEach((f) => w.add(['a'], f === 1));
  [0, 0, 1, 0, 0].forEach((f) => w.add(['b'], f === 1));
  const [s] = w.summary(1);
  assert.deepEqual(s!.groups.map((g) => [g.group, g.decisions, g.favourable, g.selectionRate]), [['a', 5, 4, 0.8], ['b', 5, 1, 0.2]]);
  assert.ok(Math.abs(s!.demographicParityDifference - 0.6) < 1e-12);
  assert.ok(Math.abs(s!.demographicParityRatio - 0.25) < 1e-12);
});

test('the ring keeps the newest decisions: overwritten ones leave the counts exactly', () => {
  const w = new FairnessWindow(['sex', 'race'], 4);
  w.add(['Male', 'White'], true);
  w.add(['Male', 'Black'], true);
  w.add(['Female', 'White'], false);
  w.add(['Female', 'White'], true);
  w.add(['Female', 'Black'], false); // replaces the first (Male, White, favourable)
  w.add(['Female', 'Black'], false); // replaces the second (Male, Black, favourable)
  assert.equal(w.count, 4);
  const [sex, race] = w.summary(1);
  assert.deepEqual(sex!.groups.map((g) => [g.group, g.decisions, g.favourable]), [['Female', 4, 1]], 'Male left the window entirely');
  assert.ok(Number.isNaN(sex!.demographicParityRatio), 'one group: nothing to compare');
  assert.deepEqual(race!.groups.map((g) => [g.group, g.decisions, g.favourable]), [['Black', 2, 0], ['White', 2, 1]]);
  assert.equal(race!.demographicParityRatio, 0);
  assert.equal(race!.demographicParityDifference, 0.5);
});

test('groups under the minimum size are listed, marked, and left out of the disparity', () => {
  const w = new FairnessWindow(['race'], 1000);
  for (let i = 0; i < 40; i++) w.add(['White'], i < 20); // 0.5
  for (let i = 0; i < 40; i++) w.add(['Black'], i < 10); // 0.25
  for (let i = 0; i < 3; i++) w.add(['Other'], false); // 0, but only 3 decisions
  const [s] = w.summary(30);
  assert.deepEqual(s!.groups.map((g) => [g.group, g.small]), [['Black', false], ['White', false], ['Other', true]]);
  assert.equal(s!.demographicParityRatio, 0.5);
  assert.equal(s!.demographicParityDifference, 0.25);
  const [all] = w.summary(1);
  assert.equal(all!.demographicParityRatio, 0, 'with every group counted, Other (0) sets the ratio');
});

test('groups come from the raw record, else parameters.context; absent ones are their own group', () => {
  assert.deepEqual(groupsOf(['sex', 'region', 'race'], { sex: 'Female', age: 40 }, { region: 'north', sex: 'ignored' }), ['Female', 'north', MISSING_GROUP]);
  assert.deepEqual(groupsOf(['sex'], undefined, 'not an object'), [MISSING_GROUP]);
  assert.throws(() => new FairnessWindow(['sex'], 0), /positive integer/);
});

test('group quality by hand: accuracy, TPR and FPR per group, and equalized odds difference = the larger of the TPR and FPR spreads', async () => {
  const { groupQuality } = await import('../../../src/monitoring/fairness.js');
  const d = (sex: string, label: string, predicted: string) => ({ context: { sex }, label, predicted });
  // Men: 2 positives (1 found), 2 negatives (1 false alarm) → TPR 0.5, FPR 0.5, accuracy 0.5.
  // Women: 2 positives (2 found), 2 negatives (0 false alarms) → TPR 1, FPR 0, accuracy 1.
  const decisions = [
    d('Male', 'yes', 'yes'), d('Male', 'yes', 'no'), d('Male', 'no', 'yes'), d('Male', 'no', 'no'),
    d('Female', 'yes', 'yes'), d('Female', 'yes', 'yes'), d('Female', 'no', 'no'), d('Female', 'no', 'no'),
    { context: undefined, label: 'no', predicted: 'yes' },
  ];
  const [sex] = groupQuality(decisions, ['sex'], 'yes', 2);
  const byGroup = Object.fromEntries(sex!.groups.map((g) => [g.group, [g.labelled, g.accuracy, g.truePositiveRate, g.falsePositiveRate, g.small]]));
  assert.deepEqual(byGroup.Male, [4, 0.5, 0.5, 0.5, false]);
  assert.deepEqual(byGroup.Female, [4, 1, 1, 0, false]);
  assert.deepEqual(byGroup['(missing)'], [1, 0, Number.NaN, 1, true]);
  // TPR spread 0.5, FPR spread 0.5 (the small group is left out): 0.5.
  assert.equal(sex!.equalizedOddsDifference, 0.5);
  const [tpOnly] = groupQuality([d('a', 'yes', 'yes'), d('a', 'no', 'no'), d('b', 'yes', 'no'), d('b', 'no', 'no')], ['sex'], 'yes', 1);
  assert.equal(tpOnly!.equalizedOddsDifference, 1, 'TPR 1 vs 0, FPR 0 vs 0');
});
