/**
 * @module bench/lib/proc-stat
 * CPU time of a process, thread by thread, from /proc (Linux). Sampled before and after a
 * measurement, it shows where a 2-core machine's CPU went: the server's HTTP (main)
 * thread, its session worker, ONNX Runtime's own threads, GC helpers.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadTimes {
  tid: number;
  name: string;
  /** user + system CPU seconds. */
  cpuS: number;
  /** Of which in the kernel (system calls: socket I/O, waking other threads). */
  systemS: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Per-thread CPU times of `pid`; empty where /proc is not available. */
export function threadTimes(pid: number): ThreadTimes[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const hz = clockTicks();
  const out: ThreadTimes[] = [];
  for (const t of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    } catch {
      continue; // thread ended
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    // Fields after "(comm) ": state, ppid, …; utime and stime are the 12th and 13th.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    out.push({ tid: Number(t), name: stat.slice(open + 1, close), cpuS: (utime + stime) / hz, systemS: stime / hz });
  }
  return out;
}

export interface CpuUse {
  /** CPU seconds per wall second over the window (1.0 = one full core). */
  total: number;
  /** The main (event-loop, HTTP) thread. */
  main: number;
  /** Of `main`, the part spent in the kernel. */
  mainSystem: number;
  /** The busiest other thread (in the server: the session worker running ONNX Runtime). */
  busiestOther: number;
  /** All remaining threads (ONNX Runtime's intra-op pool, GC helpers, libuv). */
  rest: number;
}

/** CPU use between two samples of the same process over `wallS` seconds. */
export function cpuUse(before: ThreadTimes[], after: ThreadTimes[], pid: number, wallS: number): CpuUse {
  const prior = new Map(before.map((t) => [t.tid, t]));
  let total = 0;
  let main = 0;
  let mainSystem = 0;
  const others: number[] = [];
  for (const t of after) {
    const d = t.cpuS - (prior.get(t.tid)?.cpuS ?? 0);
    total += d;
    if (t.tid === pid) {
      main += d;
      mainSystem += t.systemS - (prior.get(t.tid)?.systemS ?? 0);
    } else others.push(d);
  }
  const busiest = others.length === 0 ? 0 : Math.max(...others);
  return { total: total / wallS, main: main / wallS, mainSystem: mainSystem / wallS, busiestOther: busiest / wallS, rest: (total - main - busiest) / wallS };
}

/** The wall-time-weighted mean of several windows. */
export function meanCpuUse(xs: { use: CpuUse; wallS: number }[]): CpuUse {
  const wall = xs.reduce((a, x) => a + x.wallS, 0);
  const avg = (k: keyof CpuUse): number => xs.reduce((a, x) => a + x.use[k] * x.wallS, 0) / wall;
  return { total: avg('total'), main: avg('main'), mainSystem: avg('mainSystem'), busiestOther: avg('busiestOther'), rest: avg('rest') };
}
