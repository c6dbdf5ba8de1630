/**
 * @module monitoring/alerts/config
 * Alert rules as users write them (`alerts:` in a model's berth.yaml, and as server-wide
 * defaults), the built-in defaults from the seed, and `resolveAlertRules`, which merges the
 * layers by rule name and checks everything once, so the engine and the Prometheus export
 * only ever see complete, valid rules.
 */
import { type Static, type TLiteral, type TUnion, Type } from '@sinclair/typebox';
import { BerthError } from '../../errors.js';
import { validate } from '../../config/validate.js';
import { DURATION_PATTERN, formatDuration, parseDuration } from './duration.js';
import { compileTemplate, type RenderFn } from './template.js';

/** The signals the server computes for every model version at each evaluation. */
export const SIGNAL_NAMES = ['accuracy', 'accuracy_drop', 'latency_p95_ms', 'error_rate', 'anomaly_rate', 'memory_mb', 'drift', 'queue_saturation', 'fairness_parity_ratio'] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

/** Range each signal's values (and so a sensible threshold) lie in; undefined = unbounded. */
export const SIGNAL_RANGES: Record<SignalName, { min?: number; max?: number; unit: string }> = {
  accuracy: { min: 0, max: 1, unit: 'a fraction 0..1 (0.9 = 90%)' },
  accuracy_drop: { min: -1, max: 1, unit: 'accuracy points -1..1 (0.05 = five points)' },
  latency_p95_ms: { min: 0, unit: 'milliseconds' },
  error_rate: { min: 0, max: 1, unit: 'a fraction 0..1 (0.05 = 5%)' },
  anomaly_rate: { min: 0, max: 1, unit: 'a fraction 0..1 of the rows the anomaly layer checked' },
  memory_mb: { min: 0, unit: 'MB (MiB, 1048576 bytes)' },
  drift: { min: 0, max: 1, unit: 'a share 0..1 of drifting features, or 1/0 for the dataset verdict' },
  queue_saturation: { min: 0, max: 1, unit: 'a fraction 0..1 of the queue capacity' },
  fairness_parity_ratio: { min: 0, max: 1, unit: 'a ratio 0..1 of the lowest to the highest group selection rate (1 = parity)' },
};

export const COMPARISON_OPS = ['>', '<', '>=', '<='] as const;
export type ComparisonOp = (typeof COMPARISON_OPS)[number];
export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Label names Berth sets itself; rule labels may not override them. */
export const RESERVED_LABELS = ['alertname', 'model', 'version', 'severity'] as const;
const LABEL_NAME = '^[a-zA-Z_][a-zA-Z0-9_]*$';
const Duration = (description: string) => Type.String({ minLength: 1, pattern: DURATION_PATTERN, description });
const literals = <T extends string>(values: readonly T[], description: string): TUnion<TLiteral<T>[]> =>
  Type.Union(values.map((v) => Type.Literal(v)), { description });

export const AlertAnnotationsSchema = Type.Object(
  {
    summary: Type.Optional(Type.String({ description: 'One line; may use {{ $labels.model }}, {{ $labels.version }}, {{ $value }}.' })),
    description: Type.Optional(Type.String({ description: 'Longer text; same templates as summary.' })),
    runbook_url: Type.Optional(Type.String({ description: 'Link to what to do.' })),
  },
  { additionalProperties: false },
);

/**
 * One rule. Only `name` is always required: a rule whose name matches a default (or a
 * server-wide rule) changes just the fields it gives, and `enabled: false` switches it off.
 * A rule with a new name needs `signal`, `op` and `threshold`.
 */
export const AlertRuleSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Alert name (the alertname label): letters, digits, underscores.' }),
    signal: Type.Optional(literals(SIGNAL_NAMES, 'The signal the rule watches.')),
    op: Type.Optional(literals(COMPARISON_OPS, 'Comparison: fires while `signal op threshold` holds.')),
    threshold: Type.Optional(Type.Number({ description: 'In the signal\'s unit: ms for latency, MB for memory, fractions 0..1 for the rest.' })),
    for: Type.Optional(Duration('How long the condition must hold before pending turns firing (Prometheus `for`); default 0s.')),
    keepFiringFor: Type.Optional(Duration('How long a firing alert keeps firing after the condition stops holding (Prometheus `keep_firing_for`); default 0s.')),
    severity: Type.Optional(literals(SEVERITIES, 'The severity label.')),
    labels: Type.Optional(Type.Record(Type.String({ pattern: LABEL_NAME }), Type.String(), { additionalProperties: false, description: 'Extra labels on the alert (not alertname, model, version, severity).' })),
    annotations: Type.Optional(AlertAnnotationsSchema),
    enabled: Type.Optional(Type.Boolean({ description: 'false switches the rule off (default true).' })),
  },
  { additionalProperties: false },
);

