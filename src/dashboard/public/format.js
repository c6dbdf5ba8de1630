// Number, time and duration formatting for the dashboard (en-US digits, the browser's time zone).

const intFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 1240 → "1,240". */
export function fmtInt(n) {
  return Number.isFinite(n) ? intFormat.format(n) : '—';
}

/** A number with about `digits` significant decimals; "—" when missing. */
export function fmtNum(v, digits = 3) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a < 10 ** -digits || a >= 1e6)) return v.toExponential(2);
  if (a >= 100) return v.toFixed(Math.max(0, digits - 3));
  if (a >= 10) return v.toFixed(Math.max(1, digits - 2));
  return v.toFixed(digits);
}

/** 0.0123 → "1.23%". */
export function fmtPct(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${(v * 100).toFixed(digits)}%`;
}

export function fmtMs(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${fmtNum(v, 2)} ms`;
}

export function fmtP(p) {
  if (p === null || p === undefined || !Number.isFinite(p)) return '—';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/** 86400000 → "24 h", 900000 → "15 min". */
export function fmtDuration(ms) {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  const h = s / 3600;
  if (h < 48) return `${Number.isInteger(h) ? h : h.toFixed(1)} h`;
  return `${Math.round(h / 24)} d`;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Local time: "14:03:07" today, "2024-05-01 14:03:07" otherwise. */
export function fmtTime(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const today = new Date(now);
  if (d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate()) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

/** "3 min ago". */
export function fmtAgo(ms, now = Date.now()) {
  if (!Number.isFinite(ms)) return '';
  const d = Math.max(0, now - ms);
  return d < 1500 ? 'just now' : `${fmtDuration(d)} ago`;
}

/** ISO 8601 for title attributes. */
export function isoTime(ms) {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

/** Value of an alert's signal in the signal's unit. */
export function fmtSignal(signal, value) {
  switch (signal) {
    case 'latency_p95_ms': return fmtMs(value);
    case 'memory_mb': return `${fmtNum(value, 1)} MB`;
    case 'error_rate':
    case 'anomaly_rate':
    case 'queue_saturation': return fmtPct(value, 1);
    case 'accuracy':
    case 'accuracy_drop': return fmtNum(value, 3);
    case 'drift':
    case 'fairness_parity_ratio': return fmtNum(value, 2);
    default: return fmtNum(value);
  }
}

/** JSON with 2-space indents, but arrays of plain values kept on one line (tensor data). */
export function compactJson(value, indent = '') {
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    const inner = indent + '  ';
    return `[\n${value.map((v) => inner + compactJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const inner = indent + '  ';
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, inner)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
