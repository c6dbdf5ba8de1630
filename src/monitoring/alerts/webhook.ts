/**
 * @module monitoring/alerts/webhook
 * Delivers notifications to a webhook as Alertmanager does (webhook payload version "4"),
 * so anything that receives Alertmanager webhooks receives Berth's alerts unchanged.
 * Delivery runs in the background: `notify` returns at once; each attempt has a timeout;
 * failures are retried with exponential backoff and jitter, then given up and counted.
 * Per group, one delivery runs at a time; notifications that arrive meanwhile are merged
 * into one (newest state of each alert wins), so a slow receiver never piles up requests
 * and never sees a group's states out of order.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { BerthError, messageOf } from '../../errors.js';
import type { NotificationMetricsHook } from './metrics.js';
import type { AlertNotification, NotifiedAlert, Notifier } from './types.js';

/** Alertmanager's "zero time", which its webhook payloads carry as endsAt of firing alerts. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** One alert of the payload, field for field as Alertmanager sends it. */
export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** Alertmanager's webhook payload, version 4. */
export interface WebhookPayload {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: WebhookAlert[];
}

/** Key/value pairs shared (same value) by every map; insertion order of the first. */
function common(maps: readonly Record<string, string>[]): Record<string, string> {
  const out: Record<string, string> = {};
  const [first, ...rest] = maps;
  if (first === undefined) return out;
  for (const [k, v] of Object.entries(first)) if (rest.every((m) => m[k] === v)) out[k] = v;
  return out;
}

/** The webhook body for a notification. `maxAlerts` > 0 keeps the first N (truncatedAlerts counts the rest). */
export function buildWebhookPayload(n: AlertNotification, receiver: string, maxAlerts = 0): WebhookPayload {
  const kept = maxAlerts > 0 ? n.alerts.slice(0, maxAlerts) : n.alerts;
  const alerts = kept.map(
    (a): WebhookAlert => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: new Date(a.startsAt).toISOString(),
      endsAt: a.endsAt === undefined ? ZERO_TIME : new Date(a.endsAt).toISOString(),
      generatorURL: a.generatorURL,
      fingerprint: a.fingerprint,
    }),
  );
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.alerts.length - kept.length,
    status: n.alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver,
    groupLabels: n.groupLabels,
    // Computed over every alert of the group, as Alertmanager does, even when truncated.
    commonLabels: common(n.alerts.map((a) => a.labels)),
    commonAnnotations: common(n.alerts.map((a) => a.annotations)),
    externalURL: n.externalURL,
    alerts,
  };
}

/** A newer notification for the same group replaces each alert it mentions; the others stay. */
function mergeNotifications(older: AlertNotification, newer: AlertNotification): AlertNotification {
  const byFp = new Map<string, NotifiedAlert>();
  for (const a of older.alerts) byFp.set(a.fingerprint, a);
  for (const a of newer.alerts) byFp.set(a.fingerprint, a);
  const alerts = [...byFp.values()];
  return { ...newer, alerts, status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved', reason: older.reason === 'change' ? 'change' : newer.reason };
}

export interface WebhookNotifierOptions {
  url: string;
  /** The receiver name (payload `receiver`, metrics label). Default "webhook". */
  name?: string;
  /** Per attempt. Default 10 000 ms. */
  timeoutMs?: number;
  /** Attempts per notification, first included. Default 5. */
  maxAttempts?: number;
  /** Wait before the first retry; doubles each retry up to maxBackoffMs. Default 500 ms. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Extra request headers (e.g. Authorization). */
  headers?: Record<string, string>;
  /** Alertmanager's max_alerts: at most this many alerts per payload, 0 = all. */
  maxAlerts?: number;
  logger?: Logger;
  metrics?: NotificationMetricsHook;
  /** Jitter source in [0, 1): the wait is base × (0.5 + random/2). Tests pin it. */
  random?: () => number;
}

export const WEBHOOK_DEFAULTS = { name: 'webhook', timeoutMs: 10_000, maxAttempts: 5, initialBackoffMs: 500, maxBackoffMs: 30_000, maxAlerts: 0 };

function option(name: string, v: number | undefined, fallback: number, min: number, integer = true): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new BerthError('BERTH_ERR_ALERT_CONFIG', `webhook notifier: ${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${String(v)}`);
  }
  return v;
}

