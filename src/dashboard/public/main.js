// The dashboard page: reads the bootstrap block the server rendered, then polls the JSON APIs
// and redraws each panel. One refresh runs at a time; the selection (model, version, range)
// lives in the URL fragment so a view can be shared.
import { ApiError, getJson, SeriesCache } from './api.js';
import { CHART_SPECS } from './chart-specs.js';
import { Chart } from './charts.js';
import { DecisionLog } from './decisions.js';
import { byId, setOptions } from './dom.js';
import { fmtDuration, fmtTime } from './format.js';
import { renderAlerts, renderDrift, renderModels } from './panels.js';
import { renderFairness } from './fairness.js';

const boot = JSON.parse(byId('berth-bootstrap').textContent);

const els = {
  status: byId('status'),
  model: byId('model-select'),
  version: byId('version-select'),
  range: byId('range-select'),
  auto: byId('auto-refresh'),
  models: byId('models').querySelector('tbody'),
  alerts: byId('alerts').querySelector('tbody'),
  alertsSummary: byId('alerts-summary'),
  charts: byId('charts'),
  chartsNote: byId('charts-note'),
  chartsHeading: byId('charts-heading'),
  drift: { verdict: byId('drift-verdict'), tbody: byId('drift-features').querySelector('tbody'), more: byId('drift-more') },
  driftHeading: byId('drift-heading'),
  fairness: { summary: byId('fairness-summary'), tbody: byId('fairness-groups').querySelector('tbody') },
};

const RANGES = [...els.range.options].map((o) => Number(o.value));
const view = { model: '', version: '', rangeMs: RANGES[0] };
const range = { start: 0, end: 0 };
let models = groupIndex(boot.models);
let alerts = [];
const drift = new Map();
let showAllDrift = false;
let worstColumns = [];
const cache = new SeriesCache();
const charts = new Map();

const decisions = new DecisionLog({
  enabled: boot.monitoring && boot.decisionLog,
  disabledReason: boot.monitoring ? 'The decision log is switched off (store.enabled: false).' : 'Monitoring is switched off (monitoring.enabled: false).',
});

/** The bootstrap's repository index in /api/models' shape. */
function groupIndex(index) {
  const byName = new Map();
  for (const e of index) {
    if (!byName.has(e.name)) byName.set(e.name, { name: e.name, versions: [] });
    if (e.version !== null) byName.get(e.name).versions.push({ version: e.version, state: e.state, reason: e.reason });
  }
  return [...byName.values()];
}

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  view.model = p.get('model') ?? '';
  view.version = p.get('version') ?? '';
  const r = Number(p.get('range'));
  if (RANGES.includes(r)) view.rangeMs = r;
  els.range.value = String(view.rangeMs);
}

function writeHash() {
  const p = new URLSearchParams({ model: view.model, version: view.version, range: String(view.rangeMs) });
  history.replaceState(null, '', `#${p}`);
}

const readyVersions = (m) => (m?.versions ?? []).filter((v) => v.state === 'READY' && v.version !== null);
const byVersion = (a, b) => Number(b.version) - Number(a.version) || String(b.version).localeCompare(String(a.version));

/** Requests in the latency window over every version of a model (0 before /api/models answered). */
const traffic = (m) => m.versions.reduce((n, v) => n + (v.window?.requests ?? 0), 0);

/**
 * Keeps the selection valid: a READY version of an existing model, the newest one by
 * default; with nothing chosen yet, the model with the most traffic.
 */
function reconcileSelection() {
  let m = models.find((x) => x.name === view.model);
  if (m === undefined || readyVersions(m).length === 0) {
    const candidates = models.filter((x) => readyVersions(x).length > 0).sort((a, b) => traffic(b) - traffic(a));
    m = candidates[0] ?? m ?? models[0];
  }
  const versions = readyVersions(m).sort(byVersion);
  const changed = view.model !== (m?.name ?? '') || !versions.some((v) => v.version === view.version);
  view.model = m?.name ?? '';
  if (!versions.some((v) => v.version === view.version)) view.version = versions[0]?.version ?? '';
  setOptions(els.model, models.map((x) => ({ value: x.name, label: x.name })), view.model);
  setOptions(els.version, versions.map((v) => ({ value: v.version, label: v.version })), view.version);
  els.version.disabled = versions.length === 0;
  decisions.setModels(models);
  if (changed) selectionChanged();
}

