/**
 * @module cli/main
 * Process entry for the `berth` command. Exit codes: 0 ok, 1 a check failed (e.g. drift
 * found, accuracy guard tripped), 2 usage or input error.
 */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';

const program = buildProgram();
program.exitOverride();
for (const c of program.commands) c.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  throw err;
}
