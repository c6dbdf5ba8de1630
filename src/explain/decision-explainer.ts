/**
 * @module explain/decision-explainer
 * Explanations stored with logged decisions, by each model's berth.yaml `explain.log`
 * policy (off | adverse | sampled | all). Monitoring offers every served decision after
 * the response is sent; `offer()` is O(1) and never waits. Selected decisions join a
 * bounded queue; one explanation runs at a time (explain/explain on the version's session
 * worker), then rests so the explainer keeps the model busy at most `maxBusyFraction` of
 * the time. Finished explanations are attached to their decisions in the store in batches.
 *
 *   offer ──policy──▶ queue (queueSize) ──one at a time──▶ explainRows ──▶ attach batch ──▶ store
 *            │ full: skipped                  │ fails: failed             │ id not stored yet: retried,
 *            ▼                                ▼                           ▼ then unmatched
 *         counted                          counted                     counted
 *
 * Every selected decision ends in exactly one count:
 *   selected = attached + skipped + failed + unmatched + closed + pending.
 */
import { messageOf } from '../errors.js';
import type { ModelVersion } from '../inference/model-version.js';
import type { RowDecision } from '../decision/outcome.js';
import type { PreparedDecision } from '../decision/path.js';
import { mulberry32 } from '../random.js';
import type { ExplanationItem } from '../store/store.js';
import { explainRows } from './explain.js';

export const EXPLANATION_RESULTS = ['attached', 'skipped', 'failed', 'unmatched', 'closed'] as const;
export type ExplanationResult = (typeof EXPLANATION_RESULTS)[number];

export interface DecisionExplainerOptions {
  /** Attaches explanations to stored decisions (PredictionStore.attachExplanations). */
  attach: (model: string, items: readonly ExplanationItem[]) => Promise<{ attached: string[]; unknown: string[] }>;
  /** Selected decisions waiting; beyond this they are skipped. */
  queueSize: number;
  /** Share of wall time the explainer may spend explaining (0 < f ≤ 1). */
  maxBusyFraction: number;
  /** Counts each decision's end (berth_explanations_total). */
  count?: (model: string, result: ExplanationResult, n: number) => void;
  log?: { warn(obj: object, msg: string): void };
  /** Seed of the `sampled` policy's draws (repeatable tests). */
  seed?: number;
  /** Attach rounds an explanation waits for its decision to reach the store before it counts as unmatched. */
  maxAttachRounds?: number;
  /** Wait between attach rounds (ms); the decision log writes a partial batch every 200 ms. */
  attachIntervalMs?: number;
}

interface Job {
  mv: ModelVersion;
  prepared: PreparedDecision;
  decision: RowDecision;
  /** The id the decision is logged under. */
  id: string;
}

interface Finished {
  model: string;
  item: ExplanationItem;
  rounds: number;
}

export interface DecisionExplainerStats {
  selected: number;
  pending: number;
  results: Record<ExplanationResult, number>;
  /** Time spent explaining (ms), for the busy-fraction check. */
  busyMs: number;
}

export class DecisionExplainer {
  readonly #o: Required<Omit<DecisionExplainerOptions, 'count' | 'log' | 'seed'>> & Pick<DecisionExplainerOptions, 'count' | 'log'>;
  readonly #random: () => number;
  readonly #queue: Job[] = [];
  #finished: Finished[] = [];
  #running = false;
  #closed = false;
  #attachTimer: NodeJS.Timeout | undefined;
  #attaching: Promise<void> | undefined;
  #idle: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;
  readonly #stats: DecisionExplainerStats = { selected: 0, pending: 0, results: { attached: 0, skipped: 0, failed: 0, unmatched: 0, closed: 0 }, busyMs: 0 };

  constructor(options: DecisionExplainerOptions) {
    if (!Number.isInteger(options.queueSize) || options.queueSize < 1) throw new RangeError(`queueSize must be a positive integer, got ${options.queueSize}`);
    if (!(options.maxBusyFraction > 0 && options.maxBusyFraction <= 1)) throw new RangeError(`maxBusyFraction must be in (0, 1], got ${options.maxBusyFraction}`);
    this.#o = { maxAttachRounds: 50, attachIntervalMs: 200, ...options };
    this.#random = mulberry32(options.seed ?? 0x5eed);
  }

