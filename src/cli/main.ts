/**
 * @module cli/main
 * The `berth` command: parses arguments with commander and dispatches to one module per
 * subcommand (`serve`, and later `quantize`, `profile`, `drift`, ...). Exit codes: 0 ok,
 * 1 a check failed (e.g. drift found), 2 usage or input error.
 */
import { Command } from 'commander';

export function buildProgram(): Command {
  const program = new Command('berth')
    .description('Production model deployment: serve ONNX models over the Open Inference Protocol')
    .version('0.1.0');
  return program;
}

await buildProgram().parseAsync(process.argv);
