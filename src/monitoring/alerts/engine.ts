/**
 * @module monitoring/alerts/engine
 * The alert engine: at each evaluation it compares the signal samples with the rules and
 * moves every alert through Prometheus' states, then hands notifications to the notifiers.
 *
 *   condition holds ─▶ pending (activeAt) ──(held for `for`)──▶ firing (firedAt)
 *        ▲                 │ condition fails                        │ condition fails / no data
 *        │                 ▼                                        ▼
 *        └──────────── inactive ◀──(after keepFiringFor)── firing, held (keepFiringSince)
 *                                           │
 *                                           └─▶ resolved (resolvedAt): notified, kept for the dashboard
 *
 * Timing is Prometheus': a pending alert fires at the first evaluation at least `for`
 * after activeAt; a firing alert whose condition stops holding resolves at the first
 * evaluation at least `keepFiringFor` after it stopped (at once when keepFiringFor is 0); a
 * pending alert whose condition fails goes back to inactive without a notification. A
 * sample that is absent (or NaN) means "no data": the condition does not hold.
 *
 * Notifications are grouped like Alertmanager (by default by alertname and model): when an
 * alert of a group starts firing or resolves, the group's firing alerts and the newly
 * resolved ones go out together; while any still fires, the group is re-sent every
 * repeatIntervalMs.
 */
import type { Logger } from 'pino';
import { BerthError, messageOf } from '../../errors.js';
import type { AlertRule, ComparisonOp } from './config.js';
import { compileRuleTemplate } from './config.js';
import { fingerprint, labelsString, sortLabels } from './fingerprint.js';
import type { AlertStateMetricsHook } from './metrics.js';
import type { AlertNotification, AlertState, Clock, NotifiedAlert, Notifier, SignalSample } from './types.js';

export type RulesSource = readonly AlertRule[] | ((model: string, version: string) => readonly AlertRule[]);

export interface AlertEngineOptions {
  /** Rules for every model, or a function giving each model version's rules (resolveAlertRules). */
  rules: RulesSource;
  clock?: Clock;
  notifiers?: readonly Notifier[];
  logger?: Logger;
  /** The server's public URL: externalURL of webhook payloads, base of generatorURL. */
  externalUrl?: string;
  /** generatorURL of an alert (default: `${externalUrl}/api/alerts`, or '' without externalUrl). */
  generatorUrl?: (labels: Readonly<Record<string, string>>) => string;
  /** Re-send a group that still fires after this long (Alertmanager's repeat_interval). Default 4 h. */
  repeatIntervalMs?: number;
  /** How long resolved alerts stay in alerts() for the dashboard. Default 15 min (as Prometheus keeps them). */
  resolvedRetentionMs?: number;
  /** At most this many resolved alerts are kept (the oldest go first). Default 1000. */
  maxResolved?: number;
  /** Labels that group alerts into one notification (Alertmanager's group_by). Default alertname, model. */
  groupBy?: readonly string[];
  metrics?: AlertStateMetricsHook;
}

export const ENGINE_DEFAULTS = {
  repeatIntervalMs: 4 * 3600_000,
  resolvedRetentionMs: 15 * 60_000,
  maxResolved: 1000,
  groupBy: ['alertname', 'model'] as readonly string[],
};

interface Active {
  rule: AlertRule;
  model: string;
  version: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  fingerprint: string;
  state: 'pending' | 'firing';
  value: number;
  activeAt: number;
  firedAt?: number;
  keepFiringSince?: number;
}

interface Resolved extends Active {
  resolvedAt: number;
}

interface Hit {
  rule: AlertRule;
  model: string;
  version: string;
  labels: Record<string, string>;
  value: number;
}

/** Whether `value op threshold` holds; NaN never does. */
export function holds(value: number, op: ComparisonOp, threshold: number): boolean {
  switch (op) {
    case '>': return value > threshold;
    case '<': return value < threshold;
    case '>=': return value >= threshold;
    case '<=': return value <= threshold;
  }
}

/**
 * An alert's labels, precedence lowest first: the sample's labels, model and version, the
 * rule's labels, severity, alertname (as in Prometheus, the rule's labels win over the series').
 */