/** Status codes worth another attempt: the receiver's fault or overload, not a bad request. */
function retryable(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

export class WebhookNotifier implements Notifier {
  readonly name: string;
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly headers: Record<string, string>;
  private readonly maxAlerts: number;
  private readonly logger: Logger | undefined;
  private readonly metrics: NotificationMetricsHook | undefined;
  private readonly random: () => number;
  private readonly abort = new AbortController();
  /** Per group key: the delivery loop running, and the notification waiting behind it. */
  private readonly groups = new Map<string, { running: Promise<void>; next?: AlertNotification }>();
  private closed = false;

  constructor(options: WebhookNotifierOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new BerthError('BERTH_ERR_ALERT_CONFIG', `webhook notifier: url "${String(options.url)}" is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BerthError('BERTH_ERR_ALERT_CONFIG', `webhook notifier: url must be http or https, got ${url.protocol}`);
    this.url = url.href;
    this.name = options.name ?? WEBHOOK_DEFAULTS.name;
    if (this.name === '') throw new BerthError('BERTH_ERR_ALERT_CONFIG', 'webhook notifier: name must not be empty');
    this.timeoutMs = option('timeoutMs', options.timeoutMs, WEBHOOK_DEFAULTS.timeoutMs, 1);
    this.maxAttempts = option('maxAttempts', options.maxAttempts, WEBHOOK_DEFAULTS.maxAttempts, 1);
    this.initialBackoffMs = option('initialBackoffMs', options.initialBackoffMs, WEBHOOK_DEFAULTS.initialBackoffMs, 0);
    this.maxBackoffMs = option('maxBackoffMs', options.maxBackoffMs, Math.max(WEBHOOK_DEFAULTS.maxBackoffMs, this.initialBackoffMs), this.initialBackoffMs);
    this.maxAlerts = option('maxAlerts', options.maxAlerts, WEBHOOK_DEFAULTS.maxAlerts, 0);
    this.headers = { ...(options.headers ?? {}) };
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.random = options.random ?? Math.random;
    this.metrics?.receiverAdded(this.name);
  }

  notify(notification: AlertNotification): void {
    if (this.closed) {
      this.logger?.warn({ receiver: this.name, groupKey: notification.groupKey }, 'alert notification after the webhook notifier was closed: not sent');
      return;
    }
    const g = this.groups.get(notification.groupKey);
    if (g !== undefined) {
      g.next = g.next === undefined ? notification : mergeNotifications(g.next, notification);
      return;
    }
    const entry: { running: Promise<void>; next?: AlertNotification } = { running: Promise.resolve() };
    this.groups.set(notification.groupKey, entry);
    entry.running = this.run(notification.groupKey, notification, entry);
  }

  async flush(): Promise<void> {
    while (this.groups.size > 0) await Promise.all([...this.groups.values()].map((g) => g.running));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    await this.flush();
  }

  /** Delivers a group's notifications one after another until none is waiting. */
  private async run(key: string, first: AlertNotification, entry: { next?: AlertNotification }): Promise<void> {
    let n: AlertNotification | undefined = first;
    try {
      while (n !== undefined) {
        await this.deliver(n);
        n = entry.next;
        delete entry.next;
      }
    } catch (err) {
      this.metrics?.notificationDone(this.name, 'failure');
      this.logger?.error({ err, receiver: this.name, groupKey: key }, `alert notification to ${this.name} could not be built: ${messageOf(err)}`);
    } finally {
      this.groups.delete(key);
    }
  }

  /** Backoff before retry number `retry` (1-based): exponential, capped, with jitter. */
  backoffMs(retry: number): number {
    const base = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (retry - 1));
    return base * (0.5 + this.random() / 2);
  }

  private async deliver(n: AlertNotification): Promise<void> {
    const payload = buildWebhookPayload(n, this.name, this.maxAlerts);
    const body = JSON.stringify(payload);
    const log = { receiver: this.name, groupKey: n.groupKey, status: payload.status, alerts: payload.alerts.length };
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let again = true;
      let retryAfterMs: number | undefined;
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'Berth-Alerts/0.1', ...this.headers },
          body,
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]),
        });
        const text = await res.text().catch(() => '');
        if (res.ok) {
          this.metrics?.notificationDone(this.name, 'success');
          this.logger?.debug({ ...log, attempt }, 'alert notification delivered');
          return;
        }
        reason = `HTTP ${res.status}${text === '' ? '' : `: ${text.slice(0, 200)}`}`;
        again = retryable(res.status);
        const ra = Number(res.headers.get('retry-after'));
        if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
      } catch (err) {
        reason = this.closed ? 'notifier closed' : (err as Error)?.name === 'TimeoutError' ? `timed out after ${this.timeoutMs} ms` : messageOf((err as Error)?.cause ?? err);
      }
      if (!again || this.closed || attempt >= this.maxAttempts) {
        this.metrics?.notificationDone(this.name, 'failure');
        this.logger?.error({ ...log, attempt, reason }, `alert notification to ${this.name} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${reason}`);
        return;
      }
      const wait = Math.min(this.maxBackoffMs, Math.max(this.backoffMs(attempt), retryAfterMs ?? 0));
      this.logger?.warn({ ...log, attempt, reason, retryInMs: Math.round(wait) }, `alert notification to ${this.name} failed (${reason}); retrying`);
      try {
        await sleep(wait, undefined, { signal: this.abort.signal });
      } catch {
        // Closed while waiting: the next turn of the loop gives up.
      }
    }
  }
}