function selectionChanged() {
  writeHash();
  cache.keepOnly(view.model, view.version);
  decisions.selectModel(view.model);
  const label = view.model === '' ? '' : `${view.model} version ${view.version}`;
  els.chartsHeading.textContent = label === '' ? 'Over time' : `${label} over time`;
  els.driftHeading.textContent = label === '' ? 'Drift' : `Drift of ${label}`;
}

function select(model, version) {
  view.model = model;
  view.version = version;
  reconcileSelection();
  selectionChanged();
  void refresh().then(() => decisions.search());
}

function selectedInfo() {
  return models.find((m) => m.name === view.model)?.versions.find((v) => v.version === view.version);
}

async function refreshDrift() {
  const wanted = [];
  for (const m of models) {
    for (const v of readyVersions(m)) {
      const selected = m.name === view.model && v.version === view.version;
      if (v.drift === true || selected) wanted.push({ model: m.name, version: v.version });
    }
  }
  // The selected version always; a few others for the models table.
  wanted.sort((a, b) => Number(b.model === view.model && b.version === view.version) - Number(a.model === view.model && a.version === view.version));
  const seen = new Set();
  await Promise.all(wanted.slice(0, 8).map(async ({ model, version }) => {
    const body = await getJson('/api/drift', { model, version });
    drift.set(`${model}/${version}`, body.drift ?? undefined);
    seen.add(`${model}/${version}`);
  }));
  for (const k of drift.keys()) if (!seen.has(k)) drift.delete(k);
}

/** The selected version's live fairness (null without sensitive attributes). */
async function refreshFairness() {
  if (view.model === '') return renderFairness(els.fairness, null);
  const body = await getJson('/api/fairness', { model: view.model, version: view.version });
  renderFairness(els.fairness, body.fairness);
}

function renderDriftPanel() {
  const d = view.model === '' ? null : drift.get(`${view.model}/${view.version}`) ?? null;
  worstColumns = renderDrift(els.drift, d, showAllDrift, Date.now());
}

/** Series of every chart for the selected version, since the range start. */
function loadCharts(specs) {
  return Promise.all(specs.map(async (spec) => {
    const series = spec.id === 'drift-features' ? worstColumns.map((name) => ({ metric: 'drift_effect', key: name, label: name })) : spec.series;
    const data = await Promise.all(series.map((s) => (s.metric === undefined ? null : cache.load({ model: view.model, version: view.version, metric: s.metric, key: s.key ?? '' }, range.start))));
    return { spec, series, data };
  }));
}

async function refreshCharts() {
  if (!boot.monitoring || !boot.decisionLog) {
    els.chartsNote.textContent = boot.monitoring
      ? 'The charts read the time series kept in the decision log, which is switched off (store.enabled: false).'
      : 'Monitoring is switched off (monitoring.enabled: false).';
    return;
  }
  const info = selectedInfo();
  if (info === undefined) {
    els.chartsNote.textContent = 'No READY model version to chart.';
    for (const c of charts.values()) c.destroy();
    charts.clear();
    return;
  }
  const specs = CHART_SPECS.filter((s) => s.tasks === undefined || s.tasks.includes(info.task));
  for (const [id, c] of charts) if (!specs.some((s) => s.id === id)) { c.destroy(); charts.delete(id); }
  let loaded;
  try {
    loaded = await loadCharts(specs);
  } catch (err) {
    // A server whose decision log is off answers 403: say so once and stop asking.
    if (err instanceof ApiError && err.status === 403) {
      boot.decisionLog = false;
      decisions.disable(err.message);
      for (const c of charts.values()) c.destroy();
      charts.clear();
      els.chartsNote.textContent = `The charts read the time series kept in the decision log: ${err.message}.`;
      return;
    }
    throw err;
  }
  // A range longer than the data (a server started minutes ago) starts at the first point.
  let first = Infinity;
  for (const l of loaded) for (const d of l.data) if (d !== null && d.t.length > 0) first = Math.min(first, d.t[0]);
  const pad = Math.max(5_000, (range.end - first) * 0.02);
  range.start = Number.isFinite(first) ? Math.max(range.start, first - pad) : range.start;
  els.chartsNote.textContent = `Last ${fmtDuration(view.rangeMs)}${Number.isFinite(first) && first - pad > range.end - view.rangeMs ? ` (data since ${fmtTime(first)})` : ''}; every point is one evaluation of the monitor. Hover a chart for values.`;
  let previous = null;
  for (const { spec, series, data } of loaded) {
    let chart = charts.get(spec.id);
    if (chart === undefined) {
      chart = new Chart(els.charts, spec, range);
      charts.set(spec.id, chart);
    }
    // Page order, also when charts come and go with the task.
    const want = previous === null ? els.charts.firstElementChild : previous.nextElementSibling;
    if (want !== chart.el) els.charts.insertBefore(chart.el, want);
    previous = chart.el;
    const times = [...new Set(data.flatMap((l) => l?.t ?? []))].sort((a, b) => a - b);
    chart.update(series, series.map((s, i) => {
      if (s.constant === undefined) return data[i];
      const value = info[s.constant];
      return typeof value === 'number' ? { t: times, v: times.map(() => value) } : null;
    }));
  }
}

