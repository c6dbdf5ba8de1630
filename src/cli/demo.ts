/**
 * @module cli/demo
 * `berth demo`: realistic traffic for the running server's `income` example, so the
 * dashboard has something to show. Rows come from the UCI Adult test split and are sent as
 * raw records (KServe V1 `:predict`), which the server runs through the version's pipeline
 * and anomaly layer; after `--shift-after` seconds the traffic
 * shifts (people get older, self-employment replaces private employment, and the world's
 * labels drift away from what the model learned) while delayed ground truth keeps
 * arriving, so drift, an accuracy drop and the alerts show within a couple of minutes
 * (`npm run demo` against `npm start`, whose examples/berth.config.yaml sets the timings).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { BerthError, messageOf } from '../errors.js';
import { parseSimpleCsv, readTabularSpec, TabularEncoder } from '../preprocessing/tabular.js';
import { parseIntOption } from './serve.js';
import { mulberry32 } from '../random.js';

interface DemoFlags {
  url: string;
  model: string;
  examples: string;
  rate: number;
  duration: number;
  shiftAfter: number;
  feedbackDelay: number;
  labelNoise: number;
  seed: number;
}


/** The shift: older applicants, private jobs turned self-employed (raw-record level, before encoding). */
export function shiftRecord(fields: readonly string[], rawColumns: readonly string[], r: () => number): string[] {
  const out = [...fields];
  const age = rawColumns.indexOf('age');
  const workclass = rawColumns.indexOf('workclass');
  if (age >= 0) out[age] = String(Math.min(90, Number(out[age]) + 15 + Math.floor(r() * 10)));
  if (workclass >= 0 && out[workclass]!.trim() === 'Private' && r() < 0.7) out[workclass] = ' Self-emp-not-inc';
  return out;
}

async function post(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, json };
}

