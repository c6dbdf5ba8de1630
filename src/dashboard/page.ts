/**
 * @module dashboard/page
 * The HTML shell of the dashboard at `/`: empty, labelled panels that `public/main.js`
 * fills from the JSON APIs, plus a bootstrap JSON block (server version, which APIs are
 * on, the model index at page load) so the page knows what to ask for before it asks.
 */
import type { IndexEntry } from '../repository/manager.js';

export interface PageBootstrap {
  serverVersion: string;
  /** Live monitoring routes (/api/models, /api/quality, /api/drift, /api/alerts) exist. */
  monitoring: boolean;
  /** The decision log answers (/api/predictions, /api/timeseries). */
  decisionLog: boolean;
  refreshIntervalMs: number;
  /** The repository index when the page was served: shown as is when monitoring is off. */
  models: { name: string; version: string | null; state: IndexEntry['state']; reason: string }[];
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`). */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

export function renderPage(base: string, boot: PageBootstrap): string {
  const v = escapeHtml(boot.serverVersion);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Berth dashboard</title>
<link rel="icon" href="${base}favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${base}vendor/uPlot.min.css">
<link rel="stylesheet" href="${base}dashboard.css">
<script type="application/json" id="berth-bootstrap">${scriptJson(boot)}</script>
<script type="module" src="${base}main.js"></script>
</head>
<body>
<header class="top">
  <div class="brand"><h1>Berth <span class="muted">${v}</span></h1><p id="status" class="status" role="status" aria-live="polite">loading…</p></div>
  <form class="controls" id="view-controls" aria-label="What the charts and the drift panel show">
    <label>Model <select id="model-select" name="model"></select></label>
    <label>Version <select id="version-select" name="version"></select></label>
    <label>Range <select id="range-select" name="range">
      <option value="900000">last 15 min</option>
      <option value="3600000">last 1 h</option>
      <option value="86400000">last 24 h</option>
    </select></label>
    <label class="check"><input type="checkbox" id="auto-refresh" checked> auto-refresh</label>
  </form>
</header>
<main>
<noscript><p class="notice">The dashboard needs JavaScript. The same data is at <a href="/api/models">/api/models</a>, <a href="/api/alerts">/api/alerts</a> and <a href="/metrics">/metrics</a>.</p></noscript>

<section id="models-panel" aria-labelledby="models-heading">
  <h2 id="models-heading">Models</h2>
  <div class="table-wrap"><table id="models">
    <caption class="visually-hidden">Every model version in the repository with its state, live quality and traffic</caption>
    <thead><tr>
      <th scope="col">Model</th><th scope="col">Version</th><th scope="col">State</th><th scope="col">Task</th>
      <th scope="col">Validated accuracy</th><th scope="col">Live accuracy</th><th scope="col">Traffic</th>
      <th scope="col">Drift</th><th scope="col">Alerts</th><th scope="col">Reason</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
</section>

<section id="alerts-panel" aria-labelledby="alerts-heading">
  <h2 id="alerts-heading">Alerts</h2>
  <p id="alerts-summary" class="summary"></p>
  <div class="table-wrap"><table id="alerts">
    <caption class="visually-hidden">Firing alerts first, then pending, then recently resolved</caption>
    <thead><tr>
      <th scope="col">State</th><th scope="col">Severity</th><th scope="col">Alert</th><th scope="col">Model</th>
      <th scope="col">Summary</th><th scope="col">Value</th><th scope="col">Since</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
</section>

<section id="charts-panel" aria-labelledby="charts-heading">
  <h2 id="charts-heading">Over time</h2>
  <p id="charts-note" class="summary"></p>
  <div id="charts" class="charts"></div>
</section>

<section id="drift-panel" aria-labelledby="drift-heading">
  <h2 id="drift-heading">Drift</h2>
  <p id="drift-verdict" class="summary"></p>
  <div class="table-wrap"><table id="drift-features">
    <caption class="visually-hidden">Drift per column of the last closed window, worst first</caption>
    <thead><tr>
      <th scope="col">Column</th><th scope="col">Role</th><th scope="col" class="bar-col">Effect size (line: threshold)</th>
      <th scope="col">Effect</th><th scope="col">Test p (adjusted)</th><th scope="col">Drifted</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
  <p><button type="button" id="drift-more" hidden></button></p>
</section>

<section id="fairness-panel" aria-labelledby="fairness-heading">
  <h2 id="fairness-heading">Fairness</h2>
  <p id="fairness-summary" class="summary"></p>
  <div class="table-wrap"><table id="fairness-groups">
    <caption class="visually-hidden">Selection rate and quality by group of each sensitive attribute</caption>
    <thead><tr>
      <th scope="col">Attribute</th><th scope="col">Group</th><th scope="col">Decisions</th><th scope="col" class="bar-col">Selection rate</th>
      <th scope="col">Accuracy</th><th scope="col">TPR</th><th scope="col">FPR</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
</section>

<section id="decisions-panel" aria-labelledby="decisions-heading">
  <h2 id="decisions-heading">Decision log</h2>
  <form id="decision-filters" class="filters" aria-label="Decision log filters">
    <label>Model <select name="model" id="dl-model"></select></label>
    <label>Version <select name="version" id="dl-version"><option value="">any</option></select></label>
    <label>Request id <input type="search" name="id" id="dl-id" placeholder="exact id" autocomplete="off" spellcheck="false"></label>
    <label>Outcome <select name="outcome" id="dl-outcome">
      <option value="">any</option><option>success</option><option>invalid</option><option>rejected</option><option>timeout</option><option>error</option>
    </select></label>
    <label>Ground truth <select name="labelled" id="dl-labelled">
      <option value="">any</option><option value="true">labelled</option><option value="false">not labelled</option>
    </select></label>
    <label>Time <select name="time" id="dl-time">
      <option value="">any time</option><option value="900000">last 15 min</option><option value="3600000">last 1 h</option><option value="86400000">last 24 h</option><option value="custom">from … to …</option>
    </select></label>
    <label>From <input type="datetime-local" name="since" id="dl-since" step="1" disabled></label>
    <label>To <input type="datetime-local" name="until" id="dl-until" step="1" disabled></label>
    <label>Show <select name="limit" id="dl-limit"><option selected>20</option><option>50</option><option>200</option><option>1000</option></select></label>
    <label class="check"><input type="checkbox" name="follow" id="dl-follow" checked> follow new decisions</label>
    <button type="submit">Search</button>
  </form>
  <p id="decisions-summary" class="summary" aria-live="polite"></p>
  <div class="table-wrap"><table id="decisions">
    <caption class="visually-hidden">Logged decisions, newest first</caption>
    <thead><tr>
      <th scope="col">Time</th><th scope="col">Request id</th><th scope="col">Version</th><th scope="col">Prediction</th>
      <th scope="col">Label</th><th scope="col">Latency</th><th scope="col">Batch</th><th scope="col">Outcome</th><th scope="col"><span class="visually-hidden">Details</span></th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
</section>
</main>
<footer><a href="/v2">/v2</a> · <a href="/v2/health/ready">/v2/health/ready</a> · <a href="/v2/models/stats">/v2/models/stats</a> · <a href="/metrics">/metrics</a> · <a href="/api/models">/api/models</a> · <a href="/api/alerts">/api/alerts</a></footer>
</body>
</html>
`;
}
