/**
 * @module monitoring/alerts/go-format
 * Go's float formatting (fmt's %v, %g, %e, %f) so that an annotation template renders the
 * same text in Berth's engine as in Prometheus, which expands templates with Go's
 * text/template. Differences from JavaScript that matter: %v switches to exponent form
 * below 1e-4 and from 1e6 up ("1e+06", two-digit exponents), infinities print as "+Inf",
 * and rounding to a precision is round-half-to-even on the exact binary value.
 */

/** A non-negative decimal: value = 0.d1d2d3… × 10^dp. `digits` has no leading or trailing zeros ('' is zero). */
interface Decimal {
  digits: string;
  dp: number;
}

/** Parses a JavaScript number rendering (fixed or exponent) of a non-negative value. */
function parseDecimal(s: string): Decimal {
  const [mantissa = '', exp = '0'] = s.split('e');
  const [ip = '', fp = ''] = mantissa.split('.');
  let digits = ip + fp;
  let dp = ip.length + Number(exp);
  const lead = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(lead).replace(/0+$/, '');
  dp -= lead;
  return digits === '' ? { digits: '', dp: 0 } : { digits, dp };
}

/** Shortest digits that read back as `x` (what Go uses for %v and precision -1). */
function shortest(x: number): Decimal {
  return parseDecimal(Math.abs(x).toExponential());
}

/** Exact binary value (up to 100 significant digits, enough to tell real ties from near ones). */
function exact(x: number): Decimal {
  return parseDecimal(Math.abs(x).toPrecision(100));
}

/** Rounds to `nd` significant digits (nd may be ≤ 0), half to even like Go's strconv. */
function roundTo(d: Decimal, nd: number): Decimal {
  if (nd >= d.digits.length) return d;
  if (nd < 0) return { digits: '', dp: 0 };
  const next = d.digits.charCodeAt(nd) - 48;
  const tail = d.digits.length > nd + 1; // digits are trimmed, so any tail is non-zero
  const prevOdd = nd > 0 && (d.digits.charCodeAt(nd - 1) - 48) % 2 === 1;
  const up = next > 5 || (next === 5 && (tail || prevOdd));
  let kept = d.digits.slice(0, nd);
  let dp = d.dp;
  if (up) {
    let i = kept.length - 1;
    while (i >= 0 && kept[i] === '9') i -= 1;
    if (i < 0) {
      kept = '1';
      dp += 1;
    } else {
      kept = kept.slice(0, i) + String.fromCharCode(kept.charCodeAt(i) + 1);
    }
  }
  kept = kept.replace(/0+$/, '');
  return kept === '' ? { digits: '', dp: 0 } : { digits: kept, dp };
}

function digitAt(d: Decimal, i: number): string {
  return i >= 0 && i < d.digits.length ? d.digits[i]! : '0';
}

/** %e: d.ddd…e±XX with `frac` digits after the point. */
function fmtE(d: Decimal, frac: number): string {
  const exp = d.digits === '' ? 0 : d.dp - 1;
  let out = digitAt(d, 0);
  if (frac > 0) {
    out += '.';
    for (let i = 1; i <= frac; i++) out += digitAt(d, i);
  }
  const e = Math.abs(exp);
  return `${out}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
}

/** %f with `frac` digits after the point. */
function fmtF(d: Decimal, frac: number): string {
  let out = '';
  if (d.dp > 0) for (let i = 0; i < d.dp; i++) out += digitAt(d, i);
  else out = '0';
  if (frac > 0) {
    out += '.';
    for (let i = 0; i < frac; i++) out += digitAt(d, d.dp + i);
  }
  return out;
}

function special(x: number): string | undefined {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  return undefined;
}

function sign(x: number, body: string): string {
  return x < 0 || Object.is(x, -0) ? `-${body}` : body;
}

/** %g with a precision (significant digits), or shortest when prec is undefined (%v). */
function formatG(x: number, prec: number | undefined): string {
  let d: Decimal;
  let eprec: number;
  if (prec === undefined) {
    d = shortest(x);
    eprec = 6;
  } else {
    const p = prec === 0 ? 1 : prec;
    d = roundTo(exact(x), p);
    eprec = p;
    if (eprec > d.digits.length && d.digits.length >= d.dp) eprec = d.digits.length;
  }
  // As in Go, zero has exponent -1 here (dp 0), so it prints as "0".
  const nd = d.digits.length;
  const exp = d.dp - 1;
  if (exp < -4 || exp >= eprec) return fmtE(d, Math.max(nd - 1, 0));
  return fmtF(d, Math.max(nd - d.dp, 0));
}

/**
 * Formats like Go's fmt for one float verb: 'v' (default for {{ $value }}), 'g', 'e', 'f',
 * with an optional precision (%.2f → ('f', 2)).
 */
export function formatGoFloat(x: number, verb: 'v' | 'g' | 'e' | 'f', prec?: number): string {
  const s = special(x);
  if (s !== undefined) return s;
  switch (verb) {
    case 'v':
      return sign(x, formatG(x, undefined));
    case 'g':
      return sign(x, formatG(x, prec));
    case 'e': {
      const p = prec ?? 6;
      return sign(x, fmtE(roundTo(exact(x), p + 1), p));
    }
    case 'f': {
      const p = prec ?? 6;
      const d = exact(x);
      return sign(x, fmtF(roundTo(d, d.dp + p), p));
    }
  }
}

const SI_UP = ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
const SI_DOWN = ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y'];

/** Prometheus' `humanize`: 4 significant digits with an SI prefix (1234 → "1.234k", 0.05 → "50m"). */
export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return formatGoFloat(v, 'g', 4);
  let prefix = '';
  if (Math.abs(v) >= 1) {
    for (const p of SI_UP) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
  } else {
    for (const p of SI_DOWN) {
      if (Math.abs(v) >= 1) break;
      prefix = p;
      v *= 1000;
    }
  }
  return formatGoFloat(v, 'g', 4) + prefix;
}

/** Prometheus' `humanizePercentage`: 0.0525 → "5.25%". */
export function humanizePercentage(v: number): string {
  return `${formatGoFloat(v * 100, 'g', 4)}%`;
}
