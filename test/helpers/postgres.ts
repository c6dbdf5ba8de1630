/**
 * A throwaway PostgreSQL server for tests and benchmarks, from Debian's binaries
 * (/usr/lib/postgresql/<version>/bin; package `postgresql`, which .ci/run installs):
 * initdb into a temporary directory, trust auth, a free port on 127.0.0.1, the unix socket
 * in the same directory, fsync off. PostgreSQL refuses to run as root, so under root the
 * server runs as the `postgres` user (setpriv, which execs: the child's pid is the
 * postmaster's). kill() SIGKILLs the postmaster and all its backends at once, as a crash
 * (or the OOM killer taking the whole service) would.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PgServer {
  /** postgres://berth@127.0.0.1:<port>/postgres */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly running: boolean;
  /** Fast shutdown (SIGINT), waits for exit. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster and every backend: a crash. */
  kill(): Promise<void>;
  /** Starts it again (after stop or kill; crash recovery runs if needed), waits until it accepts connections. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Kills it and removes the directory. */
  destroy(): Promise<void>;
}

const ROOT = '/usr/lib/postgresql';

/** The newest installed server's bin directory; throws (never skips) when there is none. */
export function postgresBinDir(): string {
  const versions = existsSync(ROOT) ? readdirSync(ROOT).filter((v) => existsSync(join(ROOT, v, 'bin', 'initdb')) && existsSync(join(ROOT, v, 'bin', 'postgres'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  const v = versions[0];
  if (v === undefined) {
    throw new Error(
      `PostgreSQL server binaries not found (${ROOT}/<version>/bin/initdb and postgres). ` +
      'Install Debian\'s postgresql package: apt-get install -y postgresql (.ci/run does this).',
    );
  }
  return join(ROOT, v, 'bin');
}

/** Pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may contain spaces, so parse after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Who runs the server: ourselves, or the postgres user (nobody as a fallback) when we are root. */
function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      // try the next one
    }
  }
  throw new Error('running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as');
}

function command(user: { uid: number; gid: number } | null, bin: string, args: string[]): [string, string[]] {
  if (user === null) return [bin, args];
  return ['setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', bin, ...args]];
}

async function waitReady(url: string, child: ChildProcess, log: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited during start-up:\n${log()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`postgres did not accept connections within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts a server; with `t`, it is destroyed in t.after(). Also killed if the test
 * process exits without cleaning up.
 */
export interface StartPostgresOptions {
  /** fsync and full-page writes on, as in production (benchmarks); default off (tests: faster, and a process kill still loses nothing). */
  durable?: boolean;
}

export async function startPostgres(t?: { after(fn: () => unknown): void }, options: StartPostgresOptions = {}): Promise<PgServer> {
  const bin = postgresBinDir();
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'berth-pg-'));
  if (user !== null) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const [initCmd, initArgs] = command(user, join(bin, 'initdb'), ['-D', data, '-U', 'berth', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  try {
    execFileSync(initCmd, initArgs, { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${e.stderr?.toString() ?? e.message}`);
  }
  const port = await freePort();
  const url = `postgres://berth@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let logTail: string[] = [];
  const log = (): string => logTail.join('');

  /**
   * SIGKILL to the postmaster and every backend at once. Backends call setsid(), so they
   * are not in the postmaster's process group: they are found as its children in /proc,
   * with the postmaster stopped first so it forks no new ones meanwhile.
   */
  const killGroup = (): void => {
    const pid = child?.pid;
    if (pid === undefined || child?.exitCode !== null || child.signalCode !== null) return;
    const signal = (p: number, sig: NodeJS.Signals): void => {
      try {
        process.kill(p, sig);
      } catch {
        // already gone
      }
    };
    signal(pid, 'SIGSTOP');
    for (const p of childrenOf(pid)) signal(p, 'SIGKILL');
    signal(pid, 'SIGKILL');
  };
  const onExit = (): void => killGroup();
  process.on('exit', onExit);

  const server: PgServer = {
    url,
    port,
    dir,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (server.running) return;
      logTail = [];
      const [cmd, args] = command(user, join(bin, 'postgres'), [
        '-D', data, '-p', String(port), '-k', dir,
        '-c', 'listen_addresses=127.0.0.1',
        // A test server: an OS crash may lose it; a process kill loses nothing.
        ...(options.durable === true ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off']),
        '-c', `shared_buffers=${options.durable === true ? '128MB' : '16MB'}`,
        '-c', 'max_connections=60',
        '-c', 'logging_collector=off',
      ]);
      const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      const keep = (chunk: Buffer): void => {
        logTail.push(chunk.toString());
        if (logTail.length > 50) logTail.shift();
      };
      c.stdout?.on('data', keep);
      c.stderr?.on('data', keep);
      exited = new Promise((resolve) => c.once('exit', () => resolve()));
      c.unref();
      (c.stdout as { unref?: () => void } | null)?.unref?.();
      (c.stderr as { unref?: () => void } | null)?.unref?.();
      await waitReady(url, c, log);
    },
    // The child is unref'd so a forgotten server never holds the test process open; while
    // waiting for it to exit it is ref'd, or an otherwise idle loop would end first.
    async stop() {
      if (!server.running || child?.pid === undefined) return;
      child.ref();
      process.kill(child.pid, 'SIGINT');
      await exited;
    },
    async kill() {
      if (!server.running) return;
      child?.ref();
      killGroup();
      await exited;
    },
    async restart() {
      await server.stop();
      await server.start();
    },
    async destroy() {
      await server.kill();
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
  } catch (err) {
    await server.destroy();
    throw err;
  }
  t?.after(() => server.destroy());
  return server;
}
