import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HamsyncError, describe } from '../../src/errors.js';
import type { Route } from '../../src/admin/http-kit.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Headers on every dashboard file: no sniffing, no framing (the buttons act), scripts and styles from here only. */
const HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
};

/** uPlot's files, served at /dashboard/vendor/<name> from the installed `uplot` package. */
const VENDOR = ['uPlot.esm.js', 'uPlot.min.css'];

interface File {
  type: string;
  body: Buffer;
}

/**
 * Where the dashboard's files are: the sources in a checkout (broker/dashboard, beside dist/), else
 * the copy `npm run build` puts in dist/broker/dashboard (an installed package has only that).
 */
export function dashboardDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../../broker/dashboard'), path.resolve(here, '../dashboard')];
  const found = candidates.find((d) => existsSync(path.join(d, 'index.html')));
  if (found === undefined) throw new HamsyncError('HAMSYNC_ERR_FILE', `the dashboard's files are missing (looked in ${candidates.join(' and ')}); rebuild with npm run build`, { field: 'dashboard' });
  return found;
}

/**
 * Reads every file the dashboard serves, once: the files of `dir` with a known type, and uPlot's.
 * A request can only name one of these (no path is ever joined from a request: no traversal).
 */
export function loadDashboard(dir = dashboardDir()): Map<string, File> {
  const files = new Map<string, File>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type !== undefined) files.set(name, { type, body: readFileSync(path.join(dir, name)) });
  }
  const uplot = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  for (const name of VENDOR) files.set(`vendor/${name}`, { type: TYPES[path.extname(name)] as string, body: readFileSync(path.join(uplot, name)) });
  return files;
}

/** GET / (the dashboard's page) and GET /dashboard/<file>. */
export function dashboardRoutes(files: ReadonlyMap<string, File> = loadDashboard()): Route[] {
  const serve = (name: string, res: import('node:http').ServerResponse): void => {
    const file = files.get(name);
    if (file === undefined) throw new HamsyncError('HAMSYNC_ERR_NOT_FOUND', `no such dashboard file: ${describe(name)}`);
    res.writeHead(200, { ...HEADERS, 'content-type': file.type, 'content-length': file.body.length });
    res.end(file.body);
  };
  return [
    { method: 'GET', path: '/', handle: ({ res }) => serve('index.html', res) },
    { method: 'GET', path: '/dashboard/*', handle: ({ res, url }) => serve(decodeName(url.pathname.slice('/dashboard/'.length)), res) },
  ];
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HamsyncError('HAMSYNC_ERR_NOT_FOUND', `no such dashboard file: ${describe(raw)}`);
  }
}
