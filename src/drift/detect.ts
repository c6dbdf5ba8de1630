/**
 * @module drift/detect
 * The decision layer: turns a prepared reference and current windows into a DriftReport.
 * Per column: a p-value test (KS or CvM for numbers, chi-squared or z for categories) and
 * an effect size (normalised Wasserstein, JS distance, PSI, Hellinger or KS D). p-values
 * are corrected across the family (features; outputs by Bonferroni; labels), and a column
 * drifts only when its corrected p-value is below alpha AND its effect reaches the
 * threshold. Missing-rate change and unseen categories are separate signals.
 */
import { gammaP } from './stats/distributions.js';
import { binomialTest, chi2Homogeneity, poolSparse, twoProportionZTest } from './stats/categorical.js';
import { cvmAsymptoticPValue } from './stats/cvm.js';
import { hellinger, jensenShannon, psi } from './stats/distances.js';
import { ksPValue } from './stats/ks.js';
import { adjustPValues } from './stats/multiple.js';
import { normalSf } from './stats/distributions.js';
import type { DriftOptions, EffectMetric, TestName } from './options.js';
import type { CategoricalReference, NumericReference, PreparedReference } from './reference.js';
import { REPORT_FORMAT, SIGNIFICANT_BELOW_EFFECT, type ChartData, type ColumnDrift, type DriftReport, type MultivariateDrift, type SideSummary } from './report.js';
import type { CategoricalWindow, ColumnWindow, MultivariateWindow, NumericWindow } from './window.js';

interface NumericComparison {
  n: number;
  ks: number;
  cvm: number;
  wasserstein: number;
  /**
   * Bound on |wasserstein − the Wasserstein-1 distance to the reference the grid stands
   * for|: where the two CDFs cross inside a grid interval the current values' positions
   * are not kept (only their count and sum), so that interval's integral is only known to
   * lie in [0, L·max(a − g₀, g₁ − a)], and the estimate lies in the same range.
   */
  wassersteinError: number;
  refBins: Float64Array;
  curBins: Float64Array;
  chart: ChartData | null;
}

/** KS, CvM, Wasserstein and binned counts between a reference grid and a window. */
export function compareNumeric(ref: NumericReference, win: NumericWindow, bins: number): NumericComparison {
  const n = win.moments.count;
  const R = ref.grid.length;
  const g = ref.grid;
  const F = ref.cdf;
  const m = ref.n;
  const curLe = new Float64Array(R);
  let d = 0;
  let cvmSum = 0;
  let w1 = 0;
  let w1Error = 0;
  let c = 0;
  const stepSum = (a: number, g0: number, k: number): number => {
    // Σ_{j=1..k} (a − g0 − j/n)²
    const d0 = a - g0;
    return k * d0 * d0 - (d0 * k * (k + 1)) / n + (k * (k + 1) * (2 * k + 1)) / (6 * n * n);
  };
  if (n > 0 && R > 0) {
    for (let i = 0; i <= R; i++) {
      const a = i === 0 ? 0 : F[i - 1]!;
      const k = win.between[i]!;
      const g0 = c / n;
      const cLt = c + k;
      const g1 = cLt / n;
      d = Math.max(d, Math.abs(a - g1));
      if (k > 0) cvmSum += stepSum(a, g0, k);
      // Wasserstein over the open interval between grid[i−1] and grid[i].
      if (i === 0) w1 += (k * g[0]! - win.sumBetween[0]!) / n;
      else if (i === R) w1 += (win.sumBetween[R]! - k * g[R - 1]!) / n;
      else {
        const L = g[i]! - g[i - 1]!;
        const integralG = g0 * L + (k * g[i]! - win.sumBetween[i]!) / n;
        if (a >= g1) w1 += a * L - integralG;
        else if (a <= g0) w1 += integralG - a * L;
        else {
          w1 += (L * ((a - g0) ** 2 + (g1 - a) ** 2)) / (2 * (g1 - g0)); // crossing: G taken as linear
          w1Error += L * Math.max(a - g0, g1 - a);
        }
      }
      if (i === R) break;
      const cLe = cLt + win.eq[i]!;
      const gi = cLe / n;
      d = Math.max(d, Math.abs(F[i]! - gi));
      cvmSum += (ref.weight[i]! + win.eq[i]!) * (F[i]! - gi) ** 2;
      curLe[i] = cLe;
      c = cLe;
    }
  }
  const N = m + n;
  const cvm = n > 0 && m > 0 ? ((m * n) / N) * (cvmSum / N) : 0;
  const edges = ref.binEdgeIndex(bins);
  const B = edges.length + 1;
  const refBins = new Float64Array(B);
  const curBins = new Float64Array(B);
  let prevF = 0;
  let prevC = 0;
  for (let j = 0; j < edges.length; j++) {
    const gi = edges[j]!;
    refBins[j] = (F[gi]! - prevF) * m;
    curBins[j] = curLe[gi]! - prevC;
    prevF = F[gi]!;
    prevC = curLe[gi]!;
  }
  refBins[B - 1] = (1 - prevF) * m;
  curBins[B - 1] = n - prevC;
  let chart: ChartData | null = null;
  if (R > 0) {
    const lo = Math.min(g[0]!, n > 0 ? win.moments.min : Infinity);
    const hi = Math.max(g[R - 1]!, n > 0 ? win.moments.max : -Infinity);
    chart = {
      kind: 'histogram',
      edges: [lo, ...Array.from(edges, (gi) => g[gi]!), hi],
      reference: Array.from(refBins, (v) => (m > 0 ? v / m : 0)),
      current: Array.from(curBins, (v) => (n > 0 ? v / n : 0)),
    };
  }
  return { n, ks: Math.min(1, d), cvm, wasserstein: Math.max(0, w1), wassersteinError: w1Error, refBins, curBins, chart };
}

