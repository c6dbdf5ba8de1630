/**
 * @module dashboard/routes
 * The page at `/`: for now a server-rendered status page (models, versions, state,
 * reasons, links to the APIs). The monitoring issue replaces it with the charts dashboard.
 */
import type { FastifyInstance } from 'fastify';
import type { ModelManager } from '../repository/manager.js';

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function registerDashboardRoutes(app: FastifyInstance, manager: ModelManager, serverVersion: string): void {
  app.get('/', async (_req, reply) => {
    const rows = manager
      .index()
      .map((e) => {
        const mv = e.state === 'READY' && e.version !== undefined ? manager.readyVersions(e.name).find((v) => String(v.version) === e.version) : undefined;
        const io = mv === undefined ? '' : `${mv.signature.inputs.map((s) => `${escape(s.name)} ${s.datatype} [${s.shape.join(', ')}]`).join('<br>')}`;
        const name = escape(e.name);
        return `<tr><td><a href="/v2/models/${encodeURIComponent(e.name)}">${name}</a></td><td>${escape(e.version ?? '')}</td><td class="${e.state}">${e.state}</td><td>${mv?.signature.maxBatchSize ?? ''}</td><td>${io}</td><td>${escape(e.reason)}</td></tr>`;
      })
      .join('\n');
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Berth</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.4rem .8rem;text-align:left;vertical-align:top}
.READY{color:#137333}.UNAVAILABLE{color:#b3261e}.LOADING,.UNLOADING{color:#9a6700}
</style></head><body>
<h1>Berth ${escape(serverVersion)}</h1>
<p>Models served over the Open Inference Protocol (KServe V2). The monitoring dashboard will replace this page.</p>
<table><thead><tr><th>Model</th><th>Version</th><th>State</th><th>Max batch</th><th>Inputs</th><th>Reason</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p><a href="/v2">/v2</a> · <a href="/v2/health/ready">/v2/health/ready</a> · <a href="/v2/models/stats">/v2/models/stats</a> · <a href="/metrics">/metrics</a></p>
</body></html>`;
    return reply.type('text/html; charset=utf-8').send(html);
  });
}
