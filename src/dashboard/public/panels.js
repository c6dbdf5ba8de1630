// The models table, the alerts panel and the drift panel: each renders one API answer.
import { h, setRows } from './dom.js';
import { fmtAgo, fmtDuration, fmtInt, fmtMs, fmtNum, fmtP, fmtPct, fmtSignal, fmtTime, isoTime } from './format.js';

const STATE_ORDER = { firing: 0, pending: 1, resolved: 2 };
const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };

/** Firing first, then pending, then resolved; within each, most severe and then newest first. */
export function sortAlerts(alerts) {
  return [...alerts].sort((a, b) =>
    (STATE_ORDER[a.state] ?? 9) - (STATE_ORDER[b.state] ?? 9)
    || (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9)
    || (b.resolvedAt ?? b.firedAt ?? b.activeAt) - (a.resolvedAt ?? a.firedAt ?? a.activeAt)
    || a.name.localeCompare(b.name));
}

function badge(text, cls) {
  return h('span', { class: `badge ${cls}`, text });
}

/** "0.845 (0.832–0.858)": an estimate with its interval. */
function withInterval(e) {
  return `${fmtNum(e.value, 3)} (${fmtNum(e.low, 3)}–${fmtNum(e.high, 3)})`;
}

/**
 * "accuracy 0.830 on 1,240 labelled decisions in the last 24 h", the calibrated estimate over
 * the same decisions beside it, the label-free estimate over recent rows (marked as one, with
 * its interval and what it cannot see), or why there is no estimate.
 */
export function qualityCell(q, task) {
  if (q === undefined || q === null) return [h('span', { class: 'muted', text: task === 'none' || task === undefined ? 'no task: not measured' : 'waiting for the first evaluation' })];
  const window = fmtDuration(q.windowMs);
  const out = [];
  const e = q.estimate;
  if (q.classification?.accuracy !== undefined && q.labelled > 0) {
    out.push(h('div', { class: 'measured' }, 'accuracy ', h('strong', { text: fmtNum(q.classification.accuracy, 3) }), ` on ${fmtInt(q.labelled)} labelled decision${q.labelled === 1 ? '' : 's'} in the last ${window}`));
    const same = e?.labelled;
    if (same !== undefined) {
      out.push(h('div', { class: 'estimated same-decisions' }, badge('estimate', 'estimate'), ` on the same ${fmtInt(same.rows)} decisions: accuracy ≈ ${withInterval(same.accuracy)}`));
    }
  } else if (q.regression !== undefined && q.labelled > 0) {
    out.push(h('div', { class: 'measured' }, 'MAE ', h('strong', { text: fmtNum(q.regression.mae, 3) }), ', RMSE ', h('strong', { text: fmtNum(q.regression.rmse, 3) }), ` on ${fmtInt(q.labelled)} labelled decisions in the last ${window}`));
  } else if (q.task !== 'none') {
    out.push(h('div', { class: 'muted', text: `no labelled decisions in the last ${window}` }));
  }
  if (e !== undefined && !e.available) {
    out.push(h('div', { class: 'muted estimate-off' }, badge('estimate', 'estimate'), ` unavailable: ${e.reason}`));
  } else if (q.estimatedAccuracy !== undefined && q.estimatedAccuracy !== null) {
    const recent = e?.recent;
    out.push(h('div', { class: 'estimated', attrs: { title: e === undefined ? '' : `${e.method}. Interval: ${e.interval}.` } }, badge('estimate', 'estimate'), ' accuracy ≈ ', h('strong', { text: fmtNum(q.estimatedAccuracy, 3) }),
      ` from the confidences of ${fmtInt(q.estimatedFrom)} recent decisions`,
      recent === undefined ? '' : ` (95% interval ${fmtNum(recent.accuracy.low, 3)}–${fmtNum(recent.accuracy.high, 3)}${recent.f1 === undefined ? '' : `; F1 ≈ ${fmtNum(recent.f1.value, 3)}`}${recent.auc === undefined ? '' : `, AUC ≈ ${fmtNum(recent.auc.value, 3)}`})`));
  }
  if (e !== undefined && e.available) out.push(h('div', { class: 'muted small caveat', text: e.caveat }));
  return out;
}

function trafficCell(w) {
  if (w === undefined || w === null || !w.requests) return h('span', { class: 'muted', text: 'no requests in the window' });
  return h('span', {}, `${fmtNum(w.throughput, 2)} req/s · p95 ${fmtMs(w.p95Ms)} · errors ${fmtPct(w.errorRate, 1)}`);
}

function driftCell(v, drift) {
  if (v.drift === false) return h('span', { class: 'muted', text: 'off' });
  if (v.drift === undefined) return '—';
  const report = drift?.report;
  if (report === undefined) return h('span', { class: 'muted', text: drift === undefined ? 'watching' : `first window filling (${fmtInt(drift.currentRows)} rows)` });
  const d = report.verdict;
  return d.drift
    ? h('span', { class: 'bad' }, `drift: ${d.driftedFeatures.length} of ${d.featureCount} features`)
    : h('span', { class: 'good', text: 'no drift' });
}