function summaryNumeric(rows: number, missing: number, invalid: number, count: number, mean: number, std: number, min: number, max: number): SideSummary {
  const s: SideSummary = { rows, missing, invalid, missingRate: rows > 0 ? (missing + invalid) / rows : 0 };
  if (count > 0) Object.assign(s, { mean, std, min, max });
  return s;
}

interface Pending {
  drift: ColumnDrift;
  effectOk: boolean;
  missingDeltaOk: boolean;
  unseenShareOk: boolean;
}

function thresholdsFor(name: string, ref: PreparedReference, options: DriftOptions, colIndex: number) {
  return { ...(ref.profile.columns[colIndex]!.thresholds ?? {}), ...(options.columns[name] ?? {}) };
}

function effectOf(metric: EffectMetric, values: Record<string, number>): number {
  const key = metric === 'wasserstein' ? 'wasserstein_norm' : metric === 'jensenshannon' ? 'jensen_shannon' : metric;
  return values[key] ?? 0;
}

function numericColumn(ref: NumericReference, win: NumericWindow, options: DriftOptions, idx: number, prepared: PreparedReference): Pending {
  const col = ref.profile;
  const t = thresholdsFor(col.name, prepared, options, idx);
  const bins = t.bins ?? options.bins;
  const cmp = compareNumeric(ref, win, bins);
  const n = cmp.n;
  const regime = n <= options.smallSampleRows ? 'small' : 'large';
  const testName: TestName = t.test === 'cvm' || (t.test === undefined && options.numericTest === 'cvm') ? 'cvm' : 'ks';
  let reason: string | undefined;
  let pValue = 1;
  let method = 'none';
  let statistic = testName === 'ks' ? cmp.ks : cmp.cvm;
  if (n === 0) reason = 'no values in the current window';
  else if (ref.n === 0) reason = 'no values in the reference';
  else if (testName === 'ks') {
    // Conservative against the reference sketch: the true D is ≥ D̂ − ε (rank error bound).
    const dForP = Math.max(0, cmp.ks - ref.rankError);
    const r = ksPValue(dForP, Math.round(ref.n), n);
    pValue = r.pValue;
    method = ref.exact ? r.method : `${r.method}, at D − ε (ε = ${ref.rankError.toFixed(4)} sketch rank error)`;
    if (ref.exact && r.method === 'exact') statistic = r.statistic;
  } else {
    pValue = n > 1 && ref.n > 1 ? cvmAsymptoticPValue(cmp.cvm, Math.round(ref.n), n) : 1;
    method = 'asymptotic';
    if (n <= 1) reason = 'CvM needs at least two current values';
  }
  let wNorm = 0;
  if (n > 0 && ref.n > 0) {
    if (ref.std > 0) wNorm = cmp.wasserstein / ref.std;
    else {
      wNorm = cmp.wasserstein === 0 ? 0 : 1;
      reason = cmp.wasserstein === 0 ? 'reference is constant; current matches it' : 'reference is constant: any change counts as full effect';
    }
  }
  const stats: Record<string, number> = {
    ks: cmp.ks,
    cvm: cmp.cvm,
    wasserstein: cmp.wasserstein,
    wasserstein_norm: wNorm,
    psi: psi(cmp.refBins, cmp.curBins),
    jensen_shannon: jensenShannon(cmp.refBins, cmp.curBins),
    hellinger: hellinger(cmp.refBins, cmp.curBins),
  };
  // The effect's error against the exact reference: the grid's crossing intervals (above),
  // plus, for a KLL reference, ε × its range for Wasserstein and ε for KS D; the binned
  // distances are exact on an exact reference (its quantile bins, counted exactly) and
  // have no stated bound on a sketch.
  const refRange = (col.summary.max ?? 0) - (col.summary.min ?? 0);
  const wError = cmp.wassersteinError + (ref.exact ? 0 : ref.rankError * refRange);
  stats.wasserstein_norm_error = ref.std > 0 ? wError / ref.std : 0;
  const metric: EffectMetric = t.effectMetric ?? options.numericEffectMetric;
  const threshold = t.effect ?? options.effectThresholds[metric];
  const effect = effectOf(metric, stats);
  const effectError = metric === 'wasserstein' ? stats.wasserstein_norm_error : metric === 'ks' ? ref.rankError : ref.exact ? 0 : undefined;
  const current = summaryNumeric(win.rows, win.missing, win.invalid, n, win.moments.mean, win.moments.std, win.moments.min, win.moments.max);
  const reference = summaryNumeric(col.rows, col.missing, col.invalid, col.summary.count, col.summary.mean, ref.std, col.summary.min ?? 0, col.summary.max ?? 0);
  const drift: ColumnDrift = {
    name: col.name,
    type: 'numeric',
    role: col.role,
    regime,
    test: { name: testName, statistic, pValue, pValueAdjusted: pValue, method, alpha: t.alpha ?? options.alpha },
    effect: effectError === undefined ? { metric, value: effect, threshold } : { metric, value: effect, threshold, error: effectError },
    drifted: false,
    status: 'no drift',
    decision: '',
    stats,
    missing: missingSignal(col.rows, col.missing + col.invalid, win.rows, win.missing + win.invalid, t.missingRateDelta ?? options.missingRateDelta),
    reference,
    current,
    chart: cmp.chart,
  };
  if (reason !== undefined) drift.reason = reason;
  return { drift, effectOk: effect >= threshold && n > 0, missingDeltaOk: Math.abs(drift.missing.current - drift.missing.reference) >= drift.missing.threshold, unseenShareOk: false };
}