  /** Whether a decision of this version is to be explained under its policy (draws for `sampled`). */
  #selects(mv: ModelVersion, d: RowDecision): boolean {
    const policy = mv.settings.explain.log;
    if (policy === 'off' || mv.explainBackground === undefined) return false;
    if (policy === 'all') return true;
    if (policy === 'adverse') return d.adverse === true;
    return this.#random() < mv.settings.explain.logRate;
  }

  /** A served decision, logged under `id`: queued when its model's policy selects it. Never waits, never throws. */
  offer(mv: ModelVersion, prepared: PreparedDecision, decision: RowDecision, id: string): void {
    if (!this.#selects(mv, decision)) return;
    this.#stats.selected++;
    if (this.#closed) return this.#end(mv.model, 'closed');
    if (this.#queue.length >= this.#o.queueSize) return this.#end(mv.model, 'skipped');
    this.#queue.push({ mv, prepared, decision, id });
    this.#stats.pending++;
    if (!this.#running) this.#idle = this.#drain();
  }

  get stats(): DecisionExplainerStats {
    return { ...this.#stats, results: { ...this.#stats.results } };
  }

  #end(model: string, result: ExplanationResult, n = 1): void {
    this.#stats.results[result] += n;
    this.#o.count?.(model, result, n);
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      for (let job = this.#queue.shift(); job !== undefined && !this.#closed; job = this.#queue.shift()) {
        const t0 = performance.now();
        try {
          const [e] = await explainRows(job.mv, job.prepared, [job.decision]);
          const { id: _row, ...explanation } = e!;
          this.#finished.push({ model: job.mv.model, item: { id: job.id, explanation: { ...explanation, version: job.mv.version, time: Date.now() } }, rounds: 0 });
          this.#scheduleAttach(0);
        } catch (err) {
          this.#stats.pending--;
          this.#end(job.mv.model, 'failed');
          this.#o.log?.warn({ model: job.mv.model, id: job.id, err: messageOf(err) }, 'could not explain a logged decision');
        }
        const busy = performance.now() - t0;
        this.#stats.busyMs += busy;
        // Rest so that busy / (busy + rest) ≤ maxBusyFraction.
        const rest = busy * (1 / this.#o.maxBusyFraction - 1);
        if (rest >= 1 && this.#queue.length > 0) await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, rest);
          this.#wake = () => { clearTimeout(timer); resolve(); };
        });
        this.#wake = undefined;
      }
    } finally {
      this.#running = false;
    }
  }

  #scheduleAttach(delayMs: number): void {
    if (this.#attachTimer !== undefined || this.#attaching !== undefined) return;
    this.#attachTimer = setTimeout(() => {
      this.#attachTimer = undefined;
      this.#attaching = this.#attach().finally(() => {
        this.#attaching = undefined;
        if (this.#finished.length > 0) this.#scheduleAttach(this.#o.attachIntervalMs);
      });
    }, delayMs);
    this.#attachTimer.unref();
  }

  /** One attach round: every finished explanation, by model; ids not stored yet wait for the next round. */
  async #attach(): Promise<void> {
    const batch = this.#finished;
    this.#finished = [];
    const byModel = new Map<string, Finished[]>();
    for (const f of batch) byModel.set(f.model, [...(byModel.get(f.model) ?? []), f]);
    for (const [model, list] of byModel) {
      let unknown: Set<string>;
      try {
        unknown = new Set((await this.#o.attach(model, list.map((f) => f.item))).unknown);
      } catch (err) {
        // The store is down: every item waits a round, like an id not stored yet.
        unknown = new Set(list.map((f) => f.item.id));
        this.#o.log?.warn({ model, err: messageOf(err) }, 'could not store explanations; retrying');
      }
      let attached = 0;
      let unmatched = 0;
      for (const f of list) {
        if (!unknown.has(f.item.id)) attached++;
        else if (++f.rounds >= this.#o.maxAttachRounds) unmatched++;
        else this.#finished.push(f);
      }
      this.#stats.pending -= attached + unmatched;
      if (attached > 0) this.#end(model, 'attached', attached);
      if (unmatched > 0) this.#end(model, 'unmatched', unmatched);
    }
  }

  /** Resolves once the queue is empty and every finished explanation is attached or counted (tests, shutdown). */
  async settled(): Promise<void> {
    for (;;) {
      await this.#idle;
      await this.#attaching;
      if (this.#finished.length === 0) {
        if (this.#queue.length === 0 && !this.#running) return;
        continue;
      }
      if (this.#attachTimer !== undefined) clearTimeout(this.#attachTimer);
      this.#attachTimer = undefined;
      await this.#attach();
      if (this.#finished.length > 0) await new Promise((r) => setTimeout(r, this.#o.attachIntervalMs));
    }
  }

  /** Stops explaining: queued decisions count as closed; finished explanations get one last attach. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    for (const job of this.#queue.splice(0)) {
      this.#stats.pending--;
      this.#end(job.mv.model, 'closed');
    }
    await this.#idle;
    if (this.#attachTimer !== undefined) clearTimeout(this.#attachTimer);
    this.#attachTimer = undefined;
    await this.#attaching;
    await this.#attach();
    for (const f of this.#finished.splice(0)) {
      this.#stats.pending--;
      this.#end(f.model, 'closed');
    }
  }
}
