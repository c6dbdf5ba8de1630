/**
 * @module bench/lib/cpuprofile
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`) into where the time went:
 * self time grouped by module (our source files, npm packages, Node internals by area,
 * GC, idle), the top functions by self time, and the inclusive time of Berth's own
 * functions (so "decodeInferRequest: 9 %" includes the JSON.parse it calls).
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on the monotonic clock (the one process.hrtime reads, in every process). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A time window on the monotonic clock, microseconds. */
export interface Window {
  startUs: number;
  endUs: number;
}

export interface TimeShare {
  name: string;
  ms: number;
  /** Share of all sampled time, including idle. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  /** What the thread does, judged from its frames. */
  role: string;
  sampledMs: number;
  /** Share of sampled time the thread was not idle. */
  busyPct: number;
  byModule: TimeShare[];
  topSelf: TimeShare[];
  /** Inclusive time of functions in the repository's own files (src/, bench/). */
  ownInclusive: TimeShare[];
}

/** Where a frame's code lives, coarse enough to read as a breakdown. */
export function moduleOf(frame: CallFrame, root: string): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : `(native) ${functionName || 'anonymous'}`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') === true ? `npm ${rest[0]}/${rest[1] ?? ''}` : `npm ${rest[0] ?? ''}`;
  }
  if (url.startsWith('node:')) {
    const path = url.slice('node:'.length);
    if (/http|llhttp/.test(path)) return 'node http';
    if (/net|stream|tcp|socket/.test(path)) return 'node net/streams';
    if (/worker|messageport|message_port/.test(path)) return 'node worker messaging';
    if (/timers/.test(path)) return 'node timers';
    if (/process\/task_queues|promise/.test(path)) return 'node microtasks';
    return `node ${path.replace(/^internal\//, '')}`;
  }
  const file = url.replace(/^file:\/\//, '');
  return file.startsWith(`${root}/`) ? file.slice(root.length + 1) : file;
}

function frameKey(frame: CallFrame, root: string): string {
  const where = moduleOf(frame, root);
  if (frame.url === '') return where;
  // Line numbers of our own files are those of tsx's output, not of the source: leave them out.
  const own = where.startsWith('src/') || where.startsWith('bench/');
  return `${frame.functionName || '(anonymous)'} ${where}${own ? '' : `:${frame.lineNumber + 1}`}`;
}

/** Summarises the samples inside `window` (default: all of them). */
export function summariseProfile(file: string, root: string, window?: Window, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Self time per node; the delta after a sample is the time spent in it.
  const selfUs = new Map<number, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (window !== undefined && (t < window.startUs || t > window.endUs)) continue;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  }

  const byModule = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const pathKeys = new Map<number, string[]>();
  const ownKeysOf = (id: number): string[] => {
    let keys = pathKeys.get(id);
    if (keys !== undefined) return keys;
    const set = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const where = moduleOf(f, root);
      if (where.startsWith('src/') || where.startsWith('bench/')) set.add(frameKey(f, root));
    }
    keys = [...set];
    pathKeys.set(id, keys);
    return keys;
  };
  let idle = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const mod = moduleOf(frame, root);
    if (mod === '(idle)') idle += us;
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
    const key = frameKey(frame, root);
    bySelf.set(key, (bySelf.get(key) ?? 0) + us);
    for (const k of ownKeysOf(id)) inclusive.set(k, (inclusive.get(k) ?? 0) + us);
  }
  const share = (m: Map<string, number>, n: number): TimeShare[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, pct: total === 0 ? 0 : Math.round((us / total) * 1000) / 10 }));
  const inclusiveKeys = [...inclusive.keys()];
  return {
    file,
    role: inclusiveKeys.some((k) => k.includes('session-worker')) ? 'session worker' : inclusiveKeys.some((k) => k.includes('src/server/app.ts')) ? 'main (HTTP) thread' : 'other (module loader hooks)',
    sampledMs: Math.round(total / 1000),
    busyPct: total === 0 ? 0 : Math.round(((total - idle) / total) * 1000) / 10,
    byModule: share(byModule, 30),
    topSelf: share(bySelf, top),
    ownInclusive: share(inclusive, top),
  };
}

/** Printable summary; with `requests` (handled in the window) each line also says µs per request. */
export function formatSummary(s: ProfileSummary, label: string, requests?: number, n = 15): string {
  const lines = [`${label}: ${s.sampledMs} ms sampled, busy ${s.busyPct} %${requests === undefined ? '' : `, ${((s.sampledMs * s.busyPct * 10) / requests).toFixed(1)} µs CPU per request`}`];
  const block = (title: string, xs: TimeShare[]): void => {
    lines.push(`  ${title}`);
    for (const x of xs.slice(0, n)) {
      const perRequest = requests === undefined || x.name === '(idle)' ? '' : `${((x.ms * 1000) / requests).toFixed(1).padStart(7)} µs/req  `;
      lines.push(`    ${x.pct.toFixed(1).padStart(5)} %  ${perRequest}${x.name}`);
    }
  };
  block('self time by module:', s.byModule);
  block('top functions (self):', s.topSelf);
  if (s.ownInclusive.length > 0) block('Berth functions (inclusive):', s.ownInclusive);
  return lines.join('\n');
}
