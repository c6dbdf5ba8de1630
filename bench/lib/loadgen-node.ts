/**
 * @module bench/lib/loadgen-node
 * The fallback load generator when wrk is not installed, and its runner. As a child
 * process (`node --import tsx bench/lib/loadgen-node.ts <json options>`) it keeps
 * `concurrency` keep-alive connections busy with the POST for `seconds`, records each
 * latency in a typed-array histogram, counts non-200 responses, and prints one JSON line.
 * It costs more CPU per request than wrk, which matters on a small machine.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startChild } from './child.js';
import { LatencyHistogram } from './histogram.js';
import type { LoadOptions, LoadResult } from './load-result.js';

const MARK = 'LOADGEN_JSON ';

interface ChildOptions {
  url: string;
  bodyFile: string;
  headers: Record<string, string>;
  concurrency: number;
  seconds: number;
}

async function generate(o: ChildOptions): Promise<void> {
  const body = readFileSync(o.bodyFile);
  const target = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  const hist = new LatencyHistogram(1000);
  let requests = 0;
  let non200 = 0;
  let socket = 0;
  const start = process.hrtime.bigint();
  const endNs = start + BigInt(Math.round(o.seconds * 1e9));

  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...o.headers, 'content-length': body.length } },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            hist.recordNs(Number(process.hrtime.bigint() - t0));
            requests += 1;
            if (res.statusCode !== 200) non200 += 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        socket += 1;
        resolve();
      });
      req.end(body);
    });

  const loop = async (): Promise<void> => {
    while (process.hrtime.bigint() < endNs) await one();
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  // The whole process, start-up included: the machine paid for all of it.
  const cpu = process.cpuUsage();
  const result: LoadResult = {
    generator: 'node',
    concurrency: o.concurrency,
    seconds: wall,
    requests,
    non200,
    socketErrors: socket,
    latencyUs: hist.entries().map(([ns, n]) => [ns / 1000, n]),
    generatorCpuS: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${MARK}${JSON.stringify(result)}\n`);
}

/** Runs the Node generator in its own process. */
export async function runNodeLoad(o: LoadOptions): Promise<LoadResult> {
  const script = fileURLToPath(import.meta.url);
  const options: ChildOptions = { url: o.url, bodyFile: o.bodyFile, headers: o.headers, concurrency: o.concurrency, seconds: o.seconds };
  const child = await startChild(script, [JSON.stringify(options)], { cwd: o.cwd, readyPrefix: MARK, timeoutMs: (o.seconds + 30) * 1000 });
  await child.stop();
  return JSON.parse(child.ready) as LoadResult;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await generate(JSON.parse(process.argv[2] ?? '{}') as ChildOptions);
}
