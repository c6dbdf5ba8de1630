/**
 * @module monitoring/alerts/prometheus
 * Writes Berth's alert rules as a Prometheus alerting-rules file, for users who alert from
 * Prometheus instead of (or as well as) Berth's engine. Each signal becomes a PromQL
 * expression over the metrics Berth exports (docs/metrics.md), aggregated to one series per
 * model and version so that the alerts carry the same labels as the engine's, also when
 * several replicas are scraped. `promtool check rules` and `promtool test rules` run on the
 * output in CI (test/integration/alerts-promtool.test.ts).
 */
import { stringify } from 'yaml';
import type { AlertRule, SignalName } from './config.js';
import { parseDuration } from './duration.js';

export interface PrometheusExportOptions {
  /**
   * Rules for every model without its own entry in rulesByModel (group "berth"). Their
   * selectors exclude the models listed there, so each model is covered by exactly one group.
   */
  defaultRules?: readonly AlertRule[];
  /** Range of rate() for latency and error rate. Default "5m". */
  rateWindow?: string;
  /** Comment lines written at the top (without "# "); default says where the file came from. */
  header?: readonly string[];
}

/** The failure outcomes of berth_inference_requests_total that count as errors (not "invalid": the client's fault). */
export const FAILED_OUTCOMES = ['error', 'timeout', 'rejected'] as const;

function selector(metric: string, ...matchers: (string | undefined)[]): string {
  const m = matchers.filter((x): x is string => x !== undefined && x !== '');
  return m.length === 0 ? metric : `${metric}{${m.join(', ')}}`;
}

/** PromQL string literal (PromQL accepts Go/JSON escapes). */
function quote(s: string): string {
  return JSON.stringify(s);
}

function regexEscape(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/**
 * The PromQL expression whose value is the signal, one series per model and version.
 * `scope` is a label matcher added to every selector (e.g. model="income"), or ''.
 */
export function signalExpression(signal: SignalName, scope = '', rateWindow = '5m'): string {
  const by = 'by (model, version)';
  switch (signal) {
    case 'latency_p95_ms':
      return `histogram_quantile(0.95, sum by (model, version, le) (rate(${selector('berth_inference_request_duration_seconds_bucket', scope)}[${rateWindow}]))) * 1000`;
    case 'error_rate':
      return `sum ${by} (rate(${selector('berth_inference_requests_total', `outcome=~${quote(FAILED_OUTCOMES.join('|'))}`, scope)}[${rateWindow}])) / sum ${by} (rate(${selector('berth_inference_requests_total', scope)}[${rateWindow}]))`;
    case 'anomaly_rate':
      return `sum ${by} (rate(${selector('berth_anomaly_rows_total', 'flagged="true"', scope)}[${rateWindow}])) / sum ${by} (rate(${selector('berth_anomaly_rows_total', scope)}[${rateWindow}]))`;
    case 'accuracy':
      return `avg ${by} (${selector('berth_model_quality', 'metric="accuracy"', scope)})`;
    case 'accuracy_drop':
      return `avg ${by} (${selector('berth_model_validated_accuracy', scope)}) - avg ${by} (${selector('berth_model_quality', 'metric="accuracy"', scope)})`;
    case 'memory_mb':
      return `max ${by} (${selector('berth_model_memory_bytes', scope)}) / 1048576`;
    case 'drift':
      return `max ${by} (${selector('berth_drift_share', scope)})`;
    case 'fairness_parity_ratio':
      return `min ${by} (${selector('berth_fairness_demographic_parity_ratio', scope)})`;
    case 'queue_saturation':
      // Matched on all labels (same instance), then the fullest replica.
      return `max ${by} (${selector('berth_inference_queue_depth', scope)} / ${selector('berth_inference_queue_capacity', scope)})`;
  }
}

/**
 * One rule as Prometheus rule YAML (a plain object for the YAML writer). A model's own
 * rules also carry the label model="<name>": the series have it anyway, and it keeps
 * promtool's lint from calling them duplicates of the default rules of the same name.
 */
function promRule(rule: AlertRule, scope: string, rateWindow: string, model?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    alert: rule.name,
    expr: `(${signalExpression(rule.signal, scope, rateWindow)}) ${rule.op} ${String(rule.threshold)}`,
  };
  if (rule.forMs > 0) out.for = rule.for;
  if (rule.keepFiringForMs > 0) out.keep_firing_for = rule.keepFiringFor;
  const labels = { ...rule.labels, ...(model === undefined ? {} : { model }), ...(rule.severity === undefined ? {} : { severity: rule.severity }) };
  if (Object.keys(labels).length > 0) out.labels = labels;
  if (Object.keys(rule.annotations).length > 0) out.annotations = { ...rule.annotations };
  return out;
}

const DEFAULT_HEADER = [
  'Prometheus alerting rules for Berth, written by `berth alerts export` from the models\' alert rules.',
  'Regenerate instead of editing; see docs/alerts.md. Check with: promtool check rules <file>',
];

/**
 * The rules file (YAML): group "berth" for defaultRules, then one group "berth-<model>"
 * per model in rulesByModel, with every selector scoped to that model.
 */
export function toPrometheusRules(rulesByModel: Readonly<Record<string, readonly AlertRule[]>>, options: PrometheusExportOptions = {}): string {
  const rateWindow = options.rateWindow ?? '5m';
  parseDuration(rateWindow, 'rateWindow');
  const models = Object.keys(rulesByModel).sort();
  const groups: Record<string, unknown>[] = [];
  if (options.defaultRules !== undefined && options.defaultRules.length > 0) {
    const scope = models.length === 0 ? '' : `model!~${quote(models.map(regexEscape).join('|'))}`;
    groups.push({ name: 'berth', rules: options.defaultRules.map((r) => promRule(r, scope, rateWindow)) });
  }
  for (const model of models) {
    const rules = rulesByModel[model]!;
    if (rules.length === 0) continue;
    groups.push({ name: `berth-${model}`, rules: rules.map((r) => promRule(r, `model=${quote(model)}`, rateWindow, model)) });
  }
  const header = (options.header ?? DEFAULT_HEADER).map((l) => `# ${l}\n`).join('');
  return header + stringify({ groups }, { lineWidth: 0 });
}