export function alertLabels(rule: AlertRule, sample: Pick<SignalSample, 'model' | 'version' | 'labels'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sample.labels ?? {})) if (v !== '') out[k] = v;
  out.model = sample.model;
  out.version = sample.version;
  Object.assign(out, rule.labels);
  if (rule.severity !== undefined) out.severity = rule.severity;
  out.alertname = rule.name;
  return sortLabels(out);
}

function renderAnnotations(rule: AlertRule, labels: Record<string, string>, value: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(rule.annotations)) out[k] = compileRuleTemplate(t)(labels, value);
  return out;
}

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v <= 0) throw new BerthError('BERTH_ERR_ALERT_CONFIG', `alert engine: ${name} must be a positive number of milliseconds, got ${v}`);
  return v;
}

export class AlertEngine {
  private readonly rules: RulesSource;
  private readonly clock: Clock;
  private readonly notifiers: readonly Notifier[];
  private readonly logger: Logger | undefined;
  private readonly externalUrl: string;
  private readonly generatorUrl: (labels: Readonly<Record<string, string>>) => string;
  private readonly repeatIntervalMs: number;
  private readonly resolvedRetentionMs: number;
  private readonly maxResolved: number;
  private readonly groupBy: readonly string[];
  private readonly metrics: AlertStateMetricsHook | undefined;

  /** Pending and firing alerts by fingerprint. */
  private readonly active = new Map<string, Active>();
  /** Resolved alerts, oldest first. */
  private resolved: Resolved[] = [];
  /** Groups that have been notified and still fire: when they were last sent. */
  private readonly groups = new Map<string, { lastSentAt: number }>();

  constructor(options: AlertEngineOptions) {
    if (options.rules === undefined) throw new BerthError('BERTH_ERR_ALERT_CONFIG', 'alert engine: rules is required (a list, or a function of model and version)');
    this.rules = options.rules;
    this.clock = options.clock ?? Date;
    this.notifiers = options.notifiers ?? [];
    this.logger = options.logger;
    this.externalUrl = (options.externalUrl ?? '').replace(/\/+$/, '');
    this.generatorUrl = options.generatorUrl ?? (() => (this.externalUrl === '' ? '' : `${this.externalUrl}/api/alerts`));
    this.repeatIntervalMs = positive('repeatIntervalMs', options.repeatIntervalMs, ENGINE_DEFAULTS.repeatIntervalMs);
    this.resolvedRetentionMs = positive('resolvedRetentionMs', options.resolvedRetentionMs, ENGINE_DEFAULTS.resolvedRetentionMs);
    this.maxResolved = Math.floor(positive('maxResolved', options.maxResolved, ENGINE_DEFAULTS.maxResolved));
    this.groupBy = options.groupBy ?? ENGINE_DEFAULTS.groupBy;
    if (this.groupBy.length === 0) throw new BerthError('BERTH_ERR_ALERT_CONFIG', 'alert engine: groupBy needs at least one label name');
    this.metrics = options.metrics;
  }

