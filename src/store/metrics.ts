/**
 * @module store/metrics
 * Prometheus metrics of the decision log, on a registry the caller owns (the server's).
 * Counters and gauges are read from the logger's stats at scrape time (nothing on the
 * request path); the write-duration histogram is fed by the logger's 'write' event.
 * Create them with the registry (so they are registered, and documented, from the start)
 * and `bind()` the logger once it exists.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DROP_REASONS, type DecisionLogger, type DecisionLogStats } from './decision-logger.js';
import type { ReadStats } from './store.js';

const QUERY_OUTCOMES = ['completed', 'cancelled', 'refused', 'too_costly', 'failed'] as const;
const QUERY_FIELDS: Record<(typeof QUERY_OUTCOMES)[number], keyof ReadStats> = {
  completed: 'completed', cancelled: 'cancelled', refused: 'refused', too_costly: 'tooCostly', failed: 'failed',
};

const WRITE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type CounterField = 'logged' | 'spooled' | 'replayed' | 'crashLost';
type Seen = Record<CounterField, number> & { dropped: Record<string, number>; queries: Record<string, number> };

export class DecisionLogMetrics {
  #logger: DecisionLogger | null = null;
  /** What the counters have already been advanced to, for the bound logger. */
  #seen: Seen = DecisionLogMetrics.#zero();
  readonly #onWrite = (seconds: number): void => this.writeDuration.observe(seconds);

  readonly logged: Counter;
  readonly spooled: Counter;
  readonly replayed: Counter;
  readonly dropped: Counter<'reason'>;
  readonly crashLost: Counter;
  readonly queries: Counter<'outcome'>;
  readonly pending: Gauge;
  readonly spoolBytes: Gauge;
  readonly storeUp: Gauge;
  readonly writeDuration: Histogram;

  constructor(registry: Registry) {
    const counter = (name: string, help: string, field: CounterField): Counter => {
      const metrics = this;
      return new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          const s = metrics.#stats();
          if (s === null) return;
          this.inc(s[field] - metrics.#seen[field]);
          metrics.#seen[field] = s[field];
        },
      });
    };
    this.logged = counter('berth_decisions_logged_total', 'Decisions written to the decision store straight from memory.', 'logged');
    this.spooled = counter('berth_decisions_spooled_total', 'Decisions written to the on-disk spool because the store was slow or down.', 'spooled');
    this.replayed = counter('berth_decisions_replayed_total', 'Decisions written to the store from the spool after it came back.', 'replayed');
    const metrics = this;
    this.dropped = new Counter({
      name: 'berth_decisions_dropped_total',
      help: 'Decisions lost, by reason: buffer_full, spool_full, spool_error, invalid, rejected (store refused the content), duplicate_id (id reused for another decision), closed.',
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        const s = metrics.#stats();
        if (s === null) return;
        for (const reason of DROP_REASONS) {
          this.inc({ reason }, s.dropped[reason] - (metrics.#seen.dropped[reason] ?? 0));
          metrics.#seen.dropped[reason] = s.dropped[reason];
        }
      },
    });
    for (const reason of DROP_REASONS) this.dropped.inc({ reason }, 0);
    this.crashLost = counter(
      'berth_decisions_crash_lost_total',
      'Acknowledged decisions of an earlier run that ended without shutting down (SIGKILL, OOM kill, crash; store.durability: async) found neither in the store nor in the spool at this start.',
      'crashLost',
    );
    this.queries = new Counter({
      name: 'berth_store_queries_total',
      help: 'Decision-log queries by outcome: completed, cancelled (the client went away), refused (too many waiting), too_costly (result size or time cap), failed.',
      labelNames: ['outcome'] as const,
      registers: [registry],
      collect() {
        const r = metrics.#logger?.store.readStats();
        if (r === undefined) return;
        for (const outcome of QUERY_OUTCOMES) {
          const v = r[QUERY_FIELDS[outcome]];
          this.inc({ outcome }, v - (metrics.#seen.queries[outcome] ?? 0));
          metrics.#seen.queries[outcome] = v;
        }
      },
    });
    for (const outcome of QUERY_OUTCOMES) this.queries.inc({ outcome }, 0);
    this.pending = new Gauge({
      name: 'berth_decision_log_pending',
      help: 'Decisions in memory waiting to be written (buffered or being written).',
      registers: [registry],
      collect() {
        this.set(metrics.#stats()?.pending ?? 0);
      },
    });
    this.spoolBytes = new Gauge({
      name: 'berth_decision_spool_bytes',
      help: 'Size of the on-disk spool of decisions waiting for replay.',
      registers: [registry],
      collect() {
        this.set(metrics.#stats()?.spoolBytes ?? 0);
      },
    });
    this.storeUp = new Gauge({
      name: 'berth_store_up',
      help: 'Whether the decision store answered the last write or probe (1) or not (0).',
      registers: [registry],
      collect() {
        this.set(metrics.#stats()?.storeUp === true ? 1 : 0);
      },
    });
    this.writeDuration = new Histogram({
      name: 'berth_store_write_duration_seconds',
      help: 'Time of each batch write to the decision store, failed ones included.',
      buckets: WRITE_BUCKETS,
      registers: [registry],
    });
  }

  static #zero(): Seen {
    return { logged: 0, spooled: 0, replayed: 0, crashLost: 0, dropped: {}, queries: {} };
  }

  #stats(): DecisionLogStats | null {
    return this.#logger?.stats ?? null;
  }

  /** Reads this logger from now on (counters keep counting up across a re-bind). */
  bind(logger: DecisionLogger): void {
    this.#logger?.off('write', this.#onWrite);
    this.#logger = logger;
    this.#seen = DecisionLogMetrics.#zero();
    logger.on('write', this.#onWrite);
  }
}
