// The decision-log browser: filters → /api/predictions → a table whose rows expand to the
// logged inputs and outputs.
import { ApiError, getJson } from './api.js';
import { byId, h, setOptions, setRows } from './dom.js';
import { compactJson, fmtInt, fmtMs, fmtNum, fmtTime, isoTime } from './format.js';
import { explanationView } from './explanation.js';

function predictionText(p) {
  if (p === undefined || p === null) return '—';
  if (p.label !== undefined) return p.score === undefined ? String(p.label) : `${p.label} (${fmtNum(p.score, 3)})`;
  if (p.value !== undefined) return fmtNum(p.value, 4);
  return '—';
}

/** datetime-local value (local time) → ms, or undefined. */
function localTime(value) {
  if (value === '') return undefined;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? t : undefined;
}

export class DecisionLog {
  #expanded = new Set();
  #running = null;
  #again = false;

  constructor({ enabled, disabledReason }) {
    this.enabled = enabled;
    this.form = byId('decision-filters');
    this.tbody = byId('decisions').querySelector('tbody');
    this.summary = byId('decisions-summary');
    this.modelSel = byId('dl-model');
    this.versionSel = byId('dl-version');
    this.timeSel = byId('dl-time');
    this.since = byId('dl-since');
    this.until = byId('dl-until');
    this.follow = byId('dl-follow');
    if (!enabled) {
      this.disable(disabledReason);
      return;
    }
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.search();
    });
    for (const el of [this.modelSel, this.versionSel, byId('dl-outcome'), byId('dl-labelled'), byId('dl-limit'), this.since, this.until]) {
      el.addEventListener('change', () => this.search());
    }
    this.timeSel.addEventListener('change', () => {
      const custom = this.timeSel.value === 'custom';
      this.since.disabled = !custom;
      this.until.disabled = !custom;
      if (!custom) this.search();
    });
  }

  /** Switches the browser off (the decision log is off, or the server said so). */
  disable(reason) {
    this.enabled = false;
    for (const el of this.form.elements) el.disabled = true;
    this.summary.textContent = reason;
    this.summary.classList.remove('bad');
    setRows(this.tbody, [], 'The decision log is switched off.');
  }

  /** Keeps the model and version choices in step with the repository. */
  setModels(models) {
    if (!this.enabled) return;
    setOptions(this.modelSel, models.map((m) => ({ value: m.name, label: m.name })));
    const m = models.find((x) => x.name === this.modelSel.value);
    const versions = (m?.versions ?? []).filter((v) => v.version !== null).map((v) => ({ value: v.version, label: v.version }));
    setOptions(this.versionSel, [{ value: '', label: 'any' }, ...versions]);
  }

  /** Sets the model filter (when the page's model selection changes), keeping the other filters. */
  selectModel(model) {
    if (!this.enabled || this.modelSel.value === model) return;
    if ([...this.modelSel.options].some((o) => o.value === model)) {
      this.modelSel.value = model;
      this.versionSel.value = '';
    }
  }

  query() {
    const f = new FormData(this.form);
    const q = { limit: f.get('limit') ?? 50 };
    for (const k of ['model', 'version', 'outcome', 'labelled']) {
      const v = f.get(k);
      if (typeof v === 'string' && v !== '') q[k] = v;
    }
    const id = String(f.get('id') ?? '').trim();
    if (id !== '') q.id = id;
    const time = this.timeSel.value;
    if (time === 'custom') {
      const s = localTime(this.since.value);
      const u = localTime(this.until.value);
      if (s !== undefined) q.since = s;
      if (u !== undefined) q.until = u;
    } else if (time !== '') {
      q.since = Date.now() - Number(time);
    }
    return q;
  }

  /** Called on every poll: refreshes only while "follow new decisions" is on. */
  async poll() {
    if (this.enabled && this.follow.checked) await this.search();
  }

  /** Runs the query now; a call while one runs makes it run once more after it. */
  search() {
    if (!this.enabled) return Promise.resolve();
    if (this.#running !== null) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#searchOnce();
      } while (this.#again);
    })().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #searchOnce() {
    const q = this.query();
    try {
      if (q.model === undefined) {
        setRows(this.tbody, [], 'No model to show.');
        return;
      }
      const { predictions } = await getJson('/api/predictions', q);
      this.#render(predictions, q);
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) {
        this.disable(err.message);
        return;
      }
      this.summary.textContent = `Could not read the decision log: ${err.message}`;
      this.summary.classList.add('bad');
    }
  }

  #render(predictions, q) {
    const now = Date.now();
    const what = q.id !== undefined ? `with id '${q.id}'` : `of ${q.model}${q.version ? ` version ${q.version}` : ''}`;
    this.summary.classList.remove('bad');
    this.summary.textContent = predictions.length === 0
      ? `No logged decisions ${what} match these filters.`
      : `${fmtInt(predictions.length)} decision${predictions.length === 1 ? '' : 's'} ${what}, newest first${predictions.length >= Number(q.limit) ? ` (the newest ${q.limit}; narrow the filters to see older ones)` : ''}.`;
    const rows = [];
    for (const d of predictions) {
      const key = `${d.model}\0${d.id}`;
      const detailsId = `dl-details-${rows.length}`;
      const open = this.#expanded.has(key);
      const wrong = d.label !== undefined && d.prediction?.label !== undefined && String(d.label) !== String(d.prediction.label);
      const toggle = h('button', { type: 'button', class: 'link', text: open ? 'Hide' : 'Details', attrs: { 'aria-expanded': open ? 'true' : 'false', 'aria-controls': detailsId, 'aria-label': `Inputs and outputs of ${d.id}` } });
      const row = h('tr', { data: { id: d.id, outcome: d.outcome } },
        h('td', { attrs: { title: isoTime(d.time) }, text: fmtTime(d.time, now) }),
        h('th', { attrs: { scope: 'row' }, class: 'mono', text: d.id }),
        h('td', { text: d.version }),
        h('td', { text: predictionText(d.prediction) }),
        h('td', { class: wrong ? 'bad' : '', text: d.label === undefined ? '—' : String(d.label), attrs: { title: d.labelTime ? `label arrived ${isoTime(d.labelTime)}` : null } }),
        h('td', { text: fmtMs(d.latencyMs) }),
        h('td', { text: String(d.batchSize) }),
        h('td', {}, h('span', { class: `badge outcome-${d.outcome}`, text: d.outcome })),
        h('td', {}, toggle));
      const details = h('tr', { class: 'details', id: detailsId, hidden: !open },
        h('td', { attrs: { colspan: 9 } }, explanationView(d.explanation), h('pre', { class: 'json', text: compactJson({
          id: d.id, model: d.model, version: d.version, time: isoTime(d.time), outcome: d.outcome, flags: d.flags,
          prediction: d.prediction, label: d.label, labelTime: d.labelTime === undefined ? undefined : isoTime(d.labelTime),
          inputs: d.inputs, inputsHash: d.inputsHash, outputs: d.outputs, detail: d.detail,
        }) })));
      toggle.addEventListener('click', () => {
        const nowOpen = details.hidden;
        details.hidden = !nowOpen;
        toggle.textContent = nowOpen ? 'Hide' : 'Details';
        toggle.setAttribute('aria-expanded', nowOpen ? 'true' : 'false');
        if (nowOpen) this.#expanded.add(key);
        else this.#expanded.delete(key);
      });
      rows.push(row, details);
    }
    setRows(this.tbody, rows, 'No decisions.');
  }
}
