/**
 * Issue 14 items 3 and 4: a daemon whose login is refused keeps trying (capped exponential
 * backoff) and logs in once `hamsync user add` created its user; `status` shows the last
 * connection error and the next try; an outage logs state changes, not one line per attempt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { startBroker } from '../../broker/server.js';
import { Daemon } from '../../src/daemon/daemon.js';
import type { LinkStatus } from '../../src/daemon/reconnect.js';
import { recordingLogger } from '../devices/helpers.js';
import { api, runCli } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const CAP_MS = 800;

test('a daemon refused at login retries with backoff; after `hamsync user add` it logs in within the cap; status shows the error and the next try', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const usersFile = join(dir, 'users.json');
  const first = await runCli(['user', 'add', 'someone-else', '--role', 'device', '--users', usersFile, '--password', 'pw-other']);
  assert.equal(first.code, 0, first.stderr);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile } });
  const log = recordingLogger();
  const daemon = await Daemon.start(
    { id: 'pi-9', broker: `mqtt://127.0.0.1:${broker.port}`, dataDir: join(dir, 'pi-9'), http: '127.0.0.1:0', username: 'pi-9', password: 'pw-pi-9', reconnectMin: '100ms', reconnectMax: `${CAP_MS}ms` },
    log,
  );
  t.after(async () => {
    await daemon.stop();
    await broker.close();
  });

  // Refused (CONNACK 4, no such user) several times: it keeps trying, and says why.
  await until(() => daemon.counters.get('link.refused') >= 3, { what: '3 refused logins', timeoutMs: 15_000 });
  const http = `127.0.0.1:${daemon.httpPort}`;
  const status = (await api(http, 'GET', '/v1/status')).body as { connected: boolean; link: LinkStatus };
  assert.equal(status.connected, false);
  assert.match(status.link.lastError?.message ?? '', /refused/i);
  assert.ok(status.link.failedAttempts >= 3, JSON.stringify(status.link));
  const shown = await runCli(['status', '--http', http]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /NOT connected/);
  assert.match(shown.stdout, /last error at .*refused/i);
  assert.match(shown.stdout, /next try +(in \d+ s|now)/);

  // The operator adds the user; the broker reloads its users file at the next CONNECT.
  const added = await runCli(['user', 'add', 'pi-9', '--role', 'device', '--users', usersFile, '--password', 'pw-pi-9']);
  assert.equal(added.code, 0, added.stderr);
  const t0 = Date.now();
  await until(() => daemon.status().connected, { what: 'the daemon to log in', timeoutMs: 10_000, intervalMs: 20 });
  const took = Date.now() - t0;
  t.diagnostic(`logged in ${took} ms after \`hamsync user add\` (cap ${CAP_MS} ms)`);
  // Within one capped delay (+20 % jitter) plus the login itself (scrypt) and the poll.
  assert.ok(took < CAP_MS * 1.2 + 2000, `logged in ${took} ms after user add`);
  assert.equal((daemon.status().link as LinkStatus).lastError !== null, true);
  assert.ok(log.entries.some((e) => e.msg === 'broker reachable again'), 'the recovery is logged');
  // And it works: a put reaches the hub.
  await daemon.put([{ key: 'pi-9/up', value: 1 }]);
  await until(() => broker.replica.get('pi-9/up'), { what: 'the put on the hub' });
});

test('an outage logs state changes and a summary, not one line per reconnect attempt', { timeout: 60_000 }, async (t) => {
  // A port with nothing listening: every attempt is refused at once.
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  const dir = tempDir(t);
  const log = recordingLogger();
  const daemon = await Daemon.start({ id: 'sat-1', broker: `mqtt://127.0.0.1:${port}`, dataDir: join(dir, 'sat-1'), http: '127.0.0.1:0', reconnectMin: '5ms', reconnectMax: '20ms' }, log);
  t.after(() => daemon.stop());
  const ATTEMPTS = 40;
  await until(() => daemon.counters.get('link.attempts') >= ATTEMPTS, { what: `${ATTEMPTS} connection attempts`, timeoutMs: 20_000 });
  const linkLines = log.entries.filter((e) => e.level !== 'debug' && !['daemon started', 'telemetry source started'].includes(e.msg));
  // One "cannot connect" line for the whole outage (the error did not change); no summary yet (5 min).
  assert.ok(linkLines.length <= 2, `${linkLines.length} log lines over ${daemon.counters.get('link.attempts')} attempts: ${JSON.stringify(linkLines.slice(0, 5))}`);
  assert.equal(linkLines[0]?.msg, 'cannot connect to the broker; working offline, retrying with backoff');
  assert.match(String(linkLines[0]?.fields.err), /ECONNREFUSED/);
  assert.ok(daemon.counters.get('link.failed') >= ATTEMPTS - 1);
});
