/**
 * @module drift/html
 * Renders a DriftReport as one self-contained HTML page: inline CSS and inline SVG charts,
 * no scripts, fonts or images to fetch, and no data rows — only the binned proportions the
 * report already holds, so the page stays small however large the data was.
 */
import { SIGNIFICANT_BELOW_EFFECT, type ChartData, type ColumnDrift, type DriftReport } from './report.js';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function num(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined) return '–';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e5 ? Number(x.toPrecision(digits)).toString() : x.toExponential(2);
}

const W = 360;
const H = 120;

function chartSvg(c: ChartData | null): string {
  if (c === null || c.reference.length === 0) return '';
  const n = c.reference.length;
  let heights = (arr: number[]) => arr;
  if (c.kind === 'histogram' && c.edges !== undefined) {
    // Density = proportion / bin width, so unequal quantile bins read correctly.
    const widths = c.reference.map((_, i) => Math.max(1e-12, c.edges![i + 1]! - c.edges![i]!));
    heights = (arr) => arr.map((p, i) => p / widths[i]!);
  }
  const r = heights(c.reference);
  const cur = heights(c.current);
  const max = Math.max(1e-12, ...r, ...cur);
  const bw = W / n;
  let out = `<svg width="${W}" height="${H + 16}" viewBox="0 0 ${W} ${H + 16}" role="img">`;
  for (let i = 0; i < n; i++) {
    const rh = (r[i]! / max) * H;
    const ch = (cur[i]! / max) * H;
    const label = c.kind === 'bars' ? c.labels?.[i] ?? '' : `${num(c.edges?.[i])} – ${num(c.edges?.[i + 1])}`;
    out += `<g><title>${esc(label)}: reference ${num(c.reference[i]! * 100)}%, current ${num(c.current[i]! * 100)}%</title>`;
    out += `<rect x="${(i * bw + 1).toFixed(1)}" y="${(H - rh).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${rh.toFixed(1)}" class="ref"/>`;
    out += `<rect x="${(i * bw + bw / 2).toFixed(1)}" y="${(H - ch).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${ch.toFixed(1)}" class="cur"/></g>`;
  }
  const left = c.kind === 'histogram' ? num(c.edges?.[0]) : esc(c.labels?.[0] ?? '');
  const right = c.kind === 'histogram' ? num(c.edges?.[n]) : esc(c.labels?.[n - 1] ?? '');
  out += `<text x="0" y="${H + 13}" class="axis">${left}</text><text x="${W}" y="${H + 13}" class="axis" text-anchor="end">${right}</text></svg>`;
  return out;
}

function columnRow(d: ColumnDrift): string {
  const badge = d.drifted ? '<span class="bad">DRIFT</span>' : d.status === SIGNIFICANT_BELOW_EFFECT ? `<span class="warn">${esc(SIGNIFICANT_BELOW_EFFECT)}</span>` : '<span class="ok">ok</span>';
  const findings: string[] = [];
  if (d.missing.drifted) findings.push(`<span class="bad">missing rate ${num(d.missing.reference * 100)}% → ${num(d.missing.current * 100)}%</span>`);
  else if (d.missing.current > 0 || d.missing.reference > 0) findings.push(`missing ${num(d.missing.reference * 100)}% → ${num(d.missing.current * 100)}%`);
  if (d.unseen !== undefined && d.unseen.rows > 0) {
    const list = d.unseen.categories.slice(0, 5).map(([v, c]) => `${esc(v)} (${c})`).join(', ');
    findings.push(`<span class="${d.unseen.drifted ? 'bad' : 'warn'}">unseen categories: ${d.unseen.rows} rows (${num(d.unseen.share * 100)}%): ${list}</span>`);
  }
  if (d.unseen?.note) findings.push(`<span class="warn">${esc(d.unseen.note)}</span>`);
  if (d.reason) findings.push(`<em>${esc(d.reason)}</em>`);
  if (d.thresholdHint !== undefined) findings.push(`to flag a change this size, set its threshold: <code>${esc(d.thresholdHint.schema)}</code> (--schema or profile column) or in berth.yaml <code>${esc(d.thresholdHint.berthYaml).replace(/\n/g, '<br>').replace(/ /g, '&nbsp;')}</code>`);
  return `<tr class="${d.drifted ? 'drifted' : ''}">
<td><b>${esc(d.name)}</b><br><small>${d.type}, ${d.role}, ${d.regime} sample</small></td>
<td>${esc(d.test.name)}<br><small>${esc(d.test.method)}</small></td>
<td>${num(d.test.statistic)}</td>
<td>${num(d.test.pValue)}<br><small>adj. ${num(d.test.pValueAdjusted)}</small></td>
<td>${esc(d.effect.metric)} ${num(d.effect.value)}${d.effect.error !== undefined && d.effect.error > 0 ? ` ± ${num(d.effect.error)}` : ''}<br><small>threshold ${num(d.effect.threshold)}</small></td>
<td>${badge}<br><small>${esc(d.decision)}</small>${findings.length ? '<br>' + findings.join('<br>') : ''}</td>
<td>${chartSvg(d.chart)}</td></tr>`;
}