async function demo(f: DemoFlags): Promise<void> {
  const specPath = join(f.examples, 'models', f.model, 'preprocessing.json');
  const spec = readTabularSpec(specPath);
  const enc = new TabularEncoder(spec);
  const records = parseSimpleCsv(gunzipSync(readFileSync(join(f.examples, 'data/adult/adult.test.gz'))).toString('utf8'), spec);
  const base = f.url.replace(/\/$/, '');
  const ready = await fetch(`${base}/v2/models/${f.model}/ready`).catch((err: unknown) => {
    throw new BerthError('BERTH_ERR_CLI_USAGE', `cannot reach the server at ${base} (${messageOf(err)}); start it with npm start`);
  });
  if (ready.status !== 200) throw new BerthError('BERTH_ERR_CLI_USAGE', `model '${f.model}' is not ready at ${base} (HTTP ${ready.status})`);
  const meta = (await (await fetch(`${base}/v1/models/${f.model}/metadata`)).json()) as { takes?: string };
  if (meta.takes !== 'records') throw new BerthError('BERTH_ERR_CLI_USAGE', `model '${f.model}' at ${base} takes no raw records (it serves no preprocessing spec)`);
  const numeric = new Set(spec.features.filter((x) => x.type === 'numeric').map((x) => x.column));
  const label = spec.label?.column;
  /** A CSV row as a client would send it: numbers as numbers, the label left out. */
  const recordOf = (fields: readonly string[]): Record<string, string | number> => {
    const out: Record<string, string | number> = {};
    spec.rawColumns.forEach((c, k) => {
      if (c === label) return;
      const v = (fields[k] ?? '').trim();
      out[c] = numeric.has(c) && v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
    });
    return out;
  };

  const r = mulberry32(f.seed);
  const runId = Date.now().toString(36);
  const due: { at: number; id: string; label: string }[] = [];
  const start = Date.now();
  let sent = 0;
  let failed = 0;
  let labelled = 0;
  let unknown = 0;
  let failedFeedback = 0;
  let lastReport = 0;
  let announcedShift = false;
  const inFlight = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const intervalMs = 1000 / f.rate;
  const sendFeedback = (batch: { id: string; label: string }[]): Promise<void> =>
    post(`${base}/v2/models/${f.model}/feedback`, { feedback: batch }).then(
      (res) => {
        // 404 when some ids are unknown: the others are still attached and counted in the body.
        const body = res.json as { attached?: number; unknown?: string[] };
        labelled += body.attached ?? 0;
        unknown += body.unknown?.length ?? 0;
      },
      () => {
        failedFeedback += batch.length;
      },
    );
  process.stdout.write(`berth demo: ${f.rate} requests/s to ${base}/v1/models/${f.model}:predict (raw records) for ${f.duration} s; traffic shifts after ${f.shiftAfter} s; ground truth arrives ${f.feedbackDelay} s late\n`);
  for (let i = 0; ; i++) {
    const now = Date.now();
    const elapsed = (now - start) / 1000;
    if (elapsed >= f.duration) break;
    const shifted = elapsed >= f.shiftAfter;
    if (shifted && !announcedShift) {
      announcedShift = true;
      process.stdout.write(`${elapsed.toFixed(0).padStart(4)} s traffic shifts now: applicants 15–24 years older, 70% of private jobs self-employed, ${Math.round(f.labelNoise * 100)}% of outcomes flipped\n`);
    }
    const record = records[Math.floor(r() * records.length)]!;
    const fields = shifted ? shiftRecord(record, spec.rawColumns, r) : record;
    let label = enc.labelOf(record) ?? '0';
    // After the shift the world changes too: part of the outcomes no longer follow the pattern the model learned.
    if (shifted && r() < f.labelNoise) label = label === '1' ? '0' : '1';
    const id = `demo-${runId}-${i}`;
    const request = post(`${base}/v1/models/${f.model}:predict`, { id, instances: [recordOf(fields)] }).then(
      (res) => {
        if (res.status === 200) {
          sent += 1;
          due.push({ at: Date.now() + f.feedbackDelay * 1000, id, label });
        } else failed += 1;
      },
      () => {
        failed += 1;
      },
    );
    track(request);
    // Delayed ground truth, in batches.
    if (due.length > 0 && due[0]!.at <= now) {
      const batch: { id: string; label: string }[] = [];
      while (due.length > 0 && due[0]!.at <= now && batch.length < 1000) {
        const d = due.shift()!;
        batch.push({ id: d.id, label: d.label });
      }
      track(sendFeedback(batch));
    }
    if (now - lastReport >= 10_000) {
      lastReport = now;
      const q = (await fetch(`${base}/api/quality?model=${f.model}`).then((x) => x.json()).catch(() => ({}))) as { quality?: { labelled?: number; classification?: { accuracy?: number | null }; estimatedAccuracy?: number | null } | null };
      const d = (await fetch(`${base}/api/drift?model=${f.model}`).then((x) => x.json()).catch(() => ({}))) as { drift?: { report?: { verdict: { drift: boolean; driftedFeatures: string[] } } } | null };
      const a = (await fetch(`${base}/api/alerts`).then((x) => x.json()).catch(() => ({}))) as { alerts?: { name?: string; labels?: Record<string, string>; state?: string }[] };
      // Accuracy is null in JSON until labels arrive (NaN over no decisions).
      const acc = q.quality?.classification?.accuracy ?? undefined;
      const firing = (a.alerts ?? []).filter((x) => x.state === 'firing').map((x) => x.labels?.alertname ?? x.name);
      const v = d.drift?.report?.verdict;
      process.stdout.write(
        `${elapsed.toFixed(0).padStart(4)} s ${shifted ? 'SHIFTED' : 'normal '}  sent ${sent}  failed ${failed}  labels ${labelled}` +
          `  accuracy ${acc === undefined ? '—' : acc.toFixed(3)} (estimate ${q.quality?.estimatedAccuracy?.toFixed(3) ?? '—'})` +
          `  drift ${v === undefined ? '—' : v.drift ? `yes (${v.driftedFeatures.slice(0, 3).join(', ')}${v.driftedFeatures.length > 3 ? ', …' : ''})` : 'no'}` +
          `  firing ${firing.length === 0 ? '—' : firing.join(', ')}\n`,
      );
    }
    const next = start + (i + 1) * intervalMs;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  }
  // The last answers and their ground truth, when it is due.
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  while (due.length > 0) {
    const wait = due[0]!.at - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    await sendFeedback(due.splice(0, 1000).map((d) => ({ id: d.id, label: d.label })));
  }
  process.stdout.write(
    `done: ${sent} answered, ${failed} failed, ${labelled} labels attached${unknown > 0 ? `, ${unknown} unknown ids` : ''}` +
      `${failedFeedback > 0 ? `, ${failedFeedback} labels not delivered` : ''}; open ${base}/ for the dashboard\n`,
  );
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Send realistic, then shifted, traffic with delayed ground truth to a running server (income example), so drift, an accuracy drop and alerts show')
    .option('--url <url>', 'the running server', 'http://localhost:8000')
    .option('--model <name>', 'model to drive (needs <examples>/models/<name>/preprocessing.json)', 'income')
    .option('--examples <dir>', 'examples directory', 'examples')
    .option('--rate <n>', 'requests per second', parseIntOption('--rate', 1, 5000), 50)
    .option('--duration <s>', 'seconds to run', parseIntOption('--duration', 1, 86_400), 180)
    .option('--shift-after <s>', 'seconds of normal traffic before the shift', parseIntOption('--shift-after', 0, 86_400), 45)
    .option('--feedback-delay <s>', 'seconds until ground truth arrives', parseIntOption('--feedback-delay', 0, 86_400), 5)
    .option('--label-noise <p>', 'after the shift, share of outcomes that no longer follow the learned pattern', (v: string) => {
      const p = Number(v);
      if (!(p >= 0 && p <= 1)) throw new BerthError('BERTH_ERR_CLI_USAGE', `--label-noise must be between 0 and 1, got '${v}'`);
      return p;
    }, 0.35)
    .option('--seed <n>', 'random seed', parseIntOption('--seed', 0, 2 ** 31), 7)
    .action(async (flags: DemoFlags) => {
      try {
        await demo(flags);
      } catch (err) {
        process.stderr.write(`berth demo: ${messageOf(err)}\n`);
        process.exitCode = 2;
      }
    });
}
