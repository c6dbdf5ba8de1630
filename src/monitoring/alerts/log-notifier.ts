/**
 * @module monitoring/alerts/log-notifier
 * Writes one log line per alert transition (firing: warn, or error for critical alerts;
 * resolved: info), so the log tells the alert story even with no webhook configured.
 * Alerts re-sent with their group or on the repeat interval are not logged again.
 */
import type { Logger } from 'pino';
import type { AlertNotification, Notifier } from './types.js';

export class LogNotifier implements Notifier {
  readonly name: string;
  private readonly logger: Logger;

  constructor(options: { logger: Logger; name?: string }) {
    this.logger = options.logger;
    this.name = options.name ?? 'log';
  }

  notify(n: AlertNotification): void {
    for (const a of n.alerts) {
      if (!a.changed) continue;
      const { alertname = '', model = '', version = '', severity } = a.labels;
      const alert = {
        alertname,
        status: a.status,
        model,
        version,
        severity,
        fingerprint: a.fingerprint,
        value: a.value,
        labels: a.labels,
        annotations: a.annotations,
        startsAt: new Date(a.startsAt).toISOString(),
        ...(a.endsAt === undefined ? {} : { endsAt: new Date(a.endsAt).toISOString() }),
      };
      const what = a.annotations.summary ?? `value ${a.value}`;
      const msg = `alert ${a.status}: ${alertname} (${model} version ${version}): ${what}`;
      if (a.status === 'resolved') this.logger.info({ alert }, msg);
      else if (severity === 'critical') this.logger.error({ alert }, msg);
      else this.logger.warn({ alert }, msg);
    }
  }
}