function setStatus(text, kind) {
  els.status.textContent = text;
  els.status.className = `status ${kind}`;
}

async function refreshOnce() {
  const now = Date.now();
  range.end = now;
  range.start = now - view.rangeMs;
  if (!boot.monitoring) {
    reconcileSelection();
    renderModels(els.models, models, [], drift, view, select);
    els.alertsSummary.textContent = 'Monitoring is switched off (monitoring.enabled: false): no alerts are evaluated.';
    renderDrift(els.drift, null, false, now);
    await refreshCharts();
    setStatus(`Monitoring is switched off: the models table shows the repository as of ${fmtTime(now)}.`, 'warn');
    return;
  }
  const problems = [];
  const attempt = (what, p) => p.catch((err) => problems.push(`${what}: ${err.message}`));
  await attempt('models', getJson('/api/models').then((b) => { models = b.models; }));
  reconcileSelection();
  await Promise.all([
    attempt('alerts', getJson('/api/alerts').then((b) => { alerts = b.alerts; })),
    attempt('drift', refreshDrift()),
    attempt('fairness', refreshFairness()),
  ]);
  renderModels(els.models, models, alerts, drift, view, select);
  renderAlerts(els.alerts, els.alertsSummary, alerts, Date.now());
  renderDriftPanel();
  await Promise.all([attempt('charts', refreshCharts()), decisions.poll()]);
  lastUpdate = Date.now();
  if (problems.length > 0) setStatus(`Updated ${fmtTime(lastUpdate)} with problems — ${problems.join('; ')}`, 'bad');
  else liveStatus();
}

let lastUpdate = 0;
function liveStatus() {
  if (els.auto.checked) setStatus(`Live · updated ${fmtTime(lastUpdate)} · refreshes every ${fmtDuration(boot.refreshIntervalMs)}`, 'ok');
  else setStatus(`Paused · updated ${fmtTime(lastUpdate)} · tick auto-refresh to follow`, 'warn');
}

let running = null;
let again = false;
/** Runs one refresh; a call while one runs makes it run once more after it. */
function refresh() {
  if (running !== null) {
    again = true;
    return running;
  }
  running = (async () => {
    do {
      again = false;
      try {
        await refreshOnce();
      } catch (err) {
        setStatus(`Cannot reach the server (${err.message}); retrying.`, 'bad');
      }
    } while (again);
  })().finally(() => {
    running = null;
  });
  return running;
}

let timer;
function schedule() {
  clearTimeout(timer);
  if (!els.auto.checked || !boot.monitoring) return;
  timer = setTimeout(async () => {
    if (!document.hidden) await refresh();
    schedule();
  }, boot.refreshIntervalMs);
}

els.model.addEventListener('change', () => {
  const m = models.find((x) => x.name === els.model.value);
  select(els.model.value, readyVersions(m).sort(byVersion)[0]?.version ?? '');
});
els.version.addEventListener('change', () => select(view.model, els.version.value));
els.range.addEventListener('change', () => {
  view.rangeMs = Number(els.range.value);
  writeHash();
  range.end = Date.now();
  range.start = range.end - view.rangeMs;
  for (const c of charts.values()) c.redraw();
  void refresh();
});
els.auto.addEventListener('change', () => {
  schedule();
  if (boot.monitoring && lastUpdate > 0) liveStatus();
  if (els.auto.checked) void refresh();
});
els.drift.more.addEventListener('click', () => {
  showAllDrift = !showAllDrift;
  renderDriftPanel();
});
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && els.auto.checked) void refresh();
});
window.addEventListener('hashchange', () => {
  readHash();
  select(view.model, view.version);
});

readHash();
// With monitoring on, the first /api/models answer (with traffic) picks the default model.
if (!boot.monitoring) {
  reconcileSelection();
  selectionChanged();
}
await refresh();
await decisions.search();
schedule();