  /**
   * Evaluates every rule against `samples` at clock.now(): updates alert states and hands
   * notifications to the notifiers (which deliver in the background). Pass the complete set
   * of samples for this instant: a missing sample means "no data" for that signal.
   */
  evaluate(samples: readonly SignalSample[]): void {
    const now = this.clock.now();
    const rulesCache = new Map<string, readonly AlertRule[]>();
    const hits = this.match(samples, rulesCache);
    const firedNow: Active[] = [];
    const resolvedNow: Resolved[] = [];

    for (const [fp, hit] of hits) {
      let a = this.active.get(fp);
      if (a === undefined) {
        a = { rule: hit.rule, model: hit.model, version: hit.version, labels: hit.labels, annotations: {}, fingerprint: fp, state: 'pending', value: hit.value, activeAt: now };
        this.active.set(fp, a);
        this.logger?.debug({ alert: { alertname: hit.rule.name, model: hit.model, version: hit.version, fingerprint: fp, value: hit.value } }, 'alert pending');
      }
      a.rule = hit.rule;
      a.value = hit.value;
      a.annotations = renderAnnotations(hit.rule, a.labels, hit.value);
      delete a.keepFiringSince;
      if (a.state === 'pending' && now - a.activeAt >= hit.rule.forMs) {
        a.state = 'firing';
        a.firedAt = now;
        firedNow.push(a);
      }
    }

    for (const [fp, a] of this.active) {
      if (hits.has(fp)) continue;
      if (a.state === 'pending') {
        this.active.delete(fp);
        continue;
      }
      // A rule that was removed or disabled since resolves its alerts at once.
      const rule = this.rulesFor(a.model, a.version, rulesCache).find((r) => r.name === a.rule.name && r.signal === a.rule.signal);
      const keepMs = rule?.keepFiringForMs ?? 0;
      if (keepMs > 0) {
        a.keepFiringSince ??= now;
        if (now - a.keepFiringSince < keepMs) continue;
      }
      this.active.delete(fp);
      const r: Resolved = { ...a, resolvedAt: now };
      delete r.keepFiringSince;
      resolvedNow.push(r);
      this.resolved.push(r);
    }

    this.pruneResolved(now);
    this.dispatch(now, new Set(firedNow.map((a) => a.fingerprint)), resolvedNow);
    this.metrics?.setActive(this.alerts());
  }

  /**
   * Pending and firing alerts, then those resolved within resolvedRetentionMs (newest
   * first). Firing before pending; critical before warning before info.
   */
  alerts(): AlertState[] {
    this.pruneResolved(this.clock.now());
    const rank = { firing: 0, pending: 1, resolved: 2 } as const;
    const sev = (s: string | undefined) => (s === 'critical' ? 0 : s === 'warning' ? 1 : s === 'info' ? 2 : 3);
    const out = [...this.active.values()].map((a) => this.toState(a));
    out.sort((x, y) => rank[x.state] - rank[y.state] || sev(x.severity) - sev(y.severity) || x.activeAt - y.activeAt || x.fingerprint.localeCompare(y.fingerprint));
    for (let i = this.resolved.length - 1; i >= 0; i--) out.push(this.toState(this.resolved[i]!));
    return out;
  }

  /** Waits until every notifier has delivered (or given up on) what it was handed. */
  async flush(): Promise<void> {
    await Promise.all(this.notifiers.map((n) => n.flush?.()));
  }

  /** Closes the notifiers (stops retries). The engine keeps its state and can still evaluate. */
  async close(): Promise<void> {
    await Promise.all(this.notifiers.map((n) => n.close?.()));
  }

  private rulesFor(model: string, version: string, cache: Map<string, readonly AlertRule[]>): readonly AlertRule[] {
    if (typeof this.rules !== 'function') return this.rules;
    const key = `${model}\u0000${version}`;
    let rules = cache.get(key);
    if (rules === undefined) {
      try {
        rules = this.rules(model, version);
      } catch (err) {
        this.logger?.error({ err, model, version }, `alert rules for ${model} version ${version} could not be read: ${messageOf(err)}`);
        rules = [];
      }
      cache.set(key, rules);
    }
    return rules;
  }

  /** Alerts whose condition holds now, by fingerprint (a later duplicate sample wins). */
  private match(samples: readonly SignalSample[], cache: Map<string, readonly AlertRule[]>): Map<string, Hit> {
    const hits = new Map<string, Hit>();
    for (const s of samples) {
      if (typeof s.value !== 'number' || Number.isNaN(s.value)) continue;
      for (const rule of this.rulesFor(s.model, s.version, cache)) {
        if (rule.signal !== s.signal || !holds(s.value, rule.op, rule.threshold)) continue;
        const labels = alertLabels(rule, s);
        hits.set(fingerprint(labels), { rule, model: s.model, version: s.version, labels, value: s.value });
      }
    }
    return hits;
  }

  private pruneResolved(now: number): void {
    let drop = Math.max(0, this.resolved.length - this.maxResolved);
    while (drop < this.resolved.length && now - this.resolved[drop]!.resolvedAt > this.resolvedRetentionMs) drop += 1;
    if (drop > 0) this.resolved = this.resolved.slice(drop);
  }

