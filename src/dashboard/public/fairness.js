// The fairness panel: for the selected version's sensitive attributes (berth.yaml
// monitoring.sensitive), each group's decisions and selection rate (bars) over the live
// window, and its accuracy, TPR and FPR on labelled decisions; the demographic parity ratio
// per attribute, over the groups large enough to compare.
import { h, setRows } from './dom.js';
import { fmtInt, fmtNum, fmtPct } from './format.js';

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? fmtNum(v, 3) : '—');

/** `f`: /api/fairness's fairness (or null); `els`: { summary, tbody }. */
export function renderFairness(els, f) {
  if (f === null || f === undefined) {
    els.summary.textContent = 'No sensitive attributes are watched for this version (berth.yaml monitoring.sensitive).';
    setRows(els.tbody, [], 'No groups.');
    return;
  }
  const parts = f.attributes.map((a) => {
    const ratio = a.demographicParityRatio;
    return typeof ratio === 'number'
      ? `${a.attribute}: lowest ÷ highest selection rate ${fmtNum(ratio, 2)}${ratio < 0.8 ? ' (under four-fifths)' : ''}`
      : `${a.attribute}: fewer than two groups of ${fmtInt(f.minGroupSize)} decisions to compare`;
  });
  els.summary.textContent = `Newest ${fmtInt(f.decisions)} of up to ${fmtInt(f.window)} decisions. ${parts.join('; ')}. Groups under ${fmtInt(f.minGroupSize)} decisions are shown in grey and not compared; the four-fifths line is a screening heuristic, not a legal test.`;
  const quality = new Map((f.quality ?? []).flatMap((a) => a.groups.map((g) => [`${a.attribute}\0${g.group}`, g])));
  const rows = [];
  for (const a of f.attributes) {
    for (const g of a.groups) {
      const q = quality.get(`${a.attribute}\0${g.group}`);
      const bar = h('div', { class: 'bar' });
      bar.style.width = `${(g.selectionRate * 100).toFixed(1)}%`;
      rows.push(h('tr', { class: g.small ? 'muted' : '', data: { attribute: a.attribute, group: g.group, rate: g.selectionRate.toFixed(6) } },
        h('td', { text: a.attribute }),
        h('th', { attrs: { scope: 'row' }, text: g.group }),
        h('td', { text: fmtInt(g.decisions) }),
        h('td', { class: 'bar-col' }, h('div', { class: 'bar-track', attrs: { 'aria-hidden': 'true' } }, bar), h('span', { class: 'small', text: fmtPct(g.selectionRate, 1) })),
        h('td', { text: num(q?.accuracy) }),
        h('td', { text: num(q?.truePositiveRate) }),
        h('td', { text: num(q?.falsePositiveRate) })));
    }
  }
  setRows(els.tbody, rows, 'No decisions with an outcome yet.');
}
