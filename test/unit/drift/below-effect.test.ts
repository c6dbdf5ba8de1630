/**
 * Issue 10, item 5: a change that is significant but below its effect threshold is not
 * drift, but is reported as "significant, below the effect threshold", with the threshold
 * that would flag it and the snippets that set it — which, applied, flag it. The case is the
 * issue's: the `sex` share 3 points lower over 16,281 rows (Adult sizes). Reference values
 * from scipy 1.10.1: chi2_contingency([[10771, 21790], [4900, 11381]], correction=False)
 * → statistic 44.322999822783935, p 2.7842574418320203e-11; jensenshannon(…, base=2)
 * → 0.027254112713732733.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DriftAccumulator } from '../../../src/drift/accumulator.js';
import { profileRows } from '../../../src/drift/profile.js';
import { SIGNIFICANT_BELOW_EFFECT } from '../../../src/drift/report.js';
import type { Schema } from '../../../src/drift/schema.js';
import { renderHtml } from '../../../src/drift/html.js';
import { parseModelConfig } from '../../../src/repository/model-config.js';
import { close } from './helpers.js';

const schema: Schema = { columns: [{ name: 'sex', type: 'categorical', role: 'feature' }], missingTokens: [] };
const column = (female: number, male: number) => [...Array.from({ length: female }, () => 'Female'), ...Array.from({ length: male }, () => 'Male')];

test('regression: a 3-point change in a share over 16,281 rows is reported as significant, below the effect threshold, with the snippet that flags it', () => {
  const profile = profileRows(column(10771, 21790).map((sex) => ({ sex })), schema, { multivariate: false });
  const acc = new DriftAccumulator(profile, { multivariate: { enabled: false } });
  acc.addColumns({ sex: column(4900, 11381) });
  const report = acc.evaluate();
  const sex = report.features[0]!;
  close(sex.test.statistic, 44.322999822783935, 1e-9);
  close(sex.test.pValue, 2.7842574418320203e-11, 1e-6);
  close(sex.effect.value, 0.027254112713732733, 1e-9);
  assert.equal(sex.drifted, false);
  assert.equal(sex.status, SIGNIFICANT_BELOW_EFFECT);
  assert.equal(report.verdict.drift, false);
  assert.deepEqual(report.verdict.significantBelowEffect, ['sex']);
  assert.match(sex.decision, /^significant, below the effect threshold: chi2 p=2\.78e-11 .* but jensenshannon=0\.0273 < 0\.1/);
  const hint = sex.thresholdHint!;
  assert.equal(hint.effect, 0.027);
  assert.ok(renderHtml(report).includes(SIGNIFICANT_BELOW_EFFECT));

  // The --schema / profile snippet, applied, flags the same window.
  const fromSchema = JSON.parse(hint.schema) as { name: string; thresholds: Record<string, unknown> };
  assert.equal(fromSchema.name, 'sex');
  const again = new DriftAccumulator(profile, { multivariate: { enabled: false }, columns: { sex: fromSchema.thresholds } });
  again.addColumns({ sex: column(4900, 11381) });
  const flagged = again.evaluate();
  assert.equal(flagged.features[0]!.status, 'drift');
  assert.deepEqual(flagged.verdict.driftedFeatures, ['sex']);

  // The berth.yaml snippet is a valid model config whose thresholds are the same.
  const config = parseModelConfig(hint.berthYaml, 'berth.yaml', 'income');
  assert.deepEqual(config.monitoring?.driftThresholds, { sex: fromSchema.thresholds });
});

test('a share change too small to be significant stays "no drift", with no hint', () => {
  const profile = profileRows(column(10771, 21790).map((sex) => ({ sex })), schema, { multivariate: false });
  const acc = new DriftAccumulator(profile, { multivariate: { enabled: false } });
  acc.addColumns({ sex: column(330, 670) });
  const sex = acc.evaluate().features[0]!;
  assert.equal(sex.status, 'no drift');
  assert.equal(sex.thresholdHint, undefined);
});
