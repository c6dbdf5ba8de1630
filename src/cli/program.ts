/**
 * @module cli/program
 * Builds the `berth` commander program. Each subcommand lives in its own module under
 * `src/cli/` and exports a `register…Command(program)` function that this file calls.
 */
import { Command } from 'commander';
import { registerServeCommand } from './serve.js';
import { registerQuantizeCommand } from './quantize.js';
import { registerDriftCommands } from './drift.js';
import { registerReferenceCommand } from './reference.js';
import { registerDemoCommand } from './demo.js';
import { registerAlertsCommand } from './alerts.js';
import { registerBackgroundCommand } from './background.js';

export function buildProgram(): Command {
  const program = new Command('berth')
    .description('Production model deployment: serve ONNX models over the Open Inference Protocol')
    .version('0.1.0')
    .showHelpAfterError();
  registerServeCommand(program);
  registerQuantizeCommand(program);
  registerDriftCommands(program);
  registerReferenceCommand(program);
  registerDemoCommand(program);
  registerAlertsCommand(program);
  registerBackgroundCommand(program);
  return program;
}
