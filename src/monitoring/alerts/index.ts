/**
 * @module monitoring/alerts
 * The alert engine's public surface: rule config (schema, defaults, resolution), the
 * engine, the notifiers, their metrics and the Prometheus rules export. See docs/alerts.md.
 */
export {
  AlertRuleSchema,
  AlertRulesSchema,
  AlertingSchema,
  WebhookConfigSchema,
  COMPARISON_OPS,
  SEVERITIES,
  SIGNAL_NAMES,
  SIGNAL_RANGES,
  defaultAlertRules,
  resolveAlertRules,
  type AlertRule,
  type AlertRuleConfig,
  type AlertRulesConfig,
  type AlertingConfig,
  type WebhookConfig,
  type ComparisonOp,
  type RuleLayer,
  type Severity,
  type SignalName,
} from './config.js';
export { formatDuration, parseDuration } from './duration.js';
export { AlertEngine, ENGINE_DEFAULTS, type AlertEngineOptions, type RulesSource } from './engine.js';
export { fingerprint } from './fingerprint.js';
export { LogNotifier } from './log-notifier.js';
export { createNotifiers } from './notifiers.js';
export { AlertMetrics, registerAlertMetrics, type AlertStateMetricsHook, type NotificationMetricsHook } from './metrics.js';
export { signalExpression, toPrometheusRules, type PrometheusExportOptions } from './prometheus.js';
export type { AlertNotification, AlertState, AlertStateName, Clock, NotifiedAlert, Notifier, SignalSample } from './types.js';
export { WebhookNotifier, buildWebhookPayload, type WebhookNotifierOptions, type WebhookPayload } from './webhook.js';