function missingSignal(refRows: number, refMissing: number, curRows: number, curMissing: number, threshold: number): ColumnDrift['missing'] {
  // Large expected counts: pooled z-test; small: exact binomial against the reference rate.
  const p = refRows > 0 ? refMissing / refRows : 0;
  const z = curRows * Math.min(p, 1 - p) >= 10 || refRows < 10 * curRows ? twoProportionZTest(refMissing, refRows, curMissing, curRows) : binomialTest(curMissing, curRows, p);
  return { reference: refRows > 0 ? refMissing / refRows : 0, current: curRows > 0 ? curMissing / curRows : 0, pValue: z.pValue, pValueAdjusted: z.pValue, threshold, drifted: false };
}

function categoricalColumn(ref: CategoricalReference, win: CategoricalWindow, options: DriftOptions, idx: number, prepared: PreparedReference): Pending {
  const col = ref.profile;
  const t = thresholdsFor(col.name, prepared, options, idx);
  const n = win.present;
  const regime = n <= options.smallSampleRows ? 'small' : 'large';
  const unseenRows = win.unseen.total;
  const K = ref.categories.length;
  // Last bucket: the reference's "other" (overflow) vs the current's unseen values.
  const refCounts = new Float64Array(K + 1);
  refCounts.set(ref.counts);
  refCounts[K] = ref.other;
  const curCounts = new Float64Array(K + 1);
  curCounts.set(win.counts);
  curCounts[K] = unseenRows;
  const binary = K === 2 && ref.other === 0 && unseenRows === 0;
  let testName: TestName = t.test === 'z' || t.test === 'chi2' ? t.test : options.categoricalTest;
  if (testName === 'z' && !binary) testName = 'chi2';
  if (t.test === undefined && binary && regime === 'small') testName = 'z';
  let reason: string | undefined;
  let statistic = 0;
  let pValue = 1;
  let method = 'none';
  if (n === 0) reason = 'no values in the current window';
  else if (ref.n === 0) reason = 'no values in the reference';
  else if (testName === 'z') {
    const r = twoProportionZTest(ref.counts[0]!, ref.n, win.counts[0]!, n);
    statistic = r.statistic;
    pValue = r.pValue;
    method = `two-proportion z on "${ref.categories[0]}"`;
    if (r.reason !== undefined) reason = r.reason;
  } else {
    // Categories expected fewer than 5 times in the current window are pooled (Cochran).
    const pooled = poolSparse(refCounts, curCounts);
    const r = chi2Homogeneity(pooled.ref, pooled.cur);
    statistic = r.statistic;
    pValue = r.pValue;
    method = `chi-squared, ${r.dof} dof${pooled.ref.length < K + 1 ? ` (categories expected < 5 times pooled)` : ''}`;
    if (r.reason !== undefined) reason = r.reason === 'fewer than two observed categories' ? 'too few rows for a chi-squared test (fewer than two categories expected ≥ 5 times)' : r.reason;
  }
  const stats: Record<string, number> = {
    chi2: testName === 'chi2' ? statistic : chi2Homogeneity(refCounts, curCounts).statistic,
    psi: psi(refCounts, curCounts),
    jensen_shannon: jensenShannon(refCounts, curCounts),
    hellinger: hellinger(refCounts, curCounts),
  };
  const metricRaw: EffectMetric = t.effectMetric ?? options.categoricalEffectMetric;
  const metric: EffectMetric = metricRaw === 'wasserstein' || metricRaw === 'ks' ? 'jensenshannon' : metricRaw;
  const threshold = t.effect ?? options.effectThresholds[metric];
  const effect = effectOf(metric, stats);
  // Unseen categories: Poisson tail of the count under the Good–Turing unseen mass.
  const unseenShare = n > 0 ? unseenRows / n : 0;
  const p0 = ref.n > 0 ? Math.max(ref.singletons, 1) / (ref.n + 1) : 1;
  const unseenP = unseenRows === 0 ? 1 : gammaP(unseenRows, n * p0);
  const unseenThreshold = t.unseenShare ?? options.unseenShare;
  const unseen: NonNullable<ColumnDrift['unseen']> = { rows: unseenRows, share: unseenShare, categories: win.unseen.sorted().slice(0, 20), pValue: unseenP, pValueAdjusted: unseenP, threshold: unseenThreshold, drifted: false };
  if (ref.other > 0) unseen.note = `the reference overflowed its ${col.categories.cap}-category cap (${ref.other} rows in "other"), so some "unseen" values may exist in the reference`;
  if (win.unseen.other > 0) unseen.note = `${unseen.note ? unseen.note + '; ' : ''}${win.unseen.other} unseen rows beyond the ${win.unseen.cap} listed values`;
  const labels = [...ref.categories.slice(0, 30)];
  const chart: ChartData = {
    kind: 'bars',
    labels: [...labels, ref.categories.length > 30 ? '(other known)' : '', '(unseen / other)'].filter((l) => l !== ''),
    reference: [],
    current: [],
  };
  const refTotal = ref.n;
  const pushBar = (r: number, c: number) => {
    chart.reference.push(refTotal > 0 ? r / refTotal : 0);
    chart.current.push(n > 0 ? c / n : 0);
  };
  for (let i = 0; i < Math.min(30, K); i++) pushBar(ref.counts[i]!, win.counts[i]!);
  if (K > 30) {
    let r = 0;
    let c = 0;
    for (let i = 30; i < K; i++) {
      r += ref.counts[i]!;
      c += win.counts[i]!;
    }
    pushBar(r, c);
  }
  pushBar(ref.other, unseenRows);
  const reference: SideSummary = { rows: col.rows, missing: col.missing, invalid: col.invalid, missingRate: col.rows > 0 ? (col.missing + col.invalid) / col.rows : 0, distinct: K };
  const current: SideSummary = { rows: win.rows, missing: win.missing, invalid: 0, missingRate: win.rows > 0 ? win.missing / win.rows : 0, distinct: [...win.counts].filter((v) => v > 0).length + win.unseen.distinct };
  const drift: ColumnDrift = {
    name: col.name,
    type: 'categorical',
    role: col.role,
    regime,
    test: { name: testName, statistic, pValue, pValueAdjusted: pValue, method, alpha: t.alpha ?? options.alpha },
    // Counts are exact, so is the distance (unless the reference overflowed its category cap).
    effect: ref.other === 0 ? { metric, value: effect, threshold, error: 0 } : { metric, value: effect, threshold },
    drifted: false,
    status: 'no drift',
    decision: '',
    stats,
    missing: missingSignal(col.rows, col.missing + col.invalid, win.rows, win.missing, t.missingRateDelta ?? options.missingRateDelta),
    unseen,
    reference,
    current,
    chart,
  };
  if (reason !== undefined) drift.reason = reason;
  return { drift, effectOk: effect >= threshold && n > 0, missingDeltaOk: Math.abs(drift.missing.current - drift.missing.reference) >= drift.missing.threshold, unseenShareOk: unseenRows > 0 && unseenShare >= unseenThreshold };
}

