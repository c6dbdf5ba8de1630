/**
 * @module dashboard/assets
 * Finds and loads the dashboard's static files once, at start-up: the page's own files in
 * `src/dashboard/public/` (plain ES modules, CSS, an icon: served as written, no build step)
 * and uPlot's dist files from `node_modules/uplot`. All are kept in memory under one build
 * id (a hash of their bytes), so the page can load them from `/dashboard/<build>/…` and the
 * browser may cache them forever.
 *
 * Where `public/` is: the server runs from `src/` (tests, tsx) or from `dist/` (npm start),
 * and tsc copies no .js/.css into `dist/`, so the folder is found from the package root:
 * climb from this file to the nearest `package.json`, then `src/dashboard/public`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  /** Path below `/dashboard/<build>/`, e.g. `main.js`, `vendor/uPlot.esm.js`. */
  path: string;
  contentType: string;
  body: Buffer;
  etag: string;
}

export interface AssetBundle {
  /** Short hash over every asset: changes whenever any file does. */
  build: string;
  /** URL prefix of the assets, `/dashboard/<build>/`. */
  base: string;
  assets: Map<string, Asset>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

/** The uPlot files the page uses, from the package's dist folder. */
const UPLOT_FILES = ['uPlot.esm.js', 'uPlot.min.css'];

/** The nearest directory at or above `start` that holds a package.json. */
export function packageRoot(start: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}: cannot find the dashboard's files`);
  }
}

export function publicDir(root: string = packageRoot()): string {
  return join(root, 'src', 'dashboard', 'public');
}

function uplotDir(): string {
  // The package's main entry is dist/uPlot.cjs.js; its siblings are what the browser loads.
  return dirname(createRequire(import.meta.url).resolve('uplot'));
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFiles(full, `${prefix}${name}/`));
    else if (CONTENT_TYPES[extname(name)] !== undefined) out.push(`${prefix}${name}`);
  }
  return out;
}

/** Reads every asset; throws with the path when a file is missing. */
export function loadAssets(dir: string = publicDir()): AssetBundle {
  const files: { path: string; full: string }[] = listFiles(dir).map((p) => ({ path: p, full: join(dir, p) }));
  const vendor = uplotDir();
  for (const f of UPLOT_FILES) files.push({ path: `vendor/${f}`, full: join(vendor, f) });
  const all = createHash('sha256');
  const assets = new Map<string, Asset>();
  for (const f of files) {
    const body = readFileSync(f.full);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    all.update(f.path).update('\0').update(etag);
    assets.set(f.path, { path: f.path, contentType: CONTENT_TYPES[extname(f.path)]!, body, etag });
  }
  const build = all.digest('hex').slice(0, 12);
  return { build, base: `/dashboard/${build}/`, assets };
}
