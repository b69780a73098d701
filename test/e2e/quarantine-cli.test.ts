/**
 * Quarantine end to end with the real CLI: a broker with its admin API (--http) and a daemon,
 * both with a 1-hour horizon; a device whose clock is a day ahead. The operator lists, releases
 * and drops quarantined updates on each (`hamsync deferred --quarantined|release|drop|--log`),
 * `hamsync status` shows per-source counts, caps refuse whole messages on both sides, and the
 * admin API is loopback-only and refuses destructive requests not declared as JSON.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { encodePut } from '../../src/wire/codec.js';
import { api, cliJson, Harness, runCli, type Proc } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';

const DAY = 86_400_000;

interface Row {
  k: string;
  v: unknown;
  s: number;
  src: string;
  rx: number;
}

interface Status {
  role?: string;
  deferred: number;
  quarantined: number;
  queues: Record<string, { deferred: number; deferredBytes: number; quarantined: number; quarantinedBytes: number }>;
  queueLimits: Record<string, number>;
  counters: Record<string, number>;
}

async function listening(proc: Proc): Promise<Record<string, number>> {
  return proc.listening();
}

/** GET a route of a daemon's or broker's API (for polling; the CLI itself is exercised elsewhere). */
async function get<T>(http: string, route: string): Promise<T> {
  const res = await api(http, 'GET', route);
  assert.equal(res.status, 200, `${route} on ${http}: ${JSON.stringify(res.body)}`);
  return res.body as T;
}