function table(title: string, cols: ColumnDrift[]): string {
  if (cols.length === 0) return '';
  return `<h2>${esc(title)}</h2><table><thead><tr><th>column</th><th>test</th><th>statistic</th><th>p-value</th><th>effect size</th><th>decision</th><th>reference <span class="swatch ref"></span> vs current <span class="swatch cur"></span></th></tr></thead><tbody>${cols.map(columnRow).join('\n')}</tbody></table>`;
}

export function renderHtml(report: DriftReport): string {
  const v = report.verdict;
  const mv = report.multivariate;
  const mvHtml =
    mv === null
      ? ''
      : `<h2>Multivariate (PCA reconstruction error)</h2><p>${mv.components} components of ${mv.dimensions} standardised dimensions (${num(mv.varianceExplained * 100)}% of variance). Mean squared reconstruction error: reference ${num(mv.referenceError)}, current ${num(mv.currentError)} (change ${mv.relativeChange === null ? '–' : num(mv.relativeChange * 100) + '%'}, p = ${num(mv.pValue)}, threshold ±${num(mv.threshold * 100)}%): ${mv.drifted ? '<span class="bad">DRIFT</span>' : '<span class="ok">ok</span>'}${mv.reason ? ` <em>${esc(mv.reason)}</em>` : ''}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Berth drift report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}
tr.drifted{background:#fff3f3}.bad{color:#b00020;font-weight:bold}.ok{color:#0a7a2f;font-weight:bold}.warn{color:#a15c00}
.verdict{font-size:1.3em;padding:.6em 1em;border-radius:6px;display:inline-block}.verdict.drift{background:#fde0e0}.verdict.nodrift{background:#e0f5e6}
rect.ref{fill:#7a8fa6}rect.cur{fill:#e07b39}.swatch{display:inline-block;width:10px;height:10px}.swatch.ref{background:#7a8fa6}.swatch.cur{background:#e07b39}
.axis{font-size:10px;fill:#555}small{color:#666}
</style></head><body>
<h1>Drift report</h1>
<p class="verdict ${v.drift ? 'drift' : 'nodrift'}">${v.drift ? 'Drift detected' : 'No drift detected'}</p>
<ul>${v.signals.map((s) => `<li>${esc(s)}</li>`).join('') || '<li>no signal passed both its corrected significance level and its effect-size threshold</li>'}</ul>
<p>Reference: ${esc(report.reference.source ?? 'profile')} (${report.reference.rows} rows${report.reference.sketchRankError > 0 ? `, sketch rank error ≤ ${num(report.reference.sketchRankError * 100)}%` : ''}). Current: ${esc(report.current.source ?? 'window')} (${report.current.rows} rows).
Rule: a column drifts when its ${report.options.correction === 'bh' ? 'Benjamini–Hochberg' : report.options.correction}-adjusted p-value is below α = ${report.options.alpha} and its effect size reaches its threshold; ${v.driftedFeatures.length} of ${v.featureCount} features drifted.</p>
${v.significantBelowEffect.length > 0 ? `<p class="warn">${v.significantBelowEffect.length} feature(s) ${esc(SIGNIFICANT_BELOW_EFFECT)} (a real but small change; not drift): ${esc(v.significantBelowEffect.join(', '))}.</p>` : ''}
${table('Features', report.features)}
${table('Model outputs (BBSD: Bonferroni across output columns)', report.outputs.columns)}
${table('Labels', report.labels)}
${mvHtml}
${report.notes.length ? `<h2>Notes</h2><ul>${report.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<p><small>${esc(report.format)} · generated by berth drift</small></p>
</body></html>
`;
}
