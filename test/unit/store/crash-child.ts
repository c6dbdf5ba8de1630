/**
 * A decision logger that dies with SIGKILL, for the crash-accounting tests: run as a child
 * process with BERTH_CRASH_CHILD='{"dataDir", "store": "sqlite" | "down", ...}'. It logs
 * `written` decisions and waits until they are in the store (or, store down, in the spool),
 * then reserves and logs `buffered` more and reserves `reservedOnly` without logging them
 * (the monitor had not built their records yet), then kills itself.
 */
import { join } from 'node:path';
import { DecisionLogger } from '../../../src/store/decision-logger.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { decision } from './contract.js';
import { FakeStore } from './fake-store.js';

const spec = JSON.parse(process.env.BERTH_CRASH_CHILD ?? '{}') as { dataDir: string; store: 'sqlite' | 'down'; written: number; buffered: number; reservedOnly: number };
const fake = new FakeStore();
fake.mode = 'down';
const store = spec.store === 'sqlite' ? new SqliteStore({ path: join(spec.dataDir, 'decisions.db') }) : fake;
// A long flush interval and a batch larger than `buffered`: the buffered ones stay in memory.
const logger = new DecisionLogger(store, { dataDir: spec.dataDir, flushIntervalMs: 600_000, batchSize: 1000, retryMinMs: 600_000 });
await logger.start();
for (let i = 0; i < spec.written; i++) {
  const r = decision(i);
  logger.log(r, logger.reserve(r.model, r.id));
}
await logger.flush();
for (let i = spec.written; i < spec.written + spec.buffered; i++) {
  const r = decision(i);
  logger.log(r, logger.reserve(r.model, r.id));
}
for (let i = 0; i < spec.reservedOnly; i++) logger.reserve('income', `req-${spec.written + spec.buffered + i}`);
process.stdout.write(`${JSON.stringify(logger.stats)}\n`);
process.kill(process.pid, 'SIGKILL');