test('CLI: list, release and drop quarantined updates on a running broker and daemon; caps on both', { timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  const limits = ['--max-future', '1h', '--deferred-max', '3', '--log-level', 'warn'];
  const hubDir = h.tempDir('hub');
  const broker = h.spawn('broker', ['broker', '--port', '0', '--host', '127.0.0.1', '--data-dir', hubDir, '--http', '127.0.0.1:0', '--quarantine-max', '4', ...limits]);
  const b = await listening(broker);
  assert.ok((b.http as number) > 0, `the broker printed its admin port: ${broker.stdout}`);
  const hub = `127.0.0.1:${b.http as number}`;
  const url = `mqtt://127.0.0.1:${b.port as number}`;
  const daemon = h.spawn('earth', ['daemon', '--id', 'earth', '--broker', url, '--data-dir', h.tempDir('earth'), '--http', '127.0.0.1:0', '--quarantine-max', '3', '--sync', 'peer', ...limits]);
  const dev = `127.0.0.1:${(await listening(daemon)).http as number}`;
  await until(async () => ((await api(dev, 'GET', '/v1/status')).body as { connected: boolean }).connected, { what: 'the daemon connected' });

  // A device whose clock is a day ahead, and one update it stamps 10 minutes ahead.
  const liar = await h.mqtt(url, 'liar');
  const now = Date.now();
  const send = (updates: { key: string; state: number; value: unknown }[]): Promise<unknown> =>
    liar.publishAsync('hamsync/default/put/liar', encodePut('liar', updates.map((u) => ({ key: u.key, state: u.state, text: JSON.stringify(u.value) }))), { qos: 1 });
  await send([
    { key: 'liar/gps/lat', state: now + DAY, value: 51.5 },
    { key: 'liar/gps/lon', state: now + DAY + 1, value: -0.1 },
    { key: 'liar/cpu/temp', state: now + 2 * DAY, value: 48 },
    { key: 'liar/soon', state: now + 600_000, value: 'in ten minutes' },
  ]);
  for (const http of [hub, dev]) {
    await until(async () => (await get<{ rows: Row[] }>(http, '/v1/quarantine')).rows.length === 3, { what: `3 quarantined on ${http}` });
  }

  // Listing, with selectors.
  const rows = await cliJson<Row[]>(['deferred', '--quarantined', '--http', hub, '--json']);
  assert.deepEqual(
    rows.map((r) => [r.k, r.v, r.s, r.src]),
    [
      ['liar/cpu/temp', 48, now + 2 * DAY, 'liar'],
      ['liar/gps/lat', 51.5, now + DAY, 'liar'],
      ['liar/gps/lon', -0.1, now + DAY + 1, 'liar'],
    ],
  );
  assert.ok(rows.every((r) => typeof r.rx === 'number' && r.rx >= now - 60_000));
  assert.deepEqual(
    (await cliJson<Row[]>(['deferred', '--quarantined', '--key', 'liar/gps/#', '--http', hub, '--json'])).map((r) => r.k),
    ['liar/gps/lat', 'liar/gps/lon'],
  );
  const human = await runCli(['deferred', '--quarantined', '--http', hub]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /liar\/gps\/lat = 51\.5 from liar, stamped .*Z/);
  const deferredHuman = await runCli(['deferred', '--http', hub]);
  assert.match(deferredHuman.stdout, /liar\/soon = "in ten minutes" from liar/);

  // Status, on both: per-source counts.
  await Promise.all(
    [hub, dev].map(async (http) => {
      const [s, text] = await Promise.all([cliJson<Status>(['status', '--http', http, '--json']), runCli(['status', '--http', http])]);
      assert.deepEqual(s.queues.liar && [s.queues.liar.deferred, s.queues.liar.quarantined], [1, 3], `status on ${http}`);
      assert.equal(s.quarantined, 3);
      assert.equal(s.queueLimits.maxFutureMs, 3_600_000);
      assert.equal(s.role, http === hub ? 'broker' : undefined);
      assert.match(text.stdout, /liar: 1 deferred \(\d+ bytes\), 3 quarantined/);
    }),
  );

  // Release and drop need a selector.
  const [release0, drop0, releaseBoth, dropBoth, badFilter, full] = await Promise.all([
    runCli(['deferred', 'release', '--http', hub]),
    runCli(['deferred', 'drop', '--http', hub]),
    runCli(['deferred', 'release', '--all', '--source', 'liar', '--http', hub]),
    runCli(['deferred', 'drop', '--all', '--key', '#', '--http', hub]),
    runCli(['deferred', 'drop', '--key', 'a/#/b', '--http', hub]),
    // Release on the hub bypasses the horizon, not the deferred cap (3 per source; 1 used).
    runCli(['deferred', 'release', '--all', '--http', hub]),
  ]);
  for (const r of [release0, drop0]) {
    assert.notEqual(r.code, 0, 'no selector: refused');
    assert.match(r.stderr, /HAMSYNC_ERR_CONFIG: .*--source ID, --key FILTER or --all/);
  }
  for (const r of [releaseBoth, dropBoth]) assert.match(r.stderr, /HAMSYNC_ERR_CONFIG: --all cannot be combined/);
  assert.notEqual(badFilter.code, 0);
  assert.match(badFilter.stderr, /HAMSYNC_ERR_CONFIG: key must be a key filter/);
  assert.notEqual(full.code, 0);
  assert.match(full.stderr, /HAMSYNC_ERR_DEFERRED_FULL: source liar has 1 deferred .* this release would add 3/);
  assert.deepEqual(await cliJson(['deferred', 'release', '--key', 'liar/gps/#', '--http', hub, '--json']), { released: 2, resolved: 0, deferred: 2, duplicates: 0 });
  assert.deepEqual(
    (await get<{ rows: Row[] }>(hub, '/v1/deferred')).rows.map((r) => r.k),
    ['liar/soon', 'liar/gps/lat', 'liar/gps/lon'],
  );
  // Drop on the hub: audited.
  const dropped = await runCli(['deferred', 'drop', '--source', 'liar', '--http', hub]);
  assert.equal(dropped.code, 0, dropped.stderr);
  assert.match(dropped.stdout, /dropped 1 quarantined updates/);
  const log = await cliJson<(Row & { action: string; at: number })[]>(['deferred', '--log', '--http', hub, '--json']);
  assert.deepEqual(
    log.map((e) => [e.action, e.k]),
    [
      ['drop', 'liar/cpu/temp'],
      ['release', 'liar/gps/lon'],
      ['release', 'liar/gps/lat'],
    ],
  );
  const hubStatus = await get<Status>(hub, '/v1/status');
  assert.deepEqual(hubStatus.queues.liar, { deferred: 3, deferredBytes: hubStatus.queues.liar?.deferredBytes, quarantined: 0, quarantinedBytes: 0 });
  assert.equal(hubStatus.counters['quarantine.released'], 2);
  assert.equal(hubStatus.counters['quarantine.dropped'], 1);

  // The daemon keeps its own quarantine: still 3 there. Drop them all, by --all.
  assert.equal((await get<{ rows: Row[] }>(dev, '/v1/quarantine')).rows.length, 3);
  assert.deepEqual(await cliJson(['deferred', 'drop', '--all', '--http', dev, '--json']), { dropped: 3 });
  assert.equal((await get<{ rows: Row[] }>(dev, '/v1/quarantine')).rows.length, 0);

  // Caps: the hub's deferred queue for liar is full (3): the next future message is refused whole
  // (acknowledged, not forwarded) while its due update goes nowhere either.
  await send([
    { key: 'liar/now', state: Date.now() - 1, value: 'due' },
    { key: 'liar/later', state: Date.now() + 60_000, value: 'later' },
  ]);
  await until(async () => (await get<Status>(hub, '/v1/status')).counters['rejected.HAMSYNC_ERR_DEFERRED_FULL'] === 1, { what: 'the hub refused it' });
  assert.equal((await api(hub, 'GET', '/v1/keys/liar%2Fnow')).status, 404, 'the broker admin API has no keys route');
  // Quarantine caps: 4 per source on the hub, 3 on the daemon. A message the hub refuses is not
  // forwarded; one it takes reaches the daemon, which applies its own cap to it.
  await send([1, 2, 3, 4, 5].map((i) => ({ key: `liar/q/${i}`, state: Date.now() + DAY, value: i })));
  await until(async () => (await get<Status>(hub, '/v1/status')).counters['rejected.HAMSYNC_ERR_QUARANTINE_FULL'] === 1, { what: 'the hub refused 5 into 4' });
  await send([1, 2, 3, 4].map((i) => ({ key: `liar/q/${i}`, state: Date.now() + DAY, value: i })));
  await until(async () => (await get<Status>(hub, '/v1/status')).quarantined === 4, { what: 'the hub quarantined 4' });
  await until(async () => (await get<Status>(dev, '/v1/status')).counters['rejected.HAMSYNC_ERR_QUARANTINE_FULL'] === 1, { what: 'the daemon refused 4 into 3' });
  assert.equal((await get<Status>(dev, '/v1/status')).quarantined, 0, 'nothing of it on the daemon');
  await send([{ key: 'liar/q/5', state: Date.now() + DAY, value: 5 }]);
  await until(async () => (await get<Status>(hub, '/v1/status')).counters['rejected.HAMSYNC_ERR_QUARANTINE_FULL'] === 2, { what: 'the hub refused the fifth' });

  // Destructive requests must be declared JSON (a web page cannot send that cross-origin without a preflight).
  for (const http of [hub, dev]) {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const [host, port] = http.split(':');
        const req = request({ host, port: Number(port), method: 'POST', path: '/v1/quarantine/drop', headers: { 'content-type': 'text/plain' } }, (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end('{"all":true}');
      }, reject);
    });
    assert.equal(res.status, 415, `${http}: ${res.body}`);
    assert.match(res.body, /HAMSYNC_ERR_MEDIA_TYPE/);
  }
  assert.equal((await get<Status>(hub, '/v1/status')).quarantined, 4, 'nothing was dropped');
  await h.stopAll();
});

