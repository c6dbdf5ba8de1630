/**
 * Expected values printed by test/fixtures/sklearn_quality_reference.py with scikit-learn
 * 1.2.1 (Debian's python3-sklearn); the script's inputs are repeated here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classificationQuality, regressionQuality, rocAuc } from '../../../src/monitoring/quality.js';

const close = (a: number | undefined, b: number, eps = 1e-12): void => assert.ok(a !== undefined && Math.abs(a - b) <= eps, `${String(a)} ≠ ${b}`);

test('binary classification matches scikit-learn (accuracy, precision, recall, F1, ROC AUC)', () => {
  const y = [0, 1, 1, 0, 1, 1, 0, 0, 1, 0];
  const p = [0, 1, 0, 0, 1, 1, 1, 0, 1, 1];
  const s = [0.1, 0.9, 0.4, 0.2, 0.8, 0.7, 0.6, 0.3, 0.7, 0.55];
  const q = classificationQuality(y, p, { positive: 1, scores: s });
  // sklearn: accuracy_score 0.7, precision_score 0.6666666666666666, recall_score 0.8, f1_score 0.7272727272727272, roc_auc_score 0.92
  close(q.accuracy, 0.7);
  close(q.precision, 0.6666666666666666);
  close(q.recall, 0.8);
  close(q.f1, 0.7272727272727272);
  close(q.auc, 0.92);
  assert.equal(q.count, 10);
});

test('multiclass macro averages match scikit-learn', () => {
  const y = ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'c'];
  const p = ['a', 'b', 'b', 'a', 'c', 'c', 'b', 'c'];
  const q = classificationQuality(y, p);
  // sklearn average='macro': accuracy 0.625, precision 0.6666666666666666, recall 0.611111111111111, f1 0.6222222222222222
  close(q.accuracy, 0.625);
  close(q.precision, 0.6666666666666666);
  close(q.recall, 0.611111111111111);
  close(q.f1, 0.6222222222222222);
  assert.equal(q.auc, undefined);
});

test('labels compare by value across number and string ("1" equals 1), zero_division gives 0', () => {
  close(classificationQuality([1, '0'], ['1', 0]).accuracy, 1);
  // sklearn precision_score([0,0,1],[0,0,0], zero_division=0) 0.0, f1_score 0.0
  const q = classificationQuality([0, 0, 1], [0, 0, 0], { positive: 1 });
  close(q.precision, 0);
  close(q.f1, 0);
  assert.ok(Number.isNaN(classificationQuality([], []).accuracy));
});

test('ROC AUC with tied scores uses midranks like scikit-learn; undefined with one class', () => {
  // sklearn roc_auc_score([0,1,0,1,1], [0.5,0.5,0.2,0.9,0.5]) 0.8333333333333333
  close(rocAuc([false, true, false, true, true], [0.5, 0.5, 0.2, 0.9, 0.5]), 0.8333333333333333);
  assert.equal(rocAuc([true, true], [0.1, 0.2]), undefined);
});

test('regression MAE and RMSE match scikit-learn', () => {
  // sklearn mean_absolute_error 0.5, mean_squared_error ** 0.5 0.6123724356957945
  const q = regressionQuality([3, -0.5, 2, 7], [2.5, 0, 2, 8]);
  close(q.mae, 0.5);
  close(q.rmse, 0.6123724356957945);
});
