/**
 * @module bench/lib/args
 * The numeric `--name value` flags the small bench scripts take (the serving bench uses
 * commander). A flag without a number stops the script with a message naming it.
 */

/** The number after `name` in process.argv, else `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value)) throw new Error(`${name}: expected a number, got ${JSON.stringify(process.argv[i + 1] ?? null)}`);
  return value;
}
