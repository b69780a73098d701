/**
 * Device failover (issue 12 item 4): a daemon given `--broker A --broker B` moves to B when A
 * goes away, and back to A when B does, resuming A's feed from its stored position. The two
 * brokers are separate hubs (no Redis): a put that A acknowledged before it went is on A (its
 * data dir), every other one goes to B; none is lost.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { daemonConfig } from '../../src/daemon/options.js';
import { api, runCli } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const HOST = '127.0.0.1';
const url = (b: RunningBroker): string => `mqtt://${HOST}:${b.port}`;

test('--broker is repeatable: one URL or a list, duplicates dropped, every URL checked', () => {
  const base = { id: 'pi-1', dataDir: '/tmp/x' };
  assert.deepEqual(daemonConfig({ ...base, broker: 'mqtt://a:1883' }).brokers, ['mqtt://a:1883']);
  const c = daemonConfig({ ...base, broker: ['mqtts://a:8883', 'wss://b:443/mqtt', 'mqtts://a:8883'] });
  assert.deepEqual(c.brokers, ['mqtts://a:8883', 'wss://b:443/mqtt']);
  assert.equal(c.broker, 'mqtts://a:8883');
  assert.throws(() => daemonConfig({ ...base, broker: ['mqtt://a:1883', 'http://b'] }), { code: 'HAMSYNC_ERR_CONFIG' });
  assert.throws(() => daemonConfig({ ...base, broker: [] }), { code: 'HAMSYNC_ERR_CONFIG' });
});

test('a daemon with two brokers fails over to the second, loses no acknowledged put, and resumes the first one\'s feed when it moves back', { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t);
  let a: RunningBroker | undefined = await startBroker({ port: 0, host: HOST, dataDir: join(dir, 'a') });
  let b: RunningBroker | undefined = await startBroker({ port: 0, host: HOST, dataDir: join(dir, 'b') });
  const portA = a.port;
  const urlA = url(a);
  const urlB = url(b);
  const hubA = a.hub.sync.status().hub;
  const daemon = await Daemon.start({ id: 'pi-1', broker: [urlA, urlB], dataDir: join(dir, 'pi-1'), http: `${HOST}:0`, sync: 'hub', reconnectMin: '50ms', reconnectMax: '400ms' });
  t.after(async () => {
    await daemon.stop();
    await a?.close();
    await b?.close();
  });
  const http = `${HOST}:${daemon.httpPort}`;
  const status = async (): Promise<{ broker: string; brokers?: string[]; connected: boolean; sync: { hub: { id: string } | null; last: string | null; position: number | null } }> =>
    (await api(http, 'GET', '/v1/status')).body as never;
  await until(async () => (await status()).sync.hub?.id === hubA, { what: 'the feed of A' });
  assert.equal((await status()).broker, urlA);
  assert.deepEqual((await status()).brokers, [urlA, urlB]);

  // A writer puts through the HTTP API all along; the ledger holds every key it acknowledged.
  const ledger: string[] = [];
  let writing = true;
  let n = 0;
  const writer = (async () => {
    while (writing && n < 5000) {
      const key = `pi-1/k${n++}`;
      const r = await api(http, 'POST', '/v1/put', { k: key, v: n });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      ledger.push(key);
    }
  })();
  await until(() => a?.replica.get('pi-1/k20'), { what: 'puts reaching A' });
  await a.close(); // A goes away mid-stream
  a = undefined;
  await until(async () => (await status()).broker === urlB && (await status()).connected, { what: 'the daemon on B', timeoutMs: 15_000 });
  const onB = ledger.length;
  await until(() => ledger.length >= onB + 20, { what: '20 more puts' });
  writing = false;
  await writer;
  await until(() => daemon.status().outbox && (daemon.status().outbox as { updates: number }).updates === 0, { what: 'the outbox empty (all acknowledged by B)' });
  const shown = await runCli(['status', '--http', http]);
  assert.match(shown.stdout, new RegExp(`broker +${urlB.replace(/[.]/g, '\\.')} — connected`));

  // A comes back on its port with its data; B goes: the daemon moves back to A and resumes A's feed.
  a = await startBroker({ port: portA, host: HOST, dataDir: join(dir, 'a') });
  assert.equal(a.hub.sync.status().hub, hubA);
  const resumed = daemon.counters.get('sync.resumed');
  const snapshots = daemon.counters.get('sync.snapshots');
  await b.close();
  const bDir = join(dir, 'b');
  b = undefined;
  await until(async () => {
    const s = await status();
    return s.broker === urlA && s.connected && s.sync.hub?.id === hubA && daemon.counters.get('sync.resumed') > resumed;
  }, { what: 'the daemon back on A, resuming its feed', timeoutMs: 15_000 });
  assert.equal((await status()).sync.last, 'resume');
  assert.equal(daemon.counters.get('sync.snapshots'), snapshots, 'no snapshot from A');

  // The ledger: each acknowledged put is on A (acknowledged there before it went) or on B; none lost.
  b = await startBroker({ port: 0, host: HOST, dataDir: bDir });
  const lost = ledger.filter((k) => !a?.replica.get(k) && !b?.replica.get(k));
  const onlyOnA = ledger.filter((k) => !b?.replica.get(k)).length;
  t.diagnostic(`${ledger.length} puts acknowledged by the HTTP API; ${onlyOnA} acknowledged by A before it went, the rest on B; lost ${lost.length}`);
  assert.deepEqual(lost, []);
  assert.ok(ledger.slice(onB).every((k) => b?.replica.get(k)), 'every put after the move is on B');
});

test('each broker URL keeps its own transport: a dead mqtt:// URL, then a ws:// one', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const hub = await startBroker({ port: 0, wsPort: 0, host: HOST, dataDir: join(dir, 'hub') });
  // A port that takes connections and drops them at once (held, so no other test can take it).
  const dead = net.createServer((socket) => socket.destroy());
  await new Promise<void>((r) => dead.listen(0, HOST, r));
  const deadUrl = `mqtt://${HOST}:${(dead.address() as net.AddressInfo).port}`;
  const wsUrl = `ws://${HOST}:${String(hub.wsPort)}/mqtt`;
  const daemon = await Daemon.start({ id: 'pi-2', broker: [deadUrl, wsUrl], dataDir: join(dir, 'pi-2'), http: `${HOST}:0`, reconnectMin: '50ms', reconnectMax: '200ms' });
  t.after(async () => {
    await daemon.stop();
    await hub.close();
    await new Promise((r) => dead.close(r));
  });
  await until(() => daemon.status().connected && daemon.status().broker === wsUrl, { what: 'the daemon on the ws:// URL' });
  await daemon.put([{ key: 'pi-2/x', value: 1 }]);
  await until(() => hub.replica.get('pi-2/x'), { what: 'the put on the hub, through WebSocket' });
});
