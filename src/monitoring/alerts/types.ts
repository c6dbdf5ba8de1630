/**
 * @module monitoring/alerts/types
 * The shapes that cross the alert engine's edges: signal samples in (computed by the
 * server at each evaluation), alert states out (for /api/alerts and the dashboard), and
 * notifications to notifiers (webhook, log). Implementations live beside this file.
 */
import type { ComparisonOp, Severity, SignalName } from './config.js';

export type { SignalName } from './config.js';

/** One signal value for one model version at the evaluation instant. */
export interface SignalSample {
  signal: SignalName;
  model: string;
  version: string;
  value: number;
  /** Extra labels that tell alerts apart (e.g. `feature` for per-feature drift). Empty values are dropped. */
  labels?: Record<string, string>;
}

/** Milliseconds since the epoch; tests pass a clock they move by hand. */
export interface Clock {
  now(): number;
}

export type AlertStateName = 'pending' | 'firing' | 'resolved';

/** One alert as the engine sees it now (active) or saw it last (recently resolved). */
export interface AlertState {
  /** The rule name, also the alertname label. */
  name: string;
  state: AlertStateName;
  fingerprint: string;
  model: string;
  version: string;
  severity?: Severity;
  signal: SignalName;
  op: ComparisonOp;
  threshold: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The last value that met the condition. */
  value: number;
  /** When the condition first held (start of pending), ms since epoch. */
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
  /** Set while a firing alert is held by keepFiringFor: when the condition stopped holding. */
  keepFiringSince?: number;
}

/** An alert inside a notification, as Alertmanager would hand it to a receiver. */
export interface NotifiedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** When it started firing (ms). */
  startsAt: number;
  /** When it resolved (ms); undefined while firing. */
  endsAt?: number;
  generatorURL: string;
  fingerprint: string;
  value: number;
  /** True when this evaluation moved the alert to `status` (false for alerts re-sent with their group). */
  changed: boolean;
}

/**
 * One group of alerts to deliver, like an Alertmanager notification: every firing alert
 * of the group plus those that just resolved. Sent when an alert of the group starts
 * firing or resolves, and again every repeat interval while any still fires.
 */
export interface AlertNotification {
  groupKey: string;
  groupLabels: Record<string, string>;
  /** 'firing' when any alert in the group fires, else 'resolved'. */
  status: 'firing' | 'resolved';
  alerts: NotifiedAlert[];
  reason: 'change' | 'repeat';
  externalURL: string;
  /** Evaluation time (ms). */
  at: number;
}

/**
 * Receives notifications. `notify` must return at once (deliver in the background): the
 * engine calls it from `evaluate`, which never waits on the network.
 */
export interface Notifier {
  readonly name: string;
  notify(notification: AlertNotification): void;
  /** Resolves when every notification handed over so far is delivered or given up. */
  flush?(): Promise<void>;
  /** Stops retrying, abandons what is pending, and resolves when nothing is in flight. */
  close?(): Promise<void>;
}