  private groupKeyOf(labels: Record<string, string>): { key: string; groupLabels: Record<string, string> } {
    const groupLabels: Record<string, string> = {};
    for (const name of this.groupBy) if (labels[name] !== undefined) groupLabels[name] = labels[name];
    // Alertmanager's form: the route's matchers ({} for the root route), then the group labels.
    return { key: `{}:${labelsString(groupLabels)}`, groupLabels: sortLabels(groupLabels) };
  }

  private dispatch(now: number, firedNow: ReadonlySet<string>, resolvedNow: readonly Resolved[]): void {
    const groups = new Map<string, { groupLabels: Record<string, string>; firing: Active[]; resolved: Resolved[]; changed: boolean }>();
    const groupOf = (labels: Record<string, string>) => {
      const { key, groupLabels } = this.groupKeyOf(labels);
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { groupLabels, firing: [], resolved: [], changed: false }));
      return { key, g };
    };
    for (const a of this.active.values()) {
      if (a.state !== 'firing') continue;
      const { g } = groupOf(a.labels);
      g.firing.push(a);
      if (firedNow.has(a.fingerprint)) g.changed = true;
    }
    for (const r of resolvedNow) {
      const { g } = groupOf(r.labels);
      g.resolved.push(r);
      g.changed = true;
    }
    for (const [key, g] of groups) {
      const sent = this.groups.get(key);
      const repeat = sent !== undefined && now - sent.lastSentAt >= this.repeatIntervalMs;
      if (!g.changed && !repeat) continue;
      if (g.firing.length > 0) this.groups.set(key, { lastSentAt: now });
      else this.groups.delete(key);
      const alerts: NotifiedAlert[] = [
        ...g.firing.map((a) => this.notified(a, 'firing', firedNow.has(a.fingerprint))),
        ...g.resolved.map((r) => this.notified(r, 'resolved', true)),
      ].sort((x, y) => labelsString(x.labels).localeCompare(labelsString(y.labels)));
      this.send({
        groupKey: key,
        groupLabels: g.groupLabels,
        status: g.firing.length > 0 ? 'firing' : 'resolved',
        alerts,
        reason: g.changed ? 'change' : 'repeat',
        externalURL: this.externalUrl,
        at: now,
      });
    }
    // Groups that no longer exist at all (every alert gone) need no repeat.
    for (const key of this.groups.keys()) if (!groups.has(key)) this.groups.delete(key);
  }

  private notified(a: Active | Resolved, status: 'firing' | 'resolved', changed: boolean): NotifiedAlert {
    const out: NotifiedAlert = {
      status,
      labels: { ...a.labels },
      annotations: { ...a.annotations },
      startsAt: a.firedAt ?? a.activeAt,
      generatorURL: this.generatorUrl(a.labels),
      fingerprint: a.fingerprint,
      value: a.value,
      changed,
    };
    if ('resolvedAt' in a) out.endsAt = a.resolvedAt;
    return out;
  }

  private send(n: AlertNotification): void {
    for (const notifier of this.notifiers) {
      try {
        notifier.notify(n);
      } catch (err) {
        this.logger?.error({ err, receiver: notifier.name }, `alert notifier ${notifier.name} failed: ${messageOf(err)}`);
      }
    }
  }

  private toState(a: Active | Resolved): AlertState {
    const out: AlertState = {
      name: a.rule.name,
      state: 'resolvedAt' in a ? 'resolved' : a.state,
      fingerprint: a.fingerprint,
      model: a.model,
      version: a.version,
      signal: a.rule.signal,
      op: a.rule.op,
      threshold: a.rule.threshold,
      labels: { ...a.labels },
      annotations: { ...a.annotations },
      value: a.value,
      activeAt: a.activeAt,
    };
    if (a.rule.severity !== undefined) out.severity = a.rule.severity;
    if (a.firedAt !== undefined) out.firedAt = a.firedAt;
    if ('resolvedAt' in a) out.resolvedAt = a.resolvedAt;
    if (a.keepFiringSince !== undefined) out.keepFiringSince = a.keepFiringSince;
    return out;
  }
}
