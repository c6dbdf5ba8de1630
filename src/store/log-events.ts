/**
 * @module store/log-events
 * The decision log's events as server log lines, rate-limited where they can come in
 * floods: drops (one line per reason per 10 s, with the count since the last), and the
 * store going down and up (the first change at once, then at most one line per
 * `stateLineIntervalMs`, with the number of changes not logged, and a closing line with the
 * state at the end of a burst), so a flapping store cannot fill the log.
 */
import { messageOf } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { DecisionLogger } from './decision-logger.js';

export interface LogEventsOptions {
  /** Default 30 s. */
  stateLineIntervalMs?: number;
  /** Default 10 s. */
  dropLineIntervalMs?: number;
  now?: () => number;
}

export function logDecisionLogEvents(decisionLog: DecisionLogger, logger: Logger, options: LogEventsOptions = {}): void {
  const now = options.now ?? Date.now;
  const stateInterval = options.stateLineIntervalMs ?? 30_000;
  const dropInterval = options.dropLineIntervalMs ?? 10_000;
  const store = decisionLog.store.kind;

  let lastStateLine = -Infinity;
  let notLogged = 0;
  let lastError: unknown;
  let trailing: NodeJS.Timeout | null = null;
  const stateLine = (): void => {
    const fields = { store, ...(notLogged > 0 ? { changesNotLogged: notLogged } : {}) };
    if (decisionLog.stats.storeUp) logger.info(fields, 'decision store available');
    else {
      logger.warn(
        { ...fields, err: messageOf(lastError), retryInMs: decisionLog.stats.retryDelayMs },
        'decision store unavailable; decisions are spooled to disk and replayed when it answers',
      );
    }
    lastStateLine = now();
    notLogged = 0;
  };
  const onChange = (): void => {
    const wait = lastStateLine + stateInterval - now();
    if (wait <= 0 && trailing === null) return stateLine();
    notLogged += 1;
    // The state at the end of a burst is always logged, so the last line never misleads.
    trailing ??= setTimeout(() => {
      trailing = null;
      stateLine();
    }, Math.max(wait, 0));
    trailing.unref();
  };
  decisionLog.on('store-down', (err) => {
    lastError = err;
    onChange();
  });
  decisionLog.on('store-up', onChange);

  const dropsSinceLine = new Map<string, { count: number; at: number }>();
  decisionLog.on('drop', (reason, count, err) => {
    const d = dropsSinceLine.get(reason) ?? { count: 0, at: -Infinity };
    d.count += count;
    dropsSinceLine.set(reason, d);
    if (now() - d.at < dropInterval) return;
    const fields = { reason, count: d.count, ...(err === undefined ? {} : { err: messageOf(err) }) };
    // A reused request id is the client's doing (an id is the feedback key, unique per model), not a log failure.
    if (reason === 'duplicate_id') logger.warn(fields, 'decisions not logged: their request ids were already used for other decisions of the model (counted in berth_decisions_dropped_total)');
    else logger.error(fields, 'decisions dropped from the log (counted in berth_decisions_dropped_total)');
    d.count = 0;
    d.at = now();
  });

  decisionLog.on('crash-check', (r) => {
    if (r.lost > 0) {
      logger.error(
        { run: r.run, lost: r.lost, unsettled: r.unsettled, file: r.file },
        `${r.lost} acknowledged decisions of an earlier run that did not shut down were lost before reaching the store (store.durability: async; counted in berth_decisions_crash_lost_total)`,
      );
    } else {
      logger.info({ run: r.run, unsettled: r.unsettled }, 'an earlier run did not shut down; every decision it acknowledged is in the store');
    }
  });
  decisionLog.on('warning', (err) => logger.warn({ err: messageOf(err) }, 'decision log'));
}
