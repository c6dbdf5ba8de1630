/**
 * @module cli/main
 * Process entry for the `berth` command. Exit codes: 0 ok, 1 a check failed (e.g. drift
 * found, accuracy guard tripped), 2 usage or input error.
 */
import { buildProgram } from './program.js';

await buildProgram().parseAsync(process.argv);
