/**
 * Rewrites the generated reference tables in docs/ from the code (errors, metrics,
 * configuration). Run with `npm run docs`; `--check` exits 1 when a page is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fillPage, generatedSections } from '../src/docs/reference.js';

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, sections] of Object.entries(await generatedSections())) {
  const page = readFileSync(file, 'utf8');
  const next = fillPage(page, sections);
  if (next === page) continue;
  stale += 1;
  if (check) console.error(`${file} is out of date: run npm run docs`);
  else writeFileSync(file, next);
}
process.exitCode = check && stale > 0 ? 1 : 0;