function fmt(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? x.toPrecision(3) : x.toExponential(2);
}

/** x rounded down to two significant digits (a threshold at or below it flags x). */
function floorTwoDigits(x: number): number {
  if (!(x > 0)) return 0;
  const p = 10 ** (Math.floor(Math.log10(x)) - 1);
  const v = Math.floor(x / p) * p;
  return Number((v > x ? v - p : v).toPrecision(2));
}

/**
 * For a significant column below its effect threshold: the threshold at which this window
 * would have drifted, and where to set it — the profile or --schema column (`berth drift`)
 * and the model's berth.yaml (live drift).
 */
function thresholdHint(d: ColumnDrift): ColumnDrift['thresholdHint'] {
  const effect = floorTwoDigits(d.effect.value);
  if (!(effect > 0)) return undefined;
  const metric = d.effect.metric;
  const thresholds = { effectMetric: metric, effect };
  return {
    effect,
    schema: JSON.stringify({ name: d.name, thresholds }),
    berthYaml: `monitoring:\n  driftThresholds:\n    ${JSON.stringify(d.name)}: { effectMetric: ${metric}, effect: ${effect} }`,
  };
}

/** Applies the correction to a family and decides each member. */
function decideFamily(members: Pending[], method: DriftOptions['correction']): void {
  const adj = adjustPValues(members.map((m) => m.drift.test.pValue), method);
  members.forEach((m, i) => {
    const d = m.drift;
    d.test.pValueAdjusted = adj[i]!;
    const sig = d.test.pValueAdjusted < d.test.alpha;
    d.drifted = sig && m.effectOk;
    d.status = d.drifted ? 'drift' : sig ? SIGNIFICANT_BELOW_EFFECT : 'no drift';
    const pPart = `${d.test.name} p=${fmt(d.test.pValue)} (adjusted ${fmt(d.test.pValueAdjusted)}) ${sig ? '<' : '≥'} α=${d.test.alpha}`;
    const err = d.effect.error !== undefined && d.effect.error > 0 ? ` ± ${fmt(d.effect.error)}` : '';
    const ePart = `${d.effect.metric}=${fmt(d.effect.value)}${err} ${m.effectOk ? '≥' : '<'} ${d.effect.threshold}`;
    const uncertain = d.effect.error !== undefined && Math.abs(d.effect.value - d.effect.threshold) <= d.effect.error ? ' (within the effect\'s error of the threshold)' : '';
    d.decision = d.drifted
      ? `drift: ${pPart} and ${ePart}${uncertain}`
      : sig
        ? `${SIGNIFICANT_BELOW_EFFECT}: ${pPart} but ${ePart}${uncertain}`
        : `no drift: ${pPart}${m.effectOk ? ` although ${ePart}` : ''}`;
    if (d.status === SIGNIFICANT_BELOW_EFFECT) {
      const hint = thresholdHint(d);
      if (hint !== undefined) d.thresholdHint = hint;
    }
  });
  const madj = adjustPValues(members.map((m) => m.drift.missing.pValue), method);
  members.forEach((m, i) => {
    m.drift.missing.pValueAdjusted = madj[i]!;
    m.drift.missing.drifted = madj[i]! < m.drift.test.alpha && m.missingDeltaOk;
  });
  const withUnseen = members.filter((m) => m.drift.unseen !== undefined);
  const uadj = adjustPValues(withUnseen.map((m) => m.drift.unseen!.pValue), method);
  withUnseen.forEach((m, i) => {
    const u = m.drift.unseen!;
    u.pValueAdjusted = uadj[i]!;
    u.drifted = uadj[i]! < m.drift.test.alpha && m.unseenShareOk;
  });
}

