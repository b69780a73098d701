/**
 * The drift dashboard in a real browser: headless Chromium (Debian's, through playwright-core)
 * against a running broker with three devices, one of whose clocks runs 3 s fast. The fleet table
 * highlights it, the skew plot has one line per device, its deferred update counts down and moves
 * to "applied", the release button takes an update out of quarantine, and the console stays clean.
 * The page is saved as a screenshot: docs/dashboard.png with HAMSYNC_UPDATE_SCREENSHOTS=1 (for the
 * README), else in a temp dir.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startBroker } from '../../broker/server.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { withTimeout } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

/** The page's `document`, as the functions run in it use it (this project compiles without the DOM types). */
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(selector: string): PageElement | null; querySelectorAll(selector: string): Iterable<PageElement> & { length: number } };

const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));
const AHEAD_MS = 3000;

/** A fresh headless Chromium with its own profile directory (removed with the test's temp dirs). */
async function browser(t: { after(fn: () => unknown): void }): Promise<BrowserContext> {
  const profile = tempDir(t);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: 60_000,
    viewport: { width: 1280, height: 1100 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Bounded: a browser that does not close fails the test; playwright kills it when this process exits.
  t.after(() => withTimeout(context.close(), 20_000, 'Chromium to close'));
  return context;
}

/** Every console error and uncaught page error, with where it came from. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

async function json<T>(port: number, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  assert.equal(res.status, 200, path);
  return (await res.json()) as T;
}

test('the dashboard in Chromium: drifted device highlighted, one skew line per device, a deferred update counts down to applied, release from quarantine, no console error', { skip: skipUnlessTools('chromium'), timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), http: { host: '127.0.0.1', port: 0 }, replica: { maxFutureMs: 60_000 } });
  t.after(() => broker.close());
  const http = broker.httpPort as number;
  const devices: Record<string, Daemon> = {};
  t.after(async () => {
    for (const d of Object.values(devices)) await d.stop();
  });
  for (const [id, offset] of [['earth', 0], ['mars', 0], ['gps-1', AHEAD_MS]] as const) {
    devices[id] = await Daemon.start({ id, broker: `mqtt://127.0.0.1:${broker.port}`, dataDir: join(dir, id), http: '127.0.0.1:0', clockOffset: `${offset}ms` });
  }
  // Each device puts once, so that the hub sees its clock (the skew estimate is per put message).
  for (const [id, d] of Object.entries(devices)) await d.put([{ key: `${id}/hello`, value: 'hi' }]);
  await until(async () => (await json<{ devices: { id: string; skewS: number | null }[] }>(http, '/v1/fleet')).devices.filter((d) => d.skewS !== null).length === 3, { what: 'the hub to estimate three clocks' });

  const context = await browser(t);
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`http://127.0.0.1:${http}/`);

  // The fleet table: three devices, gps-1 (3 s ahead, over the 2 s threshold) highlighted, the others not.
  await page.waitForSelector('#fleet-table tbody tr[data-device="gps-1"].beyond');
  const rows = await page.$$eval('#fleet-table tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-device'), tr.classList.contains('beyond')]));
  assert.deepEqual(new Map(rows as [string, boolean][]), new Map([['earth', false], ['mars', false], ['gps-1', true]]));
  // Sortable: by device, ascending.
  await page.click('#fleet-table th[data-key="id"]');
  assert.deepEqual(await page.$$eval('#fleet-table tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-device'))), ['earth', 'gps-1', 'mars']);

  // The skew plot: one line per device (uPlot's legend lists the x series first).
  await page.waitForFunction(() => document.querySelectorAll('#skew-plot .u-legend .u-series').length === 4);
  const labels = await page.$$eval('#skew-plot .u-legend .u-series .u-label', (ls) => ls.map((l) => l.textContent));
  assert.deepEqual(labels.slice(1), ['earth', 'gps-1', 'mars']);

  // A deferred update: gps-1 writes its position, stamped 3 s ahead; the page counts down, then moves it to "applied".
  await devices['gps-1']?.put([{ key: 'gps-1/position', value: { lat: 48.0012, lon: 7.8523, fix: '3d' } }]);
  const countdown = '#deferred-table tbody tr[data-key="gps-1/position"] td.countdown';
  await page.waitForSelector(countdown, { timeout: 10_000 });
  const seconds = async (): Promise<number> => Number.parseFloat((await page.textContent(countdown)) ?? 'NaN');
  const first = await seconds();
  assert.ok(first > 0 && first <= AHEAD_MS / 1000, `counts down from ${first} s`);
  await page.waitForFunction(([sel, from]) => Number.parseFloat(document.querySelector(sel as string)?.textContent ?? 'NaN') <= (from as number) - 0.4, [countdown, first] as const);
  await page.screenshot({ path: join(process.env.HAMSYNC_UPDATE_SCREENSHOTS === '1' ? DOCS : dir, 'dashboard.png'), fullPage: true });
  await page.waitForSelector('#applied-table tbody tr[data-key="gps-1/position"][data-outcome="applied"]', { timeout: 15_000 });
  assert.equal(await page.$(countdown), null, 'no longer waiting');
  assert.equal(broker.replica.get('gps-1/position')?.source, 'gps-1');

  // Quarantine: an update stamped an hour ahead (beyond the 60 s horizon); released with its button.
  broker.replica.receive([{ key: 'liar/position', value: { lat: 0 }, state: broker.replica.now() + 3_600_000, source: 'liar' }]);
  const held = '#quarantine-table tbody tr[data-key="liar/position"]';
  await page.waitForSelector(held);
  await page.click(`${held} button.release`);
  await page.waitForSelector(held, { state: 'detached' });
  assert.match((await page.textContent('#quarantine-note')) ?? '', /released 1 update\(s\) of liar\/position from liar: 0 resolved now, 1 deferred/);
  assert.deepEqual((await json<{ rows: unknown[] }>(http, '/v1/quarantine')).rows, []);
  assert.deepEqual((await json<{ rows: { k: string; src: string }[] }>(http, '/v1/deferred')).rows.map((r) => [r.k, r.src]), [['liar/position', 'liar']]);

  // Keys: filter by prefix, pick a key, see its history with outcomes.
  await page.fill('#key-prefix', 'gps-1/');
  await page.waitForFunction(() => [...document.querySelectorAll('#keys-table tbody tr')].map((tr) => tr.getAttribute('data-key')).join(',') === 'gps-1/hello,gps-1/position');
  await page.click('#keys-table tbody tr[data-key="gps-1/position"]');
  await page.waitForSelector('#history-table tbody tr[data-outcome="applied"]');
  assert.match((await page.textContent('#history-table tbody')) ?? '', /applied \(was deferred\)/);

  await page.close();
  assert.deepEqual(errors, [], 'no console error');
});
