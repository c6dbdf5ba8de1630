#!/usr/bin/env node
// Runs the test suite: Node 20's `node --test` neither globs nor loads .ts, so this
// script lists test files and runs them through tsx. Usage: node scripts/test.mjs [unit|integration|e2e|path...]
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const layers = ['unit', 'integration', 'e2e'];
let files = [];
if (args.length === 0) {
  for (const layer of layers) {
    try { files.push(...collect(join('test', layer))); } catch { /* layer may not exist yet */ }
  }
} else {
  for (const a of args) {
    if (layers.includes(a)) files.push(...collect(join('test', a)));
    else if (statSync(a).isDirectory()) files.push(...collect(a));
    else files.push(a);
  }
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files.map((f) => resolve(f))], {
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
