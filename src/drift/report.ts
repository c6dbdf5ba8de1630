/**
 * @module drift/report
 * The drift report object: what the batch command prints as JSON, what the HTML page
 * renders, and what `DriftAccumulator.evaluate()` returns. Every number is finite; a test
 * that could not run says why in `reason` instead of producing NaN.
 */
import type { ColumnRole, ColumnType } from './schema.js';
import type { Correction } from './stats/multiple.js';
import type { EffectMetric, TestName } from './options.js';

export const REPORT_FORMAT = 'berth.drift-report/v1';

/**
 * A column whose corrected p-value is below α but whose effect is below its threshold: the
 * change is real (not noise) but smaller than what was declared to matter. Not drift, and
 * shown apart so a person sees it and can lower that column's threshold.
 */
export const SIGNIFICANT_BELOW_EFFECT = 'significant, below the effect threshold';

export type ColumnStatus = 'drift' | typeof SIGNIFICANT_BELOW_EFFECT | 'no drift';

export interface ChartData {
  kind: 'histogram' | 'bars';
  /** Histogram: bin edges (length = bins + 1). Bars: category labels. */
  edges?: number[];
  labels?: string[];
  /** Proportions per bin / category. */
  reference: number[];
  current: number[];
}

export interface SideSummary {
  rows: number;
  missing: number;
  invalid: number;
  missingRate: number;
  mean?: number;
  std?: number;
  min?: number;
  max?: number;
  distinct?: number;
}

export interface ColumnDrift {
  name: string;
  type: ColumnType;
  role: ColumnRole;
  /** "small" (≤ smallSampleRows current values): p-value test is the headline; "large": the distance. */
  regime: 'small' | 'large';
  test: { name: TestName; statistic: number; pValue: number; pValueAdjusted: number; method: string; alpha: number };
  /**
   * `error`: bound on |value − the effect against the exact reference| (0: exact; absent: no
   * bound stated, e.g. a binned distance on a KLL sketch). See docs/drift.md.
   */
  effect: { metric: EffectMetric; value: number; threshold: number; error?: number };
  drifted: boolean;
  /** drift; significant, below the effect threshold; or no drift. */
  status: ColumnStatus;
  /**
   * Set when status is "significant, below the effect threshold": the effect threshold at
   * which this window would have drifted, as the snippet that sets it for `berth drift`
   * (a --schema or profile column) and for live drift (the model's berth.yaml).
   */
  thresholdHint?: { effect: number; schema: string; berthYaml: string };
  /** One sentence on why the decision came out as it did. */
  decision: string;
  /** Set when the test could not run normally (empty window, constant reference, …). */
  reason?: string;
  /** All statistics computed, for the report. */
  stats: Record<string, number>;
  missing: { reference: number; current: number; pValue: number; pValueAdjusted: number; threshold: number; drifted: boolean };
  unseen?: { rows: number; share: number; categories: [string, number][]; pValue: number; pValueAdjusted: number; threshold: number; drifted: boolean; note?: string };
  reference: SideSummary;
  current: SideSummary;
  chart: ChartData | null;
}

export interface MultivariateDrift {
  method: 'pca-reconstruction';
  components: number;
  dimensions: number;
  varianceExplained: number;
  referenceError: number;
  currentError: number | null;
  relativeChange: number | null;
  pValue: number | null;
  threshold: number;
  drifted: boolean;
  reason?: string;
}

export interface DriftReport {
  format: typeof REPORT_FORMAT;
  reference: { rows: number; source?: string; sketchRankError: number };
  current: { rows: number; source?: string };
  options: { alpha: number; correction: Correction; smallSampleRows: number };
  verdict: {
    drift: boolean;
    driftedFeatures: string[];
    /** Features significant after correction whose effect is below their threshold (not drift). */
    significantBelowEffect: string[];
    featureCount: number;
    signals: string[];
  };
  features: ColumnDrift[];
  outputs: { columns: ColumnDrift[]; drift: boolean; correction: 'bonferroni' };
  labels: ColumnDrift[];
  multivariate: MultivariateDrift | null;
  notes: string[];
}
