// The JSON APIs the dashboard reads (src/monitoring/routes.ts), and an incremental cache of
// time series so each poll only fetches the points written since the last one.

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// When the server has API tokens, its data (/api/*) needs one with the read scope: asked for
// once, kept for this tab only (sessionStorage), sent as a bearer token.
const TOKEN_KEY = 'berth.token';
let tokenDeclined = false;

function askForToken(reason) {
  if (tokenDeclined) return false;
  const token = window.prompt(`${reason}\n\nAPI token with the read scope (kept for this tab only):`);
  if (token === null || token.trim() === '') {
    tokenDeclined = true;
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token.trim());
  return true;
}

async function fetchJson(url) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { accept: 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) };
  const res = await fetch(url, { headers, cache: 'no-store' });
  const text = await res.text();
  let body;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { res, body, token };
}

/** GET a same-origin JSON API; throws ApiError with the server's message on a non-2xx answer. */
export async function getJson(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  const url = qs === '' ? path : `${path}?${qs}`;
  let { res, body, token } = await fetchJson(url);
  if (res.status === 401) {
    // Requests run in parallel: another one may have asked for a token meanwhile.
    const current = sessionStorage.getItem(TOKEN_KEY);
    if (current !== null && current !== token) ({ res, body } = await fetchJson(url));
    else {
      sessionStorage.removeItem(TOKEN_KEY);
      if (askForToken(body?.error ?? 'This server needs an API token.')) ({ res, body } = await fetchJson(url));
    }
  }
  if (!res.ok) throw new ApiError(res.status, body?.error ?? `${url}: HTTP ${res.status}`, body?.code);
  return body;
}

const PAGE = 10_000;
/** At most this many pages per series per refresh (a 24 h range at a 1 s interval is 9 pages). */
const MAX_PAGES = 12;

/**
 * Points of one series ({model, version, metric, key}) since a time, fetched once and then
 * extended from the newest point on each call. `/api/timeseries` answers oldest first.
 */
export class SeriesCache {
  #series = new Map();

  async load({ model, version, metric, key = '' }, since) {
    const id = `${model}\0${version}\0${metric}\0${key}`;
    let s = this.#series.get(id);
    if (s === undefined || s.since > since) {
      s = { since, t: [], v: [] };
      this.#series.set(id, s);
    }
    let from = s.t.length > 0 ? s.t[s.t.length - 1] + 1 : since;
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = await getJson('/api/timeseries', { model, version, metric, key, since: Math.floor(from), limit: PAGE });
      const points = body.series.find((x) => x.metric === metric && x.key === key)?.points ?? [];
      for (const [t, v] of points) {
        s.t.push(t);
        s.v.push(v);
      }
      if (points.length < PAGE) break;
      from = points[points.length - 1][0] + 1;
    }
    let drop = 0;
    while (drop < s.t.length && s.t[drop] < since) drop++;
    if (drop > 0) {
      s.t.splice(0, drop);
      s.v.splice(0, drop);
    }
    s.since = since;
    return s;
  }

  /** Forget series of other models/versions (after the selection changed). */
  keepOnly(model, version) {
    for (const id of this.#series.keys()) if (!id.startsWith(`${model}\0${version}\0`)) this.#series.delete(id);
  }
}
