/**
 * @module monitoring/alerts/duration
 * Prometheus-style durations ("30s", "5m", "1h30m", "0s") for alert rules: the same grammar
 * Prometheus accepts in `for:` and `keep_firing_for:`, so a rule reads the same in
 * berth.yaml and in the exported rules file.
 */
import { BerthError } from '../../errors.js';

/**
 * Units largest first, as Prometheus requires them in order (`1h30m`, never `30m1h`).
 * A year is 365 days and a week 7 days, as in Prometheus.
 */
const UNITS = [
  ['y', 365 * 24 * 3600_000],
  ['w', 7 * 24 * 3600_000],
  ['d', 24 * 3600_000],
  ['h', 3600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
] as const;

/** JSON-schema pattern for a duration (the schema adds minLength 1). */
export const DURATION_PATTERN = '^(0|([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?)$';
const DURATION_RE = /^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$/;

/** Milliseconds of a duration string; throws BERTH_ERR_ALERT_RULE naming `field`. */
export function parseDuration(text: string, field = 'duration'): number {
  if (text === '0') return 0;
  const m = text === '' ? null : DURATION_RE.exec(text);
  if (m === null) {
    throw new BerthError('BERTH_ERR_ALERT_RULE', `${field}: "${text}" is not a duration; expected e.g. "30s", "5m", "1h30m" or "0s" (units y w d h m s ms, largest first)`);
  }
  let ms = 0;
  UNITS.forEach(([, mult], i) => {
    const n = m[i + 1];
    if (n !== undefined) ms += Number(n) * mult;
  });
  if (!Number.isSafeInteger(ms)) throw new BerthError('BERTH_ERR_ALERT_RULE', `${field}: "${text}" is too long`);
  return ms;
}

/** The canonical string of a duration, as Prometheus prints it ("1h30m", "0s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, mult] of UNITS) {
    // Years and weeks only when they divide exactly: "90d" reads better than "12w6d".
    if ((unit === 'y' || unit === 'w') && rest % mult !== 0) continue;
    const n = Math.floor(rest / mult);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * mult;
    }
  }
  return out;
}
