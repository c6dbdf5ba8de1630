/**
 * @module monitoring/alerts/template
 * Annotation templates: the small part of Prometheus' Go-template language that alert
 * annotations need, rendered exactly as Prometheus renders it, so one rule gives the same
 * text from Berth's engine and from the exported Prometheus rules. Anything outside this
 * subset is refused when the rule is loaded (never rendered half-right):
 *
 *   {{ $value }}  {{ $labels.model }}  {{ $labels.version }}  {{ $labels.<any label> }}
 *   {{ $value | humanize }}  {{ $value | humanizePercentage }}
 *   {{ printf "%.2f" $value }}  {{ $value | printf "%.1f ms" }}
 */
import { BerthError } from '../../errors.js';
import { formatGoFloat, humanize, humanizePercentage } from './go-format.js';

export type Labels = Readonly<Record<string, string>>;

/** Renders a compiled template for one alert. */
export type RenderFn = (labels: Labels, value: number) => string;

type Arg = { kind: 'value' } | { kind: 'label'; name: string };
type Stage = (input: string | number) => string | number;

const ARG_RE = /^\$(value|labels\.([A-Za-z_][A-Za-z0-9_]*))$/;
const PRINTF_RE = /^printf\s+("(?:[^"\\]|\\.)*")(?:\s+(\S+))?$/;
const VERB_RE = /%(?:\.(\d+))?([vgefs])/g;

const SUPPORTED = 'supported: {{ $value }}, {{ $labels.<name> }}, | humanize, | humanizePercentage, printf "<format>" with %v %g %e %f %s (optionally %.Nf)';

function fail(where: string, msg: string): never {
  throw new BerthError('BERTH_ERR_ALERT_RULE', `${where}: ${msg}; ${SUPPORTED}`);
}

/** Go's default printing of a value in a template: floats with %v, strings as they are. */
function show(v: string | number): string {
  return typeof v === 'number' ? formatGoFloat(v, 'v') : v;
}

/** A printf with exactly one verb (besides %%), applied to one argument. */
function compilePrintf(format: string, where: string): (arg: string | number) => string {
  const verbs = [...format.replaceAll('%%', '').matchAll(VERB_RE)];
  const stray = format.replaceAll('%%', '').replace(VERB_RE, '');
  if (verbs.length !== 1 || stray.includes('%')) fail(where, `printf format "${format}" must have exactly one verb`);
  const [, precText, verb] = verbs[0]!;
  const prec = precText === undefined ? undefined : Number(precText);
  return (arg) => {
    let text: string;
    if (verb === 's') text = show(arg);
    else if (typeof arg !== 'number') text = `%!${verb}(string=${arg})`; // what Go prints for a type mismatch
    else text = formatGoFloat(arg, verb as 'v' | 'g' | 'e' | 'f', prec);
    // Split on the verb itself, then turn %% back into %.
    const at = format.replaceAll('%%', '\u0000').replace(VERB_RE, '\u0001');
    return at.replace('\u0001', () => text).replaceAll('\u0000', '%');
  };
}

function compileArg(text: string, where: string): Arg {
  const m = ARG_RE.exec(text);
  if (m === null) fail(where, `unsupported template argument "${text}"`);
  return m[2] === undefined ? { kind: 'value' } : { kind: 'label', name: m[2] };
}

/** One {{ … }} action: a source argument, then zero or more `| function` stages. */
function compileAction(body: string, where: string): RenderFn {
  const parts = body.split('|').map((p) => p.trim());
  if (parts.some((p) => p === '')) fail(where, `empty pipeline stage in "{{ ${body} }}"`);
  let source: Arg;
  const stages: Stage[] = [];
  const head = parts[0]!;
  const printfHead = PRINTF_RE.exec(head);
  if (printfHead !== null) {
    if (printfHead[2] === undefined) fail(where, `printf needs an argument in "{{ ${body} }}"`);
    source = compileArg(printfHead[2], where);
    const fmt = compilePrintf(JSON.parse(printfHead[1]!) as string, where);
    stages.push(fmt);
  } else {
    source = compileArg(head, where);
  }
  for (const [i, stage] of parts.slice(1).entries()) {
    if (stage === 'humanize' || stage === 'humanizePercentage') {
      // Only straight on $value: the only number an alert template has.
      if (source.kind !== 'value' || i !== 0 || printfHead !== null) fail(where, `${stage} must come right after $value`);
      const fn = stage === 'humanize' ? humanize : humanizePercentage;
      stages.push((v) => fn(v as number));
      continue;
    }
    const p = PRINTF_RE.exec(stage);
    if (p === null || p[2] !== undefined) fail(where, `unsupported pipeline stage "${stage}"`);
    stages.push(compilePrintf(JSON.parse(p[1]!) as string, where));
  }
  return (labels, value) => {
    // A missing label prints as Go's text/template prints a missing map key.
    let v: string | number = source.kind === 'value' ? value : (labels[source.name] ?? '<no value>');
    for (const stage of stages) v = stage(v);
    return show(v);
  };
}

/**
 * Compiles a template once (throws BERTH_ERR_ALERT_RULE naming `where` if it uses anything
 * outside the supported subset); the returned function renders it for an alert.
 */
export function compileTemplate(template: string, where: string): RenderFn {
  const pieces: (string | RenderFn)[] = [];
  let rest = template;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      if (rest.includes('}}')) fail(where, 'unbalanced "}}"');
      pieces.push(rest);
      break;
    }
    if (open > 0) pieces.push(rest.slice(0, open));
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) fail(where, 'unclosed "{{"');
    const body = rest.slice(open + 2, close).trim();
    if (body.startsWith('-') || body.endsWith('-') || body.startsWith('/*')) fail(where, `unsupported action "{{${rest.slice(open + 2, close)}}}"`);
    pieces.push(compileAction(body, where));
    rest = rest.slice(close + 2);
  }
  if (pieces.every((p) => typeof p === 'string')) {
    const text = pieces.join('');
    return () => text;
  }
  return (labels, value) => pieces.map((p) => (typeof p === 'string' ? p : p(labels, value))).join('');
}