test('CLI: the queue options are checked at start and in config files; the broker admin API beyond loopback needs TLS', { timeout: 30_000 }, async (t) => {
  const h = new Harness(t);
  const dir = h.tempDir('cfg');
  const cases: [string[], RegExp][] = [
    [['broker', '--port', '0', '--data-dir', dir, '--http', '0.0.0.0:0'], /HAMSYNC_ERR_CONFIG: the admin API on "0\.0\.0\.0" \(not a loopback address\) needs TLS/],
    [['broker', '--port', '0', '--data-dir', dir, '--max-future', 'soon'], /HAMSYNC_ERR_CONFIG: maxFuture must be a duration/],
    [['broker', '--port', '0', '--data-dir', dir, '--max-future', '0'], /HAMSYNC_ERR_CONFIG: maxFuture must be a positive duration/],
    [['broker', '--port', '0', '--data-dir', dir, '--deferred-max', '0'], /HAMSYNC_ERR_CONFIG: deferredMax must be a whole number >= 1, got 0/],
    [['daemon', '--id', 'x', '--data-dir', dir, '--http', '127.0.0.1:0', '--deferred-max-bytes', 'lots'], /HAMSYNC_ERR_CONFIG: deferredMaxBytes must be a size/],
    [['daemon', '--id', 'x', '--data-dir', dir, '--http', '127.0.0.1:0', '--quarantine-max', '-1'], /HAMSYNC_ERR_CONFIG: quarantineMax must be a whole number >= 0, got -1/],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  results.forEach((r, i) => {
    const [args, want] = cases[i] as [string[], RegExp];
    assert.notEqual(r.code, 0, `${args.join(' ')} must fail`);
    assert.match(r.stderr, want, args.join(' '));
  });
  const good = path.join(dir, 'good.yaml');
  fs.writeFileSync(good, 'dataDir: ./hub\nhttp: 127.0.0.1:7900\nmaxFuture: 7d\ndeferredMax: 500\ndeferredMaxBytes: 4MiB\nquarantineMax: 0\n');
  const ok = await runCli(['config', 'check', good, '--for', 'broker']);
  assert.equal(ok.code, 0, ok.stderr);
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'id: pi-7\nmaxFuture: 7d\nquarantineMax: -3\n');
  const no = await runCli(['config', 'check', bad, '--for', 'daemon']);
  assert.notEqual(no.code, 0);
  assert.match(no.stdout + no.stderr, /3.*quarantineMax.*-3/);
});