function taskText(v) {
  if (v.task === 'classification') return `classification${v.classes ? ` (${v.classes.length} classes)` : ''}`;
  return v.task ?? '—';
}

/**
 * The models table. `models`: /api/models (or the bootstrap index when monitoring is off);
 * `drift`: Map "model/version" → /api/drift's drift; `onSelect(model, version)` when a row's
 * model is chosen for the charts.
 */
export function renderModels(tbody, models, alerts, drift, selected, onSelect) {
  const rows = [];
  for (const m of models) {
    const versions = m.versions.length > 0 ? m.versions : [{ version: null, state: 'UNAVAILABLE', reason: 'no versions' }];
    versions.forEach((v, i) => {
      const key = `${m.name}/${v.version}`;
      const mine = alerts.filter((a) => a.model === m.name && a.version === v.version);
      const firing = mine.filter((a) => a.state === 'firing').length;
      const pending = mine.filter((a) => a.state === 'pending').length;
      const isSelected = selected.model === m.name && selected.version === v.version;
      const nameCell = i === 0
        ? h('th', { attrs: { scope: 'row', rowspan: versions.length } }, m.name)
        : null;
      const versionCell = v.state === 'READY' && v.version !== null
        ? h('td', {}, h('button', { type: 'button', class: 'link', text: v.version, attrs: { 'aria-pressed': isSelected ? 'true' : 'false', title: `Show ${m.name} version ${v.version} in the charts and the drift panel` }, on: { click: () => onSelect(m.name, v.version) } }))
        : h('td', { text: v.version ?? '—' });
      rows.push(h('tr', { class: isSelected ? 'selected' : '', data: { model: m.name, version: v.version ?? '' } },
        nameCell,
        versionCell,
        h('td', { class: 'state' }, badge(v.state, `state-${v.state}`)),
        h('td', { text: taskText(v) }),
        h('td', { text: v.validatedAccuracy === undefined ? '—' : fmtNum(v.validatedAccuracy, 3) }),
        h('td', { class: 'quality' }, v.state === 'READY' ? qualityCell(v.quality, v.task) : '—'),
        h('td', {}, v.state === 'READY' ? trafficCell(v.window) : '—'),
        h('td', {}, v.state === 'READY' ? driftCell(v, drift.get(key)) : '—'),
        h('td', {}, firing > 0 ? badge(`${firing} firing`, 'sev-critical') : null, firing > 0 && pending > 0 ? ' ' : null, pending > 0 ? badge(`${pending} pending`, 'state-pending') : null, firing + pending === 0 ? h('span', { class: 'muted', text: 'none' }) : null),
        h('td', { class: 'reason', text: v.reason ?? '' })));
    });
  }
  setRows(tbody, rows, 'No models in the repository.');
}

/** The alerts panel: every active and recently resolved alert of every model. */
export function renderAlerts(tbody, summary, alerts, now) {
  const sorted = sortAlerts(alerts);
  const count = (s) => alerts.filter((a) => a.state === s).length;
  const parts = [[count('firing'), 'firing'], [count('pending'), 'pending'], [count('resolved'), 'recently resolved']].filter(([n]) => n > 0).map(([n, s]) => `${n} ${s}`);
  summary.textContent = parts.length === 0 ? 'No alerts: every rule is quiet.' : `${parts.join(', ')}.`;
  summary.classList.toggle('bad', count('firing') > 0);
  setRows(tbody, sorted.map((a) => {
    const since = a.state === 'firing' ? a.firedAt : a.state === 'resolved' ? a.resolvedAt : a.activeAt;
    const sinceText = a.state === 'firing' ? 'firing since' : a.state === 'resolved' ? 'resolved' : 'pending since';
    return h('tr', { class: `alert-${a.state}`, data: { alert: a.name, state: a.state, model: a.model } },
      h('td', {}, badge(a.state, `state-${a.state}`)),
      h('td', {}, a.severity ? badge(a.severity, `sev-${a.severity}`) : '—'),
      h('th', { attrs: { scope: 'row' }, text: a.name }),
      h('td', { text: `${a.model} v${a.version}` }),
      h('td', { class: 'alert-summary' }, h('div', { text: a.annotations?.summary ?? `${a.signal} ${a.op} ${a.threshold}` }), a.annotations?.description ? h('div', { class: 'muted small', text: a.annotations.description }) : null),
      h('td', { text: fmtSignal(a.signal, a.value), attrs: { title: `rule: ${a.signal} ${a.op} ${a.threshold}` } }),
      h('td', { attrs: { title: isoTime(since) } }, `${sinceText} ${fmtTime(since, now)}`, h('div', { class: 'muted small', text: fmtAgo(since, now) })));
  }), 'No active or recently resolved alerts.');
}

/** Columns of a drift report, worst first: drifted ones, then by effect relative to its threshold. */
export function driftColumns(report) {
  const cols = [...report.features, ...report.outputs.columns].map((c) => ({
    ...c,
    ratio: c.effect.threshold > 0 && Number.isFinite(c.effect.value) ? c.effect.value / c.effect.threshold : 0,
  }));
  return cols.sort((a, b) => Number(b.drifted) - Number(a.drifted) || b.ratio - a.ratio || a.name.localeCompare(b.name));
}

