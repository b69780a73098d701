/**
 * The dashboard's routes on the broker's admin API, without a browser: its files with their content
 * types and security headers, no traversal out of its file list, the event stream (events sent,
 * streams capped, a client that does not read disconnected), the key routes, and the cross-site
 * guards on the quarantine actions.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAdminApi } from '../../broker/admin-http.js';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import type { FleetSnapshot } from '../../broker/web/fleet-delta.js';
import { ProcessInfo } from '../../src/admin/process-info.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { EventReader, raw } from './http-client.js';

async function broker(t: { after(fn: () => unknown): void }, maxFutureMs?: number): Promise<RunningBroker & { httpPort: number }> {
  const dir = tempDir(t);
  const b = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), http: { host: '127.0.0.1', port: 0 }, ...(maxFutureMs === undefined ? {} : { replica: { maxFutureMs } }) });
  t.after(() => b.close());
  return b as RunningBroker & { httpPort: number };
}

test('the page and its files are served with their content types and security headers', async (t) => {
  const b = await broker(t);
  const cases: [string, RegExp, RegExp][] = [
    ['/', /^text\/html; charset=utf-8$/, /<script type="module" src="\/dashboard\/app.js">/],
    ['/dashboard/index.html', /^text\/html/, /drift dashboard/],
    ['/dashboard/app.js', /^text\/javascript; charset=utf-8$/, /from '.\/api.js'/],
    ['/dashboard/style.css', /^text\/css; charset=utf-8$/, /tr\.beyond/],
    ['/dashboard/vendor/uPlot.esm.js', /^text\/javascript/, /export \{ uPlot as default \}|export default/],
    ['/dashboard/vendor/uPlot.min.css', /^text\/css/, /\.uplot/],
  ];
  for (const [path, type, body] of cases) {
    const a = await raw(b.httpPort, 'GET', path);
    assert.equal(a.status, 200, `${path}: ${a.body.slice(0, 200)}`);
    assert.match(String(a.headers['content-type']), type, path);
    assert.match(a.body, body, path);
    assert.equal(a.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(a.headers['x-frame-options'], 'DENY', path);
    assert.match(String(a.headers['content-security-policy']), /default-src 'self'/, path);
  }
});

test('no path leaves the dashboard\'s file list: traversal, encoded dots, NUL, directories and unknown files are 404', async (t) => {
  const b = await broker(t);
  const attempts = [
    '/dashboard/../package.json',
    '/dashboard/%2e%2e/%2e%2e/package.json',
    '/dashboard/..%2f..%2f..%2fpackage.json',
    '/dashboard/%2e%2e%2f%2e%2e%2fbroker%2fserver.ts',
    '/dashboard/vendor/../../../../etc/passwd',
    '/dashboard/vendor/..%2f..%2fpackage.json',
    '/dashboard//etc/passwd',
    '/dashboard/%2fetc%2fpasswd',
    '/dashboard/app.js%00.png',
    '/dashboard/%E0%A4%A',
    '/dashboard/',
    '/dashboard/vendor/',
    '/dashboard/vendor/uPlot.d.ts',
    '/dashboard/vendor/package.json',
    '/dashboard/APP.JS',
    '/dashboard/app.js/',
  ];
  for (const path of attempts) {
    const a = await raw(b.httpPort, 'GET', path);
    assert.equal(a.status, 404, `${path} answered ${a.status}: ${a.body.slice(0, 120)}`);
    assert.match(a.body, /HAMSYNC_ERR_NOT_FOUND/, path);
    assert.doesNotMatch(a.body, /"name": "hamsync"|root:x:0|import /, `${path} leaked a file`);
  }
  // Only GET: a POST to a file is 405, and the page's files are not writable through the API.
  const post = await raw(b.httpPort, 'POST', '/dashboard/app.js', { type: 'application/json', body: '{}' });
  assert.equal(post.status, 405);
  assert.match(post.body, /HAMSYNC_ERR_METHOD/);
});

test('cross-site requests are refused: a foreign Host on the page and the stream, a POST not sent as JSON', async (t) => {
  const b = await broker(t, 60_000);
  for (const path of ['/', '/dashboard/app.js', '/v1/events', '/v1/keys']) {
    const a = await raw(b.httpPort, 'GET', path, { host: `evil.example:${b.httpPort}` });
    assert.equal(a.status, 403, path);
    assert.match(a.body, /HAMSYNC_ERR_HOST/, path);
  }
  const state = b.replica.now() + 3_600_000;
  b.replica.receive([{ key: 'liar/pos', value: 1, state, source: 'liar' }]);
  await b.replica.idle();
  assert.equal(b.replica.quarantined().length, 1);
  // What a form or a no-preflight fetch on another site can send: each refused before the body is read.
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const a = await raw(b.httpPort, 'POST', '/v1/quarantine/release', { type, body: '{"all":true}' });
    assert.equal(a.status, 415, type);
    assert.match(a.body, /HAMSYNC_ERR_MEDIA_TYPE/, type);
  }
  const rebound = await raw(b.httpPort, 'POST', '/v1/quarantine/drop', { type: 'application/json', body: '{"all":true}', host: 'evil.example' });
  assert.equal(rebound.status, 403);
  assert.equal(b.replica.quarantined().length, 1, 'nothing released or dropped');
  // The dashboard's own request (JSON, right Host) works.
  const ok = await raw(b.httpPort, 'POST', '/v1/quarantine/release', { type: 'application/json', body: JSON.stringify({ sources: ['liar'], keys: ['liar/pos'] }) });
  assert.equal(ok.status, 200, ok.body);
  assert.equal((JSON.parse(ok.body) as { released: number }).released, 1);
});

test('GET /v1/keys lists the live view by prefix, bounded; /v1/history/<key> has the outcomes', async (t) => {
  const b = await broker(t);
  const now = b.replica.now();
  b.replica.receive([
    { key: 'gps-1/position', value: { lat: 1 }, state: now - 10, source: 'gps-1' },
    { key: 'gps-1/speed', value: 3, state: now - 10, source: 'gps-1' },
    { key: 'earth/temp', value: 21, state: now - 10, source: 'earth' },
  ]);
  b.replica.receive([{ key: 'gps-1/speed', value: 2, state: now - 20, source: 'mars' }]);
  await b.replica.idle();
  const list = JSON.parse((await raw(b.httpPort, 'GET', '/v1/keys?prefix=gps-1%2F')).body) as { rows: { k: string; src: string }[]; more: boolean };
  assert.deepEqual(list.rows.map((r) => r.k), ['gps-1/position', 'gps-1/speed']);
  assert.equal(list.more, false);
  const one = JSON.parse((await raw(b.httpPort, 'GET', '/v1/keys?limit=1')).body) as { rows: { k: string }[]; more: boolean };
  assert.deepEqual([one.rows.map((r) => r.k), one.more], [['earth/temp'], true]);
  const bad = await raw(b.httpPort, 'GET', '/v1/keys?limit=100000');
  assert.equal(bad.status, 400);
  assert.match(bad.body, /HAMSYNC_ERR_CONFIG.*limit/);
  const history = JSON.parse((await raw(b.httpPort, 'GET', `/v1/history/${encodeURIComponent('gps-1/speed')}`)).body) as { rows: { src: string; outcome: string }[] };
  assert.deepEqual(history.rows.map((r) => [r.src, r.outcome]), [['mars', 'historical'], ['gps-1', 'applied']]);
});

test('the event stream: hello, a tick a second with the hub clock, changed keys, queue totals, and a deferred update applied', { timeout: 20_000 }, async (t) => {
  const b = await broker(t);
  const events = new EventReader(b.httpPort);
  t.after(() => events.close());
  const res = await events.response;
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  const hello = (await events.next('hello')) as { now: number; tickMs: number; deferred: number };
  assert.deepEqual([hello.tickMs, hello.deferred], [1000, 0]);
  assert.ok(Math.abs(hello.now - b.replica.now()) < 2000);
  const tick = (await events.next('tick')) as { now: number };
  assert.ok(tick.now >= hello.now);
  // A deferred update: the totals move, and once due it is reported as applied.
  const due = b.replica.now() + 1500;
  b.replica.receive([{ key: 'gps-1/position', value: { lat: 2 }, state: due, source: 'gps-1' }, { key: 'earth/temp', value: 20, state: b.replica.now() - 1, source: 'earth' }]);
  await events.next('keys', (d: { rows: { k: string }[] }) => d.rows.some((r) => r.k === 'earth/temp'));
  await events.next('queues', (d: { deferred: number }) => d.deferred === 1);
  const applied = (await events.next('applied')) as { rows: { k: string; s: number; src: string }[]; more: number };
  assert.deepEqual(applied, { rows: [{ k: 'gps-1/position', s: due, src: 'gps-1' }], more: 0 });
  await events.next('queues', (d: { deferred: number }) => d.deferred === 0);
  // Nothing is sent between ticks: every event after hello came in a tick, at most one of each name per tick.
  const ticks = events.events.filter((e) => e.event === 'tick').length;
  const queues = events.events.filter((e) => e.event === 'queues').length;
  assert.ok(queues <= ticks, `${queues} queues events in ${ticks} ticks`);
});

test('event streams are capped (503 HAMSYNC_ERR_STREAMS), and a client that does not read is disconnected', { timeout: 30_000 }, async (t) => {
  const b = await broker(t);
  // A second admin API on the same hub, with a small cap, a fast tick and a large fleet view.
  const big = 'x'.repeat(64 * 1024);
  const fleet = (): FleetSnapshot => ({ now: b.replica.now(), skewThresholdS: 2, devices: [{ id: big, online: true, lastSeen: null, skewS: null, gpsOffsetMs: null, deferred: 0, earliestDue: null, quarantined: 0, rateRefusals: 0 }], skewHistory: { t: [], series: {} } });
  const api = await startAdminApi({ host: '127.0.0.1', port: 0 }, b.hub, b.replica, silentLogger, { info: new ProcessInfo(), clients: () => 0, listening: () => true }, { events: { maxStreams: 2, tickMs: 10, maxBufferedBytes: 256 * 1024, fleet } });
  t.after(() => {
    api.server.closeAllConnections();
    return new Promise((r) => api.server.close(r));
  });
  const reading = new EventReader(api.port);
  const stalled = new EventReader(api.port, { pause: true });
  t.after(() => {
    reading.close();
    stalled.close();
  });
  await reading.next('hello');
  await stalled.response;
  const third = await raw(api.port, 'GET', '/v1/events');
  assert.equal(third.status, 503);
  assert.match(third.body, /HAMSYNC_ERR_STREAMS/);
  assert.equal(b.hub.counters.get('events.refused'), 1);
  // The stalled client's unsent bytes pile up (64 KiB a tick) until the server cuts it; the reader keeps up.
  await until(() => b.hub.counters.get('events.slow') === 1, { timeoutMs: 20_000, what: 'the server to cut the stalled stream' });
  stalled.resume();
  await until(() => stalled.ended, { what: 'the stalled client to see its stream end' });
  assert.equal(reading.ended, false, 'the client that reads stays connected');
  await reading.next('fleet');
  // Its place is free again.
  const again = new EventReader(api.port);
  t.after(() => again.close());
  await again.next('hello');
});

test('a fault in the fleet view costs its fleet event, not the stream or the broker', { timeout: 20_000 }, async (t) => {
  const b = await broker(t);
  let calls = 0;
  const fleet = (): FleetSnapshot => {
    calls++;
    if (calls === 1) throw new Error('boom');
    return { now: b.replica.now(), skewThresholdS: 2, devices: [], skewHistory: { t: [], series: {} } };
  };
  const api = await startAdminApi({ host: '127.0.0.1', port: 0 }, b.hub, b.replica, silentLogger, { info: new ProcessInfo(), clients: () => 0, listening: () => true }, { events: { tickMs: 50, fleet } });
  t.after(() => {
    api.server.closeAllConnections();
    return new Promise((r) => api.server.close(r));
  });
  const events = new EventReader(api.port);
  t.after(() => events.close());
  await events.next('fleet');
  assert.equal(b.hub.counters.get('events.fleet-failed'), 1);
  const firstFleet = events.events.findIndex((e) => e.event === 'fleet');
  assert.ok(events.events.slice(0, firstFleet).filter((e) => e.event === 'tick').length >= 2, 'the failed tick still sent its tick');
});
