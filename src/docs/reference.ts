/**
 * @module docs/reference
 * Generates the reference tables in docs/ (errors, metrics, configuration, CLI) from the code
 * itself, so the documentation cannot drift: `npm run docs` rewrites them and a unit test
 * fails when a committed page differs from what the code generates.
 */
import type { TSchema } from '@sinclair/typebox';
import { ConfigSchema, ENV_VARS } from '../config/schema.js';
import { ERROR_CODES } from '../errors.js';
import { ServerMetrics } from '../metrics/server-metrics.js';
import { ModelConfigSchema } from '../repository/model-config.js';
import { buildProgram } from '../cli/program.js';

export const START = '<!-- generated:start (npm run docs) -->';
export const END = '<!-- generated:end -->';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function errorsTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, e]) => `| \`${code}\` | ${e.status} | ${cell(e.description)} |`);
  return ['| Code | HTTP status | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export async function metricsTable(): Promise<string> {
  const m = new ServerMetrics({ defaultMetrics: false });
  const all = await m.registry.getMetricsAsJSON();
  const rows = all
    .filter((x) => x.name.startsWith('berth_'))
    .map((x) => {
      const labels = (m.registry.getSingleMetric(x.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
      return `| \`${x.name}\` | ${x.type} | ${labels.map((l) => `\`${l}\``).join(', ')} | ${cell(x.help)} |`;
    });
  return ['| Metric | Type | Labels | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

interface SchemaLike {
  type?: string;
  properties?: Record<string, SchemaLike>;
  anyOf?: SchemaLike[];
  items?: SchemaLike;
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  required?: string[];
}

function typeOf(s: SchemaLike): string {
  if (s.anyOf !== undefined) {
    if (s.anyOf.every((x) => x.const !== undefined)) return s.anyOf.map((x) => `\`${String(x.const)}\``).join(' \\| ');
    return s.anyOf.map(typeOf).join(' \\| ');
  }
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.type === 'array') return `${typeOf(s.items ?? {})}[]`;
  if (s.type === 'object' && s.properties === undefined) return 'map';
  const range = s.minimum !== undefined || s.maximum !== undefined ? ` (${s.minimum ?? ''}…${s.maximum ?? ''})` : '';
  return `${s.type ?? 'any'}${range}`;
}

function walk(s: SchemaLike, path: string, rows: string[][], env: Map<string, string>): void {
  const isLeafObject = s.type === 'object' && s.properties !== undefined && Object.keys(s.properties).length > 0;
  if (isLeafObject && s.anyOf === undefined) {
    for (const [k, child] of Object.entries(s.properties!)) walk(child, path === '' ? k : `${path}.${k}`, rows, env);
    return;
  }
  const def = s.default === undefined || (typeof s.default === 'object' && s.default !== null && Object.keys(s.default).length === 0) ? '' : `\`${JSON.stringify(s.default)}\``;
  rows.push([`\`${path}\``, typeOf(s), def, env.get(path) ?? '', cell(s.description ?? '')]);
}

/** The server configuration's fields; `prefix` keeps only those under it (e.g. 'monitoring.'). */
export function configTable(schema: TSchema = ConfigSchema, prefix = ''): string {
  const env = new Map(Object.entries(ENV_VARS).map(([name, e]) => [e.path.join('.'), `\`${name}\``]));
  const rows: string[][] = [];
  walk(schema as SchemaLike, '', rows, env);
  const kept = rows.filter((r) => r[0]!.startsWith(`\`${prefix}`));
  return ['| Field | Type | Default | Environment | Meaning |', '| --- | --- | --- | --- | --- |', ...kept.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** A model's berth.yaml fields; `prefix` keeps only those under it. */
export function modelConfigTable(prefix = ''): string {
  const rows: string[][] = [];
  walk(ModelConfigSchema as SchemaLike, '', rows, new Map());
  const kept = rows.filter((r) => r[0]!.startsWith(`\`${prefix}`));
  return ['| Field | Type | Default | Meaning |', '| --- | --- | --- | --- |', ...kept.map((r) => `| ${[r[0], r[1], r[2], r[4]].join(' | ')} |`)].join('\n');
}

/** `berth <command> --help` for every command, as the CLI prints it. */
export function cliReference(): string {
  const program = buildProgram();
  program.configureHelp({ helpWidth: 100 });
  const parts = [`\`\`\`\n${program.helpInformation().trimEnd()}\n\`\`\``];
  for (const c of program.commands) {
    c.configureHelp({ helpWidth: 100 });
    parts.push(`### berth ${c.name()}\n\n\`\`\`\n${c.helpInformation().trimEnd()}\n\`\`\``);
  }
  return parts.join('\n\n');
}

/** Generated sections per docs page, in order of their markers on the page. */
export async function generatedSections(): Promise<Record<string, string[]>> {
  return {
    'docs/errors.md': [errorsTable()],
    'docs/metrics.md': [await metricsTable()],
    'docs/config.md': [configTable(), modelConfigTable()],
    'docs/cli.md': [cliReference()],
    'docs/monitoring.md': [configTable(ConfigSchema, 'monitoring.'), modelConfigTable('monitoring.')],
  };
}

/** Replaces the text between each START/END marker pair with the sections, in order. */
export function fillPage(page: string, sections: string[]): string {
  let out = '';
  let rest = page;
  for (const section of sections) {
    const a = rest.indexOf(START);
    const b = rest.indexOf(END, a);
    if (a < 0 || b < 0) throw new Error(`page is missing a ${START} … ${END} block`);
    out += `${rest.slice(0, a + START.length)}\n${section}\n`;
    rest = rest.slice(b);
  }
  return out + rest;
}
