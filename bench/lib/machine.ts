/**
 * @module bench/lib/machine
 * What the numbers were measured on: CPU, cores, memory, Node and ONNX Runtime versions,
 * the commit, and the load average (other work on the machine skews a benchmark).
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  memoryGiB: number;
  platform: string;
  node: string;
  onnxruntimeNode: string;
  loadGenerator: string;
  commit: string;
  loadAverageAtStart: number[];
}

function git(root: string, args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function machineInfo(root: string, ortVersion: string, loadGenerator: string): MachineInfo {
  const head = git(root, ['rev-parse', '--short', 'HEAD']);
  const dirty = git(root, ['status', '--porcelain', '--', 'src']) !== '';
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    availableParallelism: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform} ${release()} ${process.arch}`,
    node: process.version,
    onnxruntimeNode: ortVersion,
    loadGenerator,
    commit: head === '' ? 'unknown' : `${head}${dirty ? ' (src/ modified)' : ''}`,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
