// A logged decision's explanation in the decision browser: what was explained and its
// base value, a bar chart of the raw fields' contributions (SVG: attributes only, so the
// page's Content-Security-Policy holds), the reasons in words and the counterfactual.
import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 18;
const LABEL_WIDTH = 190;
const BAR_WIDTH = 260;

function s(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const fmt = (x) => (Math.abs(x) >= 0.001 || x === 0 ? x.toFixed(3) : x.toExponential(1));
const shown = (v) => (typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v ?? '—'));

/** Horizontal bars around a zero line: right raises the explained output, left lowers it. */
function contributionChart(attributions) {
  const max = Math.max(1e-12, ...attributions.map((a) => Math.abs(a.contribution)));
  const zero = LABEL_WIDTH + BAR_WIDTH / 2;
  const height = attributions.length * ROW + 4;
  const svg = s('svg', { class: 'contributions', viewBox: `0 0 ${LABEL_WIDTH + BAR_WIDTH + 70} ${height}`, role: 'img', 'aria-label': 'Contribution of each field to the explained output' });
  attributions.forEach((a, i) => {
    const y = i * ROW + 2;
    const w = (Math.abs(a.contribution) / max) * (BAR_WIDTH / 2);
    const up = a.contribution >= 0;
    svg.append(s('text', { x: LABEL_WIDTH - 6, y: y + 12, 'text-anchor': 'end', class: 'label' }, `${a.feature} = ${shown(a.value)}`));
    svg.append(s('rect', { x: up ? zero : zero - w, y: y + 2, width: Math.max(w, 0.5), height: ROW - 5, class: up ? 'bar up' : 'bar down' }));
    svg.append(s('text', { x: up ? zero + w + 4 : zero - w - 4, y: y + 12, 'text-anchor': up ? 'start' : 'end', class: 'value' }, `${up ? '+' : ''}${fmt(a.contribution)}`));
  });
  svg.append(s('line', { x1: zero, x2: zero, y1: 0, y2: height, class: 'zero' }));
  return svg;
}

/** The explanation block of one decision, or null when it has none. */
export function explanationView(e) {
  if (e === undefined || e === null) return null;
  const target = e.output?.class !== undefined ? `P(${e.output.class})` : (e.output?.name ?? 'output');
  return h('section', { class: 'explanation', attrs: { 'aria-label': 'Explanation' } },
    h('h4', { text: `Why: ${target} = ${fmt(e.value)} against ${fmt(e.base_value)} on average (${e.method} Shapley values over ${e.coalitions} coalitions × ${e.background} background records)` }),
    Array.isArray(e.attributions) && e.attributions.length > 0 ? contributionChart(e.attributions) : null,
    Array.isArray(e.reasons) && e.reasons.length > 0 ? h('ol', { class: 'reasons' }, e.reasons.map((r) => h('li', { text: r.text }))) : null,
    e.counterfactual ? h('p', { class: 'counterfactual', text: e.counterfactual.text }) : null);
}
