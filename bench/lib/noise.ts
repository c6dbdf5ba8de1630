/**
 * @module bench/lib/noise
 * Other work on the machine skews a benchmark, badly so on 2 cores. The meter measures how
 * much CPU *other* processes used during a measurement: machine-wide busy time from
 * /proc/stat (user + nice + system + steal; interrupt time is left out, loopback traffic
 * lands there) minus what this process and the processes it measures used. A measurement
 * above the threshold is retried; before retrying, the meter waits for the machine to
 * quieten, within a total wait budget. Off Linux everything counts as quiet.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const HZ = 100; // USER_HZ; /proc/stat counts in these on every Linux architecture

/** Machine-wide busy CPU seconds since boot, or undefined without /proc/stat. */
export function machineBusyS(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  const f = text.slice(0, text.indexOf('\n')).split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[7] ?? 0)) / HZ;
}

export interface NoiseMark {
  machineS: number | undefined;
  selfS: number;
  t: bigint;
}

export class NoiseMeter {
  readonly thresholdCores: number;
  #waitBudgetMs: number;
  waitedMs = 0;

  constructor(thresholdCores: number, waitBudgetMs: number) {
    this.thresholdCores = thresholdCores;
    this.#waitBudgetMs = waitBudgetMs;
  }

  mark(): NoiseMark {
    const u = process.cpuUsage();
    return { machineS: machineBusyS(), selfS: (u.user + u.system) / 1e6, t: process.hrtime.bigint() };
  }

  /** Cores used by other processes since `m`, given the CPU seconds of our own children (`ownS`). */
  otherCores(m: NoiseMark, ownS = 0): number {
    const now = this.mark();
    if (m.machineS === undefined || now.machineS === undefined) return 0;
    const wall = Number(now.t - m.t) / 1e9;
    const other = now.machineS - m.machineS - (now.selfS - m.selfS) - ownS;
    return Math.max(0, other / wall);
  }

  isQuiet(cores: number): boolean {
    return cores <= this.thresholdCores;
  }

  /** While we do nothing, waits until other processes use at most the threshold (or the budget is spent). */
  async waitQuiet(): Promise<void> {
    while (this.#waitBudgetMs > 0) {
      const m = this.mark();
      await sleep(500);
      const elapsed = Number(process.hrtime.bigint() - m.t) / 1e6;
      this.#waitBudgetMs -= elapsed;
      this.waitedMs += elapsed;
      if (this.isQuiet(this.otherCores(m))) return;
    }
  }
}
