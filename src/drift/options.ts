/**
 * @module drift/options
 * Drift decision options and their defaults, validated once with messages that name the
 * option. A feature drifts when its corrected p-value is below `alpha` AND its effect size
 * reaches the threshold; every threshold can be overridden per column (schema
 * `thresholds` or `options.columns[name]`).
 */
import { BerthError } from '../errors.js';
import type { Correction } from './stats/multiple.js';

export type EffectMetric = 'wasserstein' | 'psi' | 'jensenshannon' | 'hellinger' | 'ks';
export type TestName = 'ks' | 'cvm' | 'chi2' | 'z';

export const EFFECT_METRICS: readonly EffectMetric[] = ['wasserstein', 'psi', 'jensenshannon', 'hellinger', 'ks'];
export const TEST_NAMES: readonly TestName[] = ['ks', 'cvm', 'chi2', 'z'];

/** Default effect-size threshold of each metric. */
export const DEFAULT_EFFECT_THRESHOLDS: Readonly<Record<EffectMetric, number>> = {
  wasserstein: 0.1, // Wasserstein-1 / reference std (Evidently's default for large numeric samples)
  psi: 0.1,
  jensenshannon: 0.1, // base-2 JS distance (Evidently's default for large categorical samples)
  hellinger: 0.1,
  ks: 0.1,
};

/** Per-column overrides; anything unset falls back to the global options. */
export interface ColumnThresholds {
  alpha?: number;
  test?: TestName;
  effectMetric?: EffectMetric;
  effect?: number;
  missingRateDelta?: number;
  unseenShare?: number;
  bins?: number;
}

export interface DriftOptions {
  /** Significance level for every test after correction. */
  alpha: number;
  /** Correction across features (and across missing-rate / unseen-category tests). */
  correction: Correction;
  /** Up to this many current rows is a "small" sample: the p-value test is the headline; above it, the distance. */
  smallSampleRows: number;
  numericTest: TestName;
  categoricalTest: TestName;
  numericEffectMetric: EffectMetric;
  categoricalEffectMetric: EffectMetric;
  /** Effect thresholds by metric. */
  effectThresholds: Record<EffectMetric, number>;
  /** Absolute change in missing rate that counts, e.g. 0.05 = 5 percentage points. */
  missingRateDelta: number;
  /** Share of current rows in categories the reference never saw that counts. */
  unseenShare: number;
  /** Quantile bins of the reference for PSI / JS / Hellinger on numeric columns and charts. */
  bins: number;
  multivariate: {
    enabled: boolean;
    /** PCA keeps the fewest components explaining at least this share of variance. */
    varianceExplained: number;
    /** Below this many current rows the multivariate test is not run. */
    minRows: number;
    /** Relative change in mean squared reconstruction error that counts. */
    effect: number;
  };
  /** Per-column overrides by column name. */
  columns: Record<string, ColumnThresholds>;
}

export const DEFAULT_DRIFT_OPTIONS: DriftOptions = {
  alpha: 0.05,
  correction: 'bh',
  smallSampleRows: 1000,
  numericTest: 'ks',
  categoricalTest: 'chi2',
  numericEffectMetric: 'wasserstein',
  categoricalEffectMetric: 'jensenshannon',
  effectThresholds: { ...DEFAULT_EFFECT_THRESHOLDS },
  missingRateDelta: 0.05,
  unseenShare: 0.01,
  bins: 10,
  multivariate: { enabled: true, varianceExplained: 0.65, minRows: 100, effect: 0.1 },
  columns: {},
};

function bad(name: string, msg: string): never {
  throw new BerthError('BERTH_ERR_DRIFT_OPTIONS', `option ${name}: ${msg}`);
}

function prob(name: string, v: unknown, openZero = true): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v > 1 || (openZero ? v <= 0 : v < 0)) bad(name, `expected a number in ${openZero ? '(0, 1]' : '[0, 1]'}, got ${JSON.stringify(v)}`);
  return v;
}

