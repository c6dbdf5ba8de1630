/**
 * @module cli/alerts
 * `berth alerts export`: writes the alert rules (defaults ← server config `models.alerts`
 * ← each model's berth.yaml `alerts:`) as a Prometheus alerting-rules file. Models with
 * their own `alerts:` get their own group; every other model is covered by the defaults
 * group. Exit 0 on success, 2 on an error (the message names the file and field).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { BerthError, isBerthError, messageOf } from '../errors.js';
import { readConfigFile } from '../config/load.js';
import { defaultAlertRules, resolveAlertRules, type AlertRule, type AlertRuleConfig } from '../monitoring/alerts/config.js';
import { toPrometheusRules } from '../monitoring/alerts/prometheus.js';
import { CONFIG_FILENAMES } from '../repository/model-config.js';

function fail(err: unknown): void {
  const msg = isBerthError(err) ? `${err.code}: ${err.message}` : `BERTH_ERR_INTERNAL: ${messageOf(err)}`;
  process.stderr.write(`berth: ${msg}\n`);
  process.exitCode = 2;
}

function alertsOf(raw: unknown): unknown {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>).alerts : undefined;
}

/** The `alerts:` of a model's config file, or undefined when it has no file or no alerts. */
async function modelAlerts(modelDir: string): Promise<{ file: string; rules: unknown } | undefined> {
  for (const name of CONFIG_FILENAMES) {
    const file = join(modelDir, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new BerthError('BERTH_ERR_FILE', `${file}: cannot read: ${messageOf(err)}`, { cause: err });
    }
    let raw: unknown;
    try {
      raw = name.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    } catch (err) {
      throw new BerthError('BERTH_ERR_MODEL_CONFIG', `${file}: not valid ${name.endsWith('.json') ? 'JSON' : 'YAML'}: ${messageOf(err)}`, { cause: err });
    }
    const rules = alertsOf(raw);
    return rules === undefined ? undefined : { file, rules };
  }
  return undefined;
}

export interface AlertsExportOptions {
  repository?: string;
  config?: string;
  rateWindow?: string;
}

/** Builds the rules file text from the config file and the repository (what the command writes). */
export async function exportAlertRules(options: AlertsExportOptions): Promise<{ text: string; models: string[]; rules: number }> {
  let serverRules: unknown;
  let repository = options.repository;
  if (options.config !== undefined) {
    const config = readConfigFile(options.config);
    serverRules = alertsOf(config.models);
    const repo = (config.repository as { path?: unknown } | undefined)?.path;
    if (repository === undefined && typeof repo === 'string') repository = repo;
  }
  const serverLayer = { where: `${options.config ?? 'config'}: models.alerts`, rules: serverRules as AlertRuleConfig[] | undefined };
  const defaults = resolveAlertRules(defaultAlertRules(), serverLayer);
  const byModel: Record<string, AlertRule[]> = {};
  if (repository !== undefined) {
    let entries;
    try {
      entries = await readdir(repository, { withFileTypes: true });
    } catch (err) {
      throw new BerthError('BERTH_ERR_FILE', `repository ${repository}: cannot read: ${messageOf(err)}`, { cause: err });
    }
    for (const e of entries.filter((x) => x.isDirectory() && !x.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name))) {
      const found = await modelAlerts(join(repository, e.name));
      if (found === undefined) continue;
      byModel[e.name] = resolveAlertRules(defaultAlertRules(), serverLayer, { where: `${found.file}: alerts`, rules: found.rules as AlertRuleConfig[] });
    }
  }
  const text = toPrometheusRules(byModel, { defaultRules: defaults, ...(options.rateWindow === undefined ? {} : { rateWindow: options.rateWindow }) });
  const rules = defaults.length + Object.values(byModel).reduce((n, r) => n + r.length, 0);
  return { text, models: Object.keys(byModel), rules };
}

export function registerAlertsCommand(program: Command): void {
  const alerts = program.command('alerts').description('Alert rules: export them for Prometheus (see docs/alerts.md)');
  alerts
    .command('export')
    .description('Write the alert rules (defaults, server config, each model\'s berth.yaml) as a Prometheus rules file')
    .option('-r, --repository <dir>', 'model repository: rules from <dir>/<model>/berth.yaml `alerts:`')
    .option('-c, --config <file>', 'server configuration file: rules from `models.alerts` (and the repository path)')
    .option('-o, --output <rules.yml>', 'where to write the rules (default: standard output)')
    .option('--rate-window <duration>', 'range of rate() for latency and error rate (default 5m)')
    .action(async (opts: { repository?: string; config?: string; output?: string; rateWindow?: string }) => {
      try {
        const { output, ...rest } = opts;
        const { text, models, rules } = await exportAlertRules(rest);
        if (output === undefined) process.stdout.write(text);
        else {
          try {
            await writeFile(output, text);
          } catch (err) {
            throw new BerthError('BERTH_ERR_FILE', `${output}: cannot write (${messageOf(err)})`, { cause: err });
          }
          process.stdout.write(`wrote ${output}: ${rules} rules (defaults${models.length > 0 ? `; own rules for ${models.join(', ')}` : ''}). Check with: promtool check rules ${output}\n`);
        }
        process.exitCode = 0;
      } catch (err) {
        fail(err);
      }
    });
}
