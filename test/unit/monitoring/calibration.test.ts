/**
 * Issue 10, item 2: the calibration and the label-free estimate. Isotonic regression is
 * checked against scikit-learn 1.2.1 (values printed by
 * test/fixtures/sklearn_calibration_reference.py, run with /usr/bin/python3; its data are
 * rebuilt here). The estimate is checked against what it claims: the mean of the metric
 * the rows realise when labels are drawn from the calibrated probabilities (computed by
 * classificationQuality, itself checked against scikit-learn), and the interval's coverage.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyIsotonic, fitCalibration, fitIsotonic, parseCalibration } from '../../../src/monitoring/calibration.js';
import { estimateBinary, estimateMulticlass } from '../../../src/monitoring/estimate.js';
import { classificationQuality } from '../../../src/monitoring/quality.js';
import { mulberry32 } from '../../../src/random.js';

const n = 400;
const s = Array.from({ length: n }, (_, i) => ((i * 7919 + 13) % 200) / 200);
const y = Array.from({ length: n }, (_, i) => (((i * 104729 + 7) % 1000) * 10 < ((i * 7919 + 13) % 200) * 40 + 1000 ? 1 : 0));
const T = [-0.1, 0.0, 0.0025, 0.123, 0.5, 0.77, 0.995, 1.2];

test('isotonic calibration matches scikit-learn IsotonicRegression(out_of_bounds="clip")', () => {
  const map = fitIsotonic(s, y);
  // sklearn: 27 thresholds; X_thresholds_[:6] [0.0, 0.01, 0.015, 0.145, 0.15, 0.22],
  // y_thresholds_[:6] [0.0, 0.0, 0.16666666666666666, 0.16666666666666666, 0.26666666666666666, 0.26666666666666666]
  assert.equal(map.x.length, 27);
  assert.deepEqual(map.x.slice(0, 6), [0.0, 0.01, 0.015, 0.145, 0.15, 0.22]);
  assert.deepEqual(map.y.slice(0, 6), [0.0, 0.0, 0.16666666666666666, 0.16666666666666666, 0.26666666666666666, 0.26666666666666666]);
  // sklearn predict(T): [0.0, 0.0, 0.0, 0.16666666666666666, 0.4666666666666667, 0.75, 1.0, 1.0]
  const expected = [0.0, 0.0, 0.0, 0.16666666666666666, 0.4666666666666667, 0.75, 1.0, 1.0];
  T.forEach((t, i) => assert.ok(Math.abs(applyIsotonic(map, t) - expected[i]!) < 1e-12, `predict(${t}) = ${applyIsotonic(map, t)}, sklearn ${expected[i]}`));
  // sklearn with sample_weight = 1 + (i % 3): [0.0, 0.0, 0.0, 0.18181818181818182, 0.45, 0.7166666666666667, 1.0, 1.0]
  const w = fitIsotonic(s, y, Array.from({ length: n }, (_, i) => 1 + (i % 3)));
  const expectedW = [0.0, 0.0, 0.0, 0.18181818181818182, 0.45, 0.7166666666666667, 1.0, 1.0];
  T.forEach((t, i) => assert.ok(Math.abs(applyIsotonic(w, t) - expectedW[i]!) < 1e-12, `weighted predict(${t})`));
});

/** A binary "model": raw scores miscalibrated on purpose (too confident), true P(y=1 | s) = 0.1 + 0.8 s. */
function binaryData(rows: number, seed: number): { probs: Float64Array; labels: number[]; p1: number[] } {
  const r = mulberry32(seed);
  const probs = new Float64Array(rows * 2);
  const labels: number[] = [];
  const p1: number[] = [];
  for (let i = 0; i < rows; i++) {
    const t = r();
    const raw = Math.min(1, Math.max(0, 1.3 * t - 0.15));
    probs[2 * i] = 1 - raw;
    probs[2 * i + 1] = raw;
    p1.push(raw);
    labels.push(r() < 0.1 + 0.8 * t ? 1 : 0);
  }
  return { probs, labels, p1 };
}

