/**
 * @module monitoring/quality
 * Model quality on labelled decisions: accuracy, precision, recall, F1 and ROC AUC for
 * classifiers, MAE and RMSE for regressors. Plain functions over arrays; checked against
 * scikit-learn in test/unit/monitoring/quality.test.ts. (The label-free estimate beside
 * them is monitoring/estimate, on scores calibrated by monitoring/calibration.)
 */

export interface ClassificationQuality {
  count: number;
  accuracy: number;
  /** Macro-averaged over the classes seen in labels or predictions (binary: of the positive class). */
  precision: number;
  recall: number;
  f1: number;
  /** ROC AUC of the positive-class score (binary only; undefined when one class is absent). */
  auc: number | undefined;
}

export interface RegressionQuality {
  count: number;
  mae: number;
  rmse: number;
}

/**
 * Classification quality. `positive` makes it binary: precision/recall/F1 of that class
 * (scikit-learn's average='binary'); without it they are macro averages.
 * `scores` (probability of the positive class, binary only) gives the AUC.
 */
export function classificationQuality(labels: readonly (string | number)[], predicted: readonly (string | number)[], options: { positive?: string | number; scores?: readonly number[] } = {}): ClassificationQuality {
  const n = labels.length;
  if (predicted.length !== n) throw new RangeError('labels and predictions differ in length');
  if (n === 0) return { count: 0, accuracy: NaN, precision: NaN, recall: NaN, f1: NaN, auc: undefined };
  let correct = 0;
  for (let i = 0; i < n; i++) if (String(labels[i]) === String(predicted[i])) correct += 1;
  const prf = (cls: string): { p: number; r: number; f: number } => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < n; i++) {
      const l = String(labels[i]) === cls;
      const p = String(predicted[i]) === cls;
      if (l && p) tp += 1;
      else if (p) fp += 1;
      else if (l) fn += 1;
    }
    // scikit-learn's zero_division: 0 when a denominator is 0.
    const p = tp + fp === 0 ? 0 : tp / (tp + fp);
    const r = tp + fn === 0 ? 0 : tp / (tp + fn);
    return { p, r, f: p + r === 0 ? 0 : (2 * p * r) / (p + r) };
  };
  let precision: number;
  let recall: number;
  let f1: number;
  if (options.positive !== undefined) {
    ({ p: precision, r: recall, f: f1 } = prf(String(options.positive)));
  } else {
    const classes = [...new Set([...labels, ...predicted].map(String))];
    const all = classes.map(prf);
    precision = mean(all.map((x) => x.p));
    recall = mean(all.map((x) => x.r));
    f1 = mean(all.map((x) => x.f));
  }
  let auc: number | undefined;
  if (options.scores !== undefined && options.positive !== undefined) {
    auc = rocAuc(labels.map((l) => String(l) === String(options.positive)), options.scores);
  }
  return { count: n, accuracy: correct / n, precision, recall, f1, auc };
}

function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return xs.length === 0 ? NaN : s / xs.length;
}

/** ROC AUC by the Mann–Whitney statistic with midranks for ties (equals scikit-learn's roc_auc_score). */
export function rocAuc(positive: readonly boolean[], scores: readonly number[]): number | undefined {
  const n = positive.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let nPos = 0;
  for (const p of positive) if (p) nPos += 1;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return undefined;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j += 1;
    const midrank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (positive[order[k]!]) rankSumPos += midrank;
    i = j + 1;
  }
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function regressionQuality(truth: readonly number[], predicted: readonly number[]): RegressionQuality {
  const n = truth.length;
  if (predicted.length !== n) throw new RangeError('truth and predictions differ in length');
  if (n === 0) return { count: 0, mae: NaN, rmse: NaN };
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = predicted[i]! - truth[i]!;
    abs += Math.abs(d);
    sq += d * d;
  }
  return { count: n, mae: abs / n, rmse: Math.sqrt(sq / n) };
}
