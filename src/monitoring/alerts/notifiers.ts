/**
 * @module monitoring/alerts/notifiers
 * Builds the notifiers the server configuration asks for (`alerting:`): the log notifier
 * and one webhook notifier per receiver, with unique receiver names.
 */
import type { Logger } from 'pino';
import { BerthError } from '../../errors.js';
import type { AlertingConfig } from './config.js';
import { LogNotifier } from './log-notifier.js';
import type { NotificationMetricsHook } from './metrics.js';
import type { Notifier } from './types.js';
import { WebhookNotifier } from './webhook.js';

export function createNotifiers(config: Pick<AlertingConfig, 'log' | 'webhooks'>, deps: { logger: Logger; metrics?: NotificationMetricsHook }): Notifier[] {
  const out: Notifier[] = [];
  if (config.log) out.push(new LogNotifier({ logger: deps.logger }));
  const names = new Set<string>();
  config.webhooks.forEach((w, i) => {
    const name = w.name ?? (i === 0 ? 'webhook' : `webhook-${i + 1}`);
    if (names.has(name)) throw new BerthError('BERTH_ERR_ALERT_CONFIG', `alerting.webhooks[${i}].name: "${name}" is used by another webhook; receiver names must be unique`);
    names.add(name);
    const { name: _, ...options } = w;
    out.push(new WebhookNotifier({ ...options, name, logger: deps.logger, ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }) }));
  });
  return out;
}