function multivariateDrift(prepared: PreparedReference, mvWin: MultivariateWindow | null, options: DriftOptions): MultivariateDrift | null {
  const pca = prepared.pca;
  if (pca === null || !options.multivariate.enabled) return null;
  const e = mvWin?.errors;
  const base: MultivariateDrift = {
    method: 'pca-reconstruction',
    components: pca.fit.k,
    dimensions: pca.fit.kept.length,
    varianceExplained: pca.fit.varianceExplained,
    referenceError: pca.fit.referenceError,
    currentError: null,
    relativeChange: null,
    pValue: null,
    threshold: options.multivariate.effect,
    drifted: false,
  };
  if (e === undefined || e.count < options.multivariate.minRows) {
    base.reason = `needs at least ${options.multivariate.minRows} current rows (has ${e?.count ?? 0})`;
    if (e !== undefined && e.count > 0) base.currentError = e.mean;
    return base;
  }
  const n = e.count;
  const refN = prepared.profile.multivariate!.n;
  const sd = Math.sqrt(e.m2 / Math.max(1, n - 1));
  const se = sd * Math.sqrt(1 / n + 1 / refN);
  const diff = e.mean - pca.fit.referenceError;
  const z = se > 0 ? diff / se : diff === 0 ? 0 : Infinity;
  base.currentError = e.mean;
  base.relativeChange = diff / pca.fit.referenceError;
  // One-sided: drift moves rows off the reference's principal subspace, raising the error.
  // (A window merely lacking the reference's rare outliers lowers it; that is not drift.)
  base.pValue = Number.isFinite(z) ? Math.min(1, normalSf(z)) : z > 0 ? 0 : 1;
  base.drifted = base.pValue < options.alpha && base.relativeChange >= options.multivariate.effect;
  return base;
}