/** `alerts:` in berth.yaml, and the server-wide defaults: a list of rules, merged by name. */
export const AlertRulesSchema = Type.Array(AlertRuleSchema, { description: 'Alert rules, merged by name over the defaults (see docs/alerts.md).' });

export type AlertRuleConfig = Static<typeof AlertRuleSchema>;
export type AlertRulesConfig = Static<typeof AlertRulesSchema>;
export type AlertAnnotations = Static<typeof AlertAnnotationsSchema>;

/** A complete, checked, enabled rule: what the engine evaluates and the export writes. */
export interface AlertRule {
  readonly name: string;
  readonly signal: SignalName;
  readonly op: ComparisonOp;
  readonly threshold: number;
  /** Canonical durations ("5m") and the same in milliseconds. */
  readonly for: string;
  readonly forMs: number;
  readonly keepFiringFor: string;
  readonly keepFiringForMs: number;
  readonly severity?: Severity;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

const SUMMARY_OF = (what: string) => `${what} for {{ $labels.model }} version {{ $labels.version }}`;

/**
 * The defaults from the seed ("latency < 100 ms, memory < 100 MB", alert when accuracy
 * drops, latency spikes or the error rate rises), plus drift and queue saturation.
 */
export function defaultAlertRules(): AlertRuleConfig[] {
  return [
    {
      name: 'HighLatency', signal: 'latency_p95_ms', op: '>', threshold: 100, for: '5m', severity: 'warning',
      annotations: { summary: `${SUMMARY_OF('p95 latency is {{ $value | printf "%.1f" }} ms')}`, description: 'The 95th percentile of successful inference requests is above the limit. Compare queue time with compute time, check batch sizes and CPU saturation.' },
    },
    {
      name: 'HighMemory', signal: 'memory_mb', op: '>', threshold: 100, for: '0s', severity: 'warning',
      annotations: { summary: `${SUMMARY_OF('memory footprint is {{ $value | printf "%.0f" }} MB')}`, description: 'The model version uses more memory than the limit. Consider quantizing it (berth quantize) or fewer instances.' },
    },
    {
      name: 'HighErrorRate', signal: 'error_rate', op: '>', threshold: 0.05, for: '5m', severity: 'critical',
      annotations: { summary: `${SUMMARY_OF('{{ $value | humanizePercentage }} of requests fail')}`, description: 'Failed requests (errors, timeouts, rejections when the queue is full) over all requests. Client errors (invalid input) do not count.' },
    },
    {
      name: 'AnomalyRate', signal: 'anomaly_rate', op: '>', threshold: 0.05, for: '15m', severity: 'warning',
      annotations: { summary: `${SUMMARY_OF('{{ $value | humanizePercentage }} of request rows are flagged as anomalous')}`, description: 'Rows the anomaly layer flagged (out of the training range, unseen category, unknown or missing field, unlike the training data) over the rows it checked. The OOD threshold flags about 1% of training-like rows, so a sustained higher share means the traffic no longer looks like the training data, or a client sends broken records. See the flags in the decision log.' },
    },
    {
      name: 'AccuracyDrop', signal: 'accuracy_drop', op: '>', threshold: 0.05, for: '15m', severity: 'critical',
      annotations: { summary: `${SUMMARY_OF('live accuracy is {{ $value | printf "%.3f" }} below its validated value')}`, description: 'Accuracy on labelled decisions has fallen below the accuracy measured at validation: the model may be drifting. Check the drift panel and retrain if the drop persists.' },
    },
    {
      name: 'DataDrift', signal: 'drift', op: '>', threshold: 0, for: '15m', severity: 'warning',
      annotations: { summary: `${SUMMARY_OF('input drift {{ $value | printf "%.2f" }}')}`, description: 'The live inputs no longer look like the reference data the version shipped with (share of drifting features, or the dataset verdict).' },
    },
    {
      name: 'FairnessDisparity', signal: 'fairness_parity_ratio', op: '<', threshold: 0.8, for: '30m', severity: 'warning',
      annotations: { summary: `${SUMMARY_OF('the lowest group selection rate is {{ $value | humanizePercentage }} of the highest')}`, description: 'For a sensitive attribute in berth.yaml monitoring.sensitive, the group selected least often gets favourable decisions at under 80% of the rate of the group selected most (the four-fifths screening heuristic, not a legal test); only groups with at least monitoring.minGroupSize decisions are compared. See berth_fairness_selection_rate by group, and run berth fairness on labelled data.' },
    },
    {
      name: 'QueueSaturation', signal: 'queue_saturation', op: '>', threshold: 0.8, for: '1m', severity: 'warning',
      annotations: { summary: `${SUMMARY_OF('the batching queue is {{ $value | humanizePercentage }} full')}`, description: 'Requests will soon be rejected with 503. Add instances or workers, or raise maxQueueSize if latency allows.' },
    },
  ];
}

function fail(where: string, msg: string): never {
  throw new BerthError('BERTH_ERR_ALERT_RULE', `${where}: ${msg}`);
}

/** Field-by-field merge of a rule over the rule of the same name below it. */
function mergeRule(base: AlertRuleConfig | undefined, over: AlertRuleConfig): AlertRuleConfig {
  if (base === undefined) return over;
  const out: AlertRuleConfig = { ...base };
  for (const [k, v] of Object.entries(over) as [keyof AlertRuleConfig, unknown][]) {
    if (v === undefined) continue;
    if (k === 'labels' || k === 'annotations') (out as Record<string, unknown>)[k] = { ...(base[k] ?? {}), ...(v as object) };
    else (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/** Checks one merged rule and turns it into an AlertRule (also compiling its templates). */
function complete(c: AlertRuleConfig, where: string): AlertRule {
  if (c.signal === undefined || c.op === undefined || c.threshold === undefined) {
    const missing = (['signal', 'op', 'threshold'] as const).filter((k) => c[k] === undefined);
    fail(where, `a rule that overrides no default needs ${missing.join(', ')} (signals: ${SIGNAL_NAMES.join(', ')})`);
  }
  if (!Number.isFinite(c.threshold)) fail(where, `threshold must be a finite number`);
  const range = SIGNAL_RANGES[c.signal];
  if ((range.min !== undefined && c.threshold < range.min) || (range.max !== undefined && c.threshold > range.max)) {
    fail(where, `threshold ${c.threshold} is out of range for ${c.signal}, which is ${range.unit}`);
  }
  for (const name of Object.keys(c.labels ?? {})) {
    if ((RESERVED_LABELS as readonly string[]).includes(name)) fail(where, `labels.${name}: Berth sets this label itself${name === 'severity' ? ' (use the severity field)' : ''}`);
    if (name.startsWith('__')) fail(where, `labels.${name}: names starting with __ are reserved by Prometheus`);
  }
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.annotations ?? {})) {
    if (v === undefined) continue;
    compileRuleTemplate(v, `${where}: annotations.${k}`);
    annotations[k] = v;
  }
  const forMs = parseDuration(c.for ?? '0s', `${where}: for`);
  const keepFiringForMs = parseDuration(c.keepFiringFor ?? '0s', `${where}: keepFiringFor`);
  return {
    name: c.name,
    signal: c.signal,
    op: c.op,
    threshold: c.threshold,
    for: formatDuration(forMs),
    forMs,
    keepFiringFor: formatDuration(keepFiringForMs),
    keepFiringForMs,
    ...(c.severity === undefined ? {} : { severity: c.severity }),
    labels: { ...(c.labels ?? {}) },
    annotations,
  };
}

const templates = new Map<string, RenderFn>();

/** Compiled template, cached by its text (rules are few; templates repeat across models). */
export function compileRuleTemplate(text: string, where = 'annotation'): RenderFn {
  let fn = templates.get(text);
  if (fn === undefined) {
    fn = compileTemplate(text, where);
    templates.set(text, fn);
  }
  return fn;
}

export interface RuleLayer {
  /** Where the rules come from, for messages ("berth.yaml of model income"). */
  where: string;
  rules: readonly AlertRuleConfig[] | undefined;
}

/**
 * Merges rule layers by name, lowest first (typically: defaultAlertRules(), the server-wide
 * rules, the model's own `alerts:`), validates every layer against AlertRulesSchema, and
 * returns the enabled rules, complete and checked. A layer may be a bare array (then named
 * "alerts[<index>]") or a {where, rules} pair. Throws BERTH_ERR_ALERT_RULE.
 */
export function resolveAlertRules(...layers: readonly (RuleLayer | readonly AlertRuleConfig[] | undefined)[]): AlertRule[] {
  const merged = new Map<string, { rule: AlertRuleConfig; where: string }>();
  layers.forEach((layer, i) => {
    if (layer === undefined) return;
    const { where, rules } = Array.isArray(layer) ? { where: `alerts (layer ${i})`, rules: layer as readonly AlertRuleConfig[] } : (layer as RuleLayer);
    if (rules === undefined) return;
    validate(AlertRulesSchema, rules, where, 'BERTH_ERR_ALERT_RULE');
    const seen = new Set<string>();
    rules.forEach((r, j) => {
      if (seen.has(r.name)) fail(`${where}[${j}]`, `rule name "${r.name}" appears twice`);
      seen.add(r.name);
      merged.set(r.name, { rule: mergeRule(merged.get(r.name)?.rule, r), where: `${where}[${j}] (${r.name})` });
    });
  });
  const out: AlertRule[] = [];
  for (const { rule, where } of merged.values()) {
    if (rule.enabled === false) continue;
    out.push(complete(rule, where));
  }
  return out;
}

/** One webhook receiver in the server configuration (`alerting.webhooks[]`). */
export const WebhookConfigSchema = Type.Object(
  {
    url: Type.String({ minLength: 1, description: 'Where to POST Alertmanager-format (version 4) notifications.' }),
    name: Type.Optional(Type.String({ minLength: 1, description: 'Receiver name (payload `receiver`, metrics label); default webhook, webhook-2, …' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, description: 'Per attempt (default 10000).' })),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, description: 'Attempts per notification, first included (default 5).' })),
    initialBackoffMs: Type.Optional(Type.Integer({ minimum: 0, description: 'Wait before the first retry, doubling each retry (default 500).' })),
    maxBackoffMs: Type.Optional(Type.Integer({ minimum: 0, description: 'Longest wait between attempts (default 30000).' })),
    maxAlerts: Type.Optional(Type.Integer({ minimum: 0, description: 'At most this many alerts per payload, 0 = all (Alertmanager max_alerts).' })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Extra request headers, e.g. Authorization.' })),
  },
  { additionalProperties: false },
);

/**
 * Server-wide alerting settings (suggested place: `alerting:` in the server config). The
 * rules themselves live with the other model defaults (`models.alerts`) and in berth.yaml.
 */
export const AlertingSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Run the alert engine.' }),
    repeatIntervalMs: Type.Integer({ minimum: 1, default: 4 * 3600_000, description: 'Re-send a group that still fires after this long.' }),
    resolvedRetentionMs: Type.Integer({ minimum: 1, default: 15 * 60_000, description: 'How long resolved alerts stay listed.' }),
    groupBy: Type.Array(Type.String({ pattern: LABEL_NAME }), { minItems: 1, default: ['alertname', 'model'], description: 'Labels that group alerts into one notification.' }),
    externalUrl: Type.Optional(Type.String({ minLength: 1, description: 'The server\'s public URL, for externalURL and generatorURL in notifications.' })),
    log: Type.Boolean({ default: true, description: 'Log one line per alert transition.' }),
    webhooks: Type.Array(WebhookConfigSchema, { default: [], description: 'Webhook receivers (Alertmanager webhook format).' }),
  },
  { additionalProperties: false, default: {} },
);

export type WebhookConfig = Static<typeof WebhookConfigSchema>;
export type AlertingConfig = Static<typeof AlertingSchema>;