/** The drift report's status for a column significant after correction but below its effect threshold. */
export const SIGNIFICANT_BELOW_EFFECT = 'significant, below the effect threshold';

/** The drift panel. Returns the worst feature names (for the per-feature chart). */
export function renderDrift(els, drift, showAll, now) {
  const { verdict, tbody, more } = els;
  if (drift === null || drift === undefined) {
    verdict.textContent = 'Drift is not watched for this version.';
    setRows(tbody, [], 'No drift data.');
    more.hidden = true;
    return [];
  }
  if (!drift.enabled) {
    verdict.textContent = `Live drift is off for this version: ${drift.reason ?? 'no reason given'}.`;
    verdict.className = 'summary muted';
    setRows(tbody, [], 'No drift data.');
    more.hidden = true;
    return [];
  }
  const report = drift.report;
  if (report === undefined) {
    verdict.textContent = `No drift window has closed yet; ${fmtInt(drift.currentRows)} rows in the window being filled.`;
    verdict.className = 'summary muted';
    setRows(tbody, [], 'Waiting for the first window.');
    more.hidden = true;
    return [];
  }
  const v = report.verdict;
  const when = drift.windowEnd === undefined ? '' : ` (window closed ${fmtTime(drift.windowEnd, now)}, ${fmtAgo(drift.windowEnd, now)})`;
  const mv = report.multivariate;
  const multi = mv === null || mv === undefined ? '' : ` Multivariate (PCA reconstruction): ${mv.drifted ? 'drift' : 'no drift'}${mv.relativeChange === null ? '' : `, error ${mv.relativeChange >= 0 ? '+' : ''}${fmtPct(mv.relativeChange, 1)}`}.`;
  const outputs = report.outputs.drift ? ' Prediction drift: yes.' : ' Prediction drift: no.';
  verdict.replaceChildren(
    v.drift ? h('strong', { class: 'bad', text: 'Drift' }) : h('strong', { class: 'good', text: 'No drift' }),
    ` in the last window of ${fmtInt(report.current.rows)} rows against ${fmtInt(report.reference.rows)} reference rows${when}: `,
    `${v.driftedFeatures.length} of ${v.featureCount} features drifted${v.signals.length > 0 ? ` (signals: ${v.signals.join(', ')})` : ''}.`,
    (v.significantBelowEffect ?? []).length > 0 ? ` ${v.significantBelowEffect.length} more ${SIGNIFICANT_BELOW_EFFECT} (a real change, smaller than its threshold): ${v.significantBelowEffect.join(', ')}.` : '',
    outputs, multi,
    ` ${fmtInt(drift.currentRows)} rows in the window being filled.`);
  verdict.className = 'summary';
  const cols = driftColumns(report);
  const limit = 15;
  const shown = showAll ? cols : cols.slice(0, limit);
  const scaleMax = Math.max(1.5, ...cols.map((c) => c.ratio));
  setRows(tbody, shown.map((c) => {
    const bar = h('div', { class: `bar ${c.drifted ? 'drifted' : ''}` });
    bar.style.width = `${Math.min(100, (c.ratio / scaleMax) * 100).toFixed(1)}%`;
    const mark = h('div', { class: 'threshold' });
    mark.style.left = `${((1 / scaleMax) * 100).toFixed(1)}%`;
    return h('tr', { class: c.drifted ? 'drifted' : '', data: { column: c.name, ratio: c.ratio.toFixed(4), drifted: String(c.drifted), status: c.status ?? '' } },
      h('th', { attrs: { scope: 'row', title: c.decision ?? '' }, text: c.name }),
      h('td', { text: c.role }),
      h('td', { class: 'bar-col', attrs: { 'aria-hidden': 'true' } }, h('div', { class: 'bar-track' }, bar, mark)),
      h('td', { text: `${fmtNum(c.effect.value, 3)} ${c.effect.metric} (threshold ${fmtNum(c.effect.threshold, 3)})` }),
      h('td', { text: `${c.test.name} ${fmtP(c.test.pValueAdjusted)}` }),
      h('td', {}, c.drifted ? badge('drifted', 'sev-critical')
        : c.status === SIGNIFICANT_BELOW_EFFECT
          ? h('span', { class: 'below-effect' }, badge(SIGNIFICANT_BELOW_EFFECT, 'sev-warning'), c.thresholdHint === undefined ? null : h('div', { class: 'muted small' }, 'to flag it, in berth.yaml: ', h('code', { class: 'threshold-hint', text: c.thresholdHint.berthYaml })))
          : h('span', { class: 'muted', text: 'no' })));
  }), 'No columns.');
  more.hidden = cols.length <= limit;
  more.textContent = showAll ? `Show the ${limit} worst columns only` : `Show all ${cols.length} columns`;
  more.setAttribute('aria-expanded', showAll ? 'true' : 'false');
  return cols.filter((c) => c.role === 'feature').slice(0, 5).map((c) => c.name);
}
