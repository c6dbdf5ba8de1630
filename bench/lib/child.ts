/**
 * @module bench/lib/child
 * Starts the benchmark's child processes (server under test, HTTP floor, Node load
 * generator) as `node --import tsx <script>`, waits for the line that says they are ready,
 * and stops them by their own pid: SIGTERM first (so they exit cleanly and profiles are
 * written), SIGKILL if they do not go. Closing their stdin also stops them, so nothing
 * outlives a benchmark that dies.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface StartedChild {
  proc: ChildProcess;
  pid: number;
  /** The rest of the ready line (e.g. the URL). */
  ready: string;
  /** What the child wrote to stderr so far (for error messages). */
  stderr(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra node flags before `--import tsx` (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The stdout line prefix that says the child is ready. */
  readyPrefix?: string;
  cwd: string;
  timeoutMs?: number;
}

export function nodeScriptArgs(script: string, args: readonly string[], nodeArgs: readonly string[] = []): string[] {
  return [...nodeArgs, '--import', 'tsx', script, ...args];
}

export async function startChild(script: string, args: readonly string[], o: StartOptions): Promise<StartedChild> {
  const prefix = o.readyPrefix ?? 'LISTENING ';
  const proc = spawn(process.execPath, nodeScriptArgs(script, args, o.nodeArgs), { cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (s: string) => {
    err = (err + s).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const lines = createInterface({ input: proc.stdout! });

  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${script} did not start within ${o.timeoutMs ?? 60_000} ms\n${err}`));
    }, o.timeoutMs ?? 60_000);
    lines.on('line', (line) => {
      if (line.startsWith(prefix)) {
        clearTimeout(timer);
        resolve(line.slice(prefix.length).trim());
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${signal ?? code}) before it was ready\n${err}`));
    });
  });
  if (proc.pid === undefined) throw new Error(`${script}: no pid`);
  const pid = proc.pid;

  let stopping: Promise<void> | undefined;
  return {
    proc,
    pid,
    ready,
    stderr: () => err,
    stop() {
      stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill('SIGTERM');
        const killTimer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(killTimer);
      })();
      return stopping;
    },
  };
}