test('the binary estimate is the mean of what the rows realise under labels drawn from the calibrated probabilities; its interval covers ~95 %', () => {
  const ref = binaryData(20000, 1);
  const cal = parseCalibration(JSON.parse(JSON.stringify(fitCalibration(ref.probs, ref.labels, { classes: ['no', 'yes'], positiveIndex: 1, scoreKind: 'probabilities', source: 'test' }))), 'cal.json');
  assert.ok(cal.fit.eceBefore > 0.03 && cal.fit.eceAfter < cal.fit.eceBefore / 3, JSON.stringify(cal.fit));
  const cur = binaryData(1000, 2);
  const predicted = cur.p1.map((p) => p > 0.5);
  const est = estimateBinary(cur.p1, predicted, cal)!;
  const q = cur.p1.map((p) => applyIsotonic(cal.positive!, p));
  const r = mulberry32(3);
  const draws = 2000;
  const sums = { accuracy: 0, precision: 0, recall: 0, f1: 0, auc: 0 };
  const inside = { accuracy: 0, precision: 0, recall: 0, f1: 0, auc: 0 };
  const predLabels = predicted.map((p) => (p ? 1 : 0));
  for (let d = 0; d < draws; d++) {
    const labels = q.map((p) => (r() < p ? 1 : 0));
    const real = classificationQuality(labels, predLabels, { positive: 1, scores: cur.p1 });
    for (const k of Object.keys(sums) as (keyof typeof sums)[]) {
      const v = real[k]!;
      sums[k] += v;
      if (v >= est[k]!.low && v <= est[k]!.high) inside[k] += 1;
    }
  }
  for (const k of Object.keys(sums) as (keyof typeof sums)[]) {
    const mean = sums[k] / draws;
    assert.ok(Math.abs(mean - est[k]!.value) < 0.004, `${k}: estimate ${est[k]!.value}, mean realised ${mean}`);
    const coverage = inside[k] / draws;
    assert.ok(coverage > 0.92 && coverage < 0.98, `${k}: coverage ${coverage}`);
  }
});

test('the multi-class estimate: accuracy from the confidence calibration, macro precision/recall/F1 near their label-draw means', () => {
  const C = 3;
  const make = (rows: number, seed: number) => {
    const r = mulberry32(seed);
    const probs = new Float64Array(rows * C);
    const labels: number[] = [];
    for (let i = 0; i < rows; i++) {
      const z = [r() * 3, r() * 2, r()];
      const e = z.map(Math.exp);
      const t = e.reduce((x, v) => x + v, 0);
      e.forEach((v, k) => (probs[i * C + k] = v / t));
      // True class drawn from a softened version of the model's probabilities: the model is overconfident.
      const soft = e.map((v) => Math.sqrt(v));
      const st = soft.reduce((x, v) => x + v, 0);
      let u = r() * st;
      let k = 0;
      while (k < C - 1 && (u -= soft[k]!) > 0) k++;
      labels.push(k);
    }
    return { probs, labels };
  };
  const ref = make(30000, 5);
  const cal = fitCalibration(ref.probs, ref.labels, { classes: ['a', 'b', 'c'], positiveIndex: undefined, scoreKind: 'probabilities', source: 'test' });
  const cur = make(3000, 6);
  const predicted = new Int32Array(3000);
  const confidence = new Float64Array(3000);
  for (let i = 0; i < 3000; i++) {
    let best = 0;
    for (let k = 1; k < C; k++) if (cur.probs[i * C + k]! > cur.probs[i * C + best]!) best = k;
    predicted[i] = best;
    confidence[i] = cur.probs[i * C + best]!;
  }
  const est = estimateMulticlass(confidence, cal, { probabilities: cur.probs, predicted })!;
  const real = classificationQuality(cur.labels, Array.from(predicted));
  // The current rows follow the same law as the reference: the estimate is within its interval.
  for (const k of ['accuracy', 'precision', 'recall', 'f1'] as const) {
    const e = est[k]!;
    assert.ok(real[k] >= e.low - 0.01 && real[k] <= e.high + 0.01, `${k}: realised ${real[k]} outside [${e.low}, ${e.high}] (estimate ${e.value})`);
  }
  // Uncalibrated, the mean confidence would overstate accuracy.
  const meanConfidence = confidence.reduce((x, v) => x + v, 0) / confidence.length;
  assert.ok(meanConfidence - real.accuracy > 0.05, `mean confidence ${meanConfidence} vs accuracy ${real.accuracy}`);
  assert.ok(Math.abs(est.accuracy.value - real.accuracy) < 0.02);
});

test('a calibration that does not parse names the file and the field', () => {
  assert.throws(() => parseCalibration({ format: 'berth.calibration/v1', method: 'isotonic', classes: ['a'], scoreKind: 'probabilities', rows: 1 }, 'x/reference.calibration.json'),
    /x\/reference\.calibration\.json: "classes" must be two or more class names; rebuild it with berth reference/);
  assert.throws(() => parseCalibration({ format: 'nope' }, 'c.json'), (err: Error & { code?: string }) => err.code === 'BERTH_ERR_CALIBRATION' && /"format" must be "berth\.calibration\/v1"/.test(err.message));
});
