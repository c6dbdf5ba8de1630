/** Shared pieces of the alert tests: a hand-moved clock, a recording notifier, sample builders. */
import { AlertEngine, type AlertEngineOptions } from '../../../src/monitoring/alerts/engine.js';
import { resolveAlertRules, type AlertRuleConfig, type SignalName } from '../../../src/monitoring/alerts/config.js';
import type { AlertNotification, Notifier, SignalSample } from '../../../src/monitoring/alerts/types.js';

export const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
export const SEC = 1000;
export const MIN = 60_000;

export class FakeClock {
  t = T0;
  now(): number {
    return this.t;
  }
  /** Moves to T0 + ms. */
  at(ms: number): this {
    this.t = T0 + ms;
    return this;
  }
}

export class RecordingNotifier implements Notifier {
  readonly name = 'recorder';
  readonly notifications: AlertNotification[] = [];
  notify(n: AlertNotification): void {
    this.notifications.push(structuredClone(n));
  }
  /** Status and alertnames@model of each notification, compactly. */
  summary(): string[] {
    return this.notifications.map((n) => `${n.reason}:${n.status}:${n.alerts.map((a) => `${a.labels.alertname}@${a.labels.model}/${a.labels.version}=${a.status}${a.changed ? '*' : ''}`).join(',')}`);
  }
}

export function sample(signal: SignalName, value: number, model = 'income', version = '1', labels?: Record<string, string>): SignalSample {
  return labels === undefined ? { signal, model, version, value } : { signal, model, version, value, labels };
}

/** An engine over the given rules (no defaults), a fake clock and a recording notifier. */
export function setup(rules: AlertRuleConfig[], options: Partial<AlertEngineOptions> = {}) {
  const clock = new FakeClock();
  const rec = new RecordingNotifier();
  const engine = new AlertEngine({ rules: resolveAlertRules(rules), clock, notifiers: [rec], ...options });
  /** Evaluates at T0 + ms. */
  const evalAt = (ms: number, samples: SignalSample[]) => {
    clock.at(ms);
    engine.evaluate(samples);
    return engine.alerts();
  };
  return { clock, rec, engine, evalAt };
}
