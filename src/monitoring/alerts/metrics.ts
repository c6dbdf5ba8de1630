/**
 * @module monitoring/alerts/metrics
 * The alert engine's own Prometheus metrics, registered on a registry the caller owns (the
 * server's): active alerts by name and state, and notification deliveries by receiver and
 * outcome. The engine and notifiers take the small hook interfaces below, so they work
 * (and are tested) without prom-client.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertState } from './types.js';

export type NotificationOutcome = 'success' | 'failure';

/** What notifiers report. */
export interface NotificationMetricsHook {
  /** Called once per receiver so its series exist (at 0) before the first delivery. */
  receiverAdded(receiver: string): void;
  /** One notification delivered, or given up after its last attempt. */
  notificationDone(receiver: string, outcome: NotificationOutcome): void;
}

/** What the engine reports after each evaluation. */
export interface AlertStateMetricsHook {
  setActive(alerts: readonly Pick<AlertState, 'name' | 'state'>[]): void;
}

export class AlertMetrics implements NotificationMetricsHook, AlertStateMetricsHook {
  readonly notifications: Counter<'receiver' | 'outcome'>;
  readonly alerts: Gauge<'alertname' | 'state'>;

  constructor(registry: Registry) {
    this.notifications = new Counter({
      name: 'berth_alert_notifications_total',
      help: 'Alert notifications by receiver and outcome (success; failure = given up after the last retry).',
      labelNames: ['receiver', 'outcome'] as const,
      registers: [registry],
    });
    this.alerts = new Gauge({
      name: 'berth_alerts',
      help: 'Active alerts of Berth\'s alert engine by alert name and state (pending, firing).',
      labelNames: ['alertname', 'state'] as const,
      registers: [registry],
    });
  }

  receiverAdded(receiver: string): void {
    this.notifications.labels(receiver, 'success').inc(0);
    this.notifications.labels(receiver, 'failure').inc(0);
  }

  notificationDone(receiver: string, outcome: NotificationOutcome): void {
    this.notifications.labels(receiver, outcome).inc();
  }

  setActive(alerts: readonly Pick<AlertState, 'name' | 'state'>[]): void {
    const counts = new Map<string, number>();
    for (const a of alerts) {
      if (a.state === 'resolved') continue;
      const key = `${a.name}\u0000${a.state}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    // Reset first so alert names that went quiet drop out instead of sticking at their last count.
    this.alerts.reset();
    for (const [key, n] of counts) {
      const [name, state] = key.split('\u0000') as [string, string];
      this.alerts.labels(name, state).set(n);
    }
  }
}

/** Registers the alert metrics on `registry` (call once per registry). */
export function registerAlertMetrics(registry: Registry): AlertMetrics {
  return new AlertMetrics(registry);
}