/** Builds the report. `windows[i]` belongs to `prepared.columns[i]` (null for ignored columns). */
export function evaluateDrift(
  prepared: PreparedReference,
  windows: readonly (ColumnWindow | null)[],
  mvWin: MultivariateWindow | null,
  options: DriftOptions,
  meta: { rows: number; referenceSource?: string; currentSource?: string },
): DriftReport {
  const features: Pending[] = [];
  const outputs: Pending[] = [];
  const labels: Pending[] = [];
  prepared.columns.forEach((ref, i) => {
    const win = windows[i];
    if (win === null || win === undefined || ref.profile.role === 'ignore') return;
    const p = ref.kind === 'numeric' ? numericColumn(ref, win as NumericWindow, options, i, prepared) : categoricalColumn(ref, win as CategoricalWindow, options, i, prepared);
    const role = ref.profile.role;
    if (role === 'feature') features.push(p);
    else if (role === 'label') labels.push(p);
    else outputs.push(p);
  });
  decideFamily(features, options.correction);
  // BBSD (Rabanser et al.): one test per class-probability column, Bonferroni across them.
  decideFamily(outputs, 'bonferroni');
  decideFamily(labels, options.correction);
  const multivariate = multivariateDrift(prepared, mvWin, options);
  const signals: string[] = [];
  const driftedFeatures = features.filter((f) => f.drift.drifted).map((f) => f.drift.name);
  if (driftedFeatures.length > 0) signals.push(`distribution drift in ${driftedFeatures.length} of ${features.length} features: ${driftedFeatures.join(', ')}`);
  for (const f of [...features, ...outputs, ...labels]) {
    const d = f.drift;
    if (d.missing.drifted) signals.push(`missing rate of "${d.name}" changed from ${(d.missing.reference * 100).toFixed(1)}% to ${(d.missing.current * 100).toFixed(1)}%`);
    if (d.unseen?.drifted) signals.push(`"${d.name}" has ${d.unseen.rows} rows (${(d.unseen.share * 100).toFixed(1)}%) in categories the reference never saw`);
  }
  if (multivariate?.drifted) signals.push(`multivariate: PCA reconstruction error changed by ${((multivariate.relativeChange ?? 0) * 100).toFixed(1)}%`);
  const driftedOutputs = outputs.filter((o) => o.drift.drifted).map((o) => o.drift.name);
  if (driftedOutputs.length > 0) signals.push(`prediction drift in ${driftedOutputs.join(', ')}`);
  const driftedLabels = labels.filter((o) => o.drift.drifted).map((o) => o.drift.name);
  if (driftedLabels.length > 0) signals.push(`label drift in ${driftedLabels.join(', ')}`);
  const significantBelowEffect = features.filter((f) => f.drift.status === SIGNIFICANT_BELOW_EFFECT).map((f) => f.drift.name);
  const firstNumeric = prepared.columns.find((c): c is NumericReference => c.kind === 'numeric' && !c.exact);
  const report: DriftReport = {
    format: REPORT_FORMAT,
    reference: { rows: prepared.profile.rows, sketchRankError: firstNumeric?.rankError ?? 0 },
    current: { rows: meta.rows },
    options: { alpha: options.alpha, correction: options.correction, smallSampleRows: options.smallSampleRows },
    verdict: { drift: signals.length > 0, driftedFeatures, significantBelowEffect, featureCount: features.length, signals },
    features: features.map((f) => f.drift),
    outputs: { columns: outputs.map((o) => o.drift), drift: driftedOutputs.length > 0, correction: 'bonferroni' },
    labels: labels.map((l) => l.drift),
    multivariate,
    notes: [...prepared.profile.notes],
  };
  if (meta.referenceSource !== undefined) report.reference.source = meta.referenceSource;
  if (meta.currentSource !== undefined) report.current.source = meta.currentSource;
  return report;
}