function nonNegative(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(name, `expected a finite number ≥ 0, got ${JSON.stringify(v)}`);
  return v;
}

function positiveInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(name, `expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) bad(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Validates a per-column thresholds object; `where` prefixes messages. */
export function validateThresholds(raw: unknown, where: string): ColumnThresholds {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad(where, 'expected an object');
  const r = raw as Record<string, unknown>;
  const out: ColumnThresholds = {};
  for (const [key, v] of Object.entries(r)) {
    const name = `${where}.${key}`;
    switch (key) {
      case 'alpha': out.alpha = prob(name, v); break;
      case 'test': out.test = oneOf(name, v, TEST_NAMES); break;
      case 'effectMetric': out.effectMetric = oneOf(name, v, EFFECT_METRICS); break;
      case 'effect': out.effect = nonNegative(name, v); break;
      case 'missingRateDelta': out.missingRateDelta = prob(name, v, false); break;
      case 'unseenShare': out.unseenShare = prob(name, v, false); break;
      case 'bins': out.bins = positiveInt(name, v, 2); break;
      default: bad(name, 'unknown threshold (allowed: alpha, test, effectMetric, effect, missingRateDelta, unseenShare, bins)');
    }
  }
  return out;
}

export type DriftOptionsInput = Partial<Omit<DriftOptions, 'multivariate' | 'effectThresholds'>> & {
  multivariate?: Partial<DriftOptions['multivariate']>;
  effectThresholds?: Partial<Record<EffectMetric, number>>;
};

/** Fills defaults and validates; the result is frozen. */
export function resolveDriftOptions(input: DriftOptionsInput = {}): Readonly<DriftOptions> {
  const d = DEFAULT_DRIFT_OPTIONS;
  const effectThresholds = { ...d.effectThresholds };
  for (const [k, v] of Object.entries(input.effectThresholds ?? {})) {
    oneOf('effectThresholds', k, EFFECT_METRICS);
    effectThresholds[k as EffectMetric] = nonNegative(`effectThresholds.${k}`, v);
  }
  const mv = { ...d.multivariate, ...(input.multivariate ?? {}) };
  const columns: Record<string, ColumnThresholds> = {};
  for (const [name, t] of Object.entries(input.columns ?? {})) columns[name] = validateThresholds(t, `columns.${name}`);
  const out: DriftOptions = {
    alpha: prob('alpha', input.alpha ?? d.alpha),
    correction: oneOf('correction', input.correction ?? d.correction, ['bh', 'bonferroni', 'none'] as const),
    smallSampleRows: positiveInt('smallSampleRows', input.smallSampleRows ?? d.smallSampleRows),
    numericTest: oneOf('numericTest', input.numericTest ?? d.numericTest, ['ks', 'cvm'] as const),
    categoricalTest: oneOf('categoricalTest', input.categoricalTest ?? d.categoricalTest, ['chi2', 'z'] as const),
    numericEffectMetric: oneOf('numericEffectMetric', input.numericEffectMetric ?? d.numericEffectMetric, EFFECT_METRICS),
    categoricalEffectMetric: oneOf('categoricalEffectMetric', input.categoricalEffectMetric ?? d.categoricalEffectMetric, ['psi', 'jensenshannon', 'hellinger'] as const),
    effectThresholds,
    missingRateDelta: prob('missingRateDelta', input.missingRateDelta ?? d.missingRateDelta, false),
    unseenShare: prob('unseenShare', input.unseenShare ?? d.unseenShare, false),
    bins: positiveInt('bins', input.bins ?? d.bins, 2),
    multivariate: {
      enabled: typeof mv.enabled === 'boolean' ? mv.enabled : bad('multivariate.enabled', 'expected a boolean'),
      varianceExplained: prob('multivariate.varianceExplained', mv.varianceExplained),
      minRows: positiveInt('multivariate.minRows', mv.minRows, 2),
      effect: nonNegative('multivariate.effect', mv.effect),
    },
    columns,
  };
  return Object.freeze(out);
}
