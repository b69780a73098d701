import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { startBroker } from '../../broker/server.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

/** A throwaway self-signed certificate for localhost/127.0.0.1 (its own CA): `<name>.key`, `<name>.pem`. */
function selfSigned(dir: string, name: string): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { key, cert };
}


test('MQTT over WebSocket: a daemon on ws:// syncs through the hub, a plain ws subscriber sees the state', async (t) => {
  const dir = tempDir(t);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', wsPort: 0, dataDir: join(dir, 'hub') });
  assert.ok(broker.wsPort && broker.wsPort > 0);
  const daemon = await Daemon.start({ id: 'ws-dev', broker: `ws://127.0.0.1:${broker.wsPort}`, dataDir: join(dir, 'dev'), http: '127.0.0.1:0' });
  const sub = await mqtt.connectAsync(`ws://127.0.0.1:${broker.wsPort}`, { clientId: 'ws-observer' });
  t.after(async () => {
    await sub.endAsync();
    await daemon.stop();
    await broker.close();
  });
  const seen: string[] = [];
  sub.on('message', (_topic, payload) => seen.push(payload.toString()));
  await sub.subscribeAsync('hamsync/default/state/#', { qos: 1 });
  await daemon.put([{ key: 'ws/hello', value: 'over websocket' }]);
  await until(() => seen.some((p) => (JSON.parse(p) as { v: unknown }).v === 'over websocket'), { what: 'state over ws' });
  assert.equal(broker.replica.get('ws/hello')?.value, 'over websocket');
});

test('mqtts://: a daemon verifies the broker against --ca and syncs over TLS', { skip: skipUnlessTools('openssl') }, async (t) => {
  const dir = tempDir(t);
  const { key, cert } = selfSigned(dir, 'broker');
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub') });
  const tls: Server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (s) => broker.aedes.handle(s));
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  const port = (tls.address() as AddressInfo).port;
  const daemon = await Daemon.start({ id: 'tls-dev', broker: `mqtts://localhost:${port}`, ca: cert, dataDir: join(dir, 'dev'), http: '127.0.0.1:0' });
  // Stop in dependency order: the daemon, then the TLS listener (it waits for its connections), then the broker.
  t.after(async () => {
    await daemon.stop();
    await new Promise((r) => tls.close(r));
    await broker.close();
  });
  await daemon.put([{ key: 'tls/hello', value: 42 }]);
  await until(() => broker.replica.get('tls/hello')?.value === 42, { what: 'hub stored the TLS put' });
  await until(() => (daemon.status().outbox as { messages: number }).messages === 0, { what: 'outbox drained' });
});

// Issue 14 item 10: the test above still passed with rejectUnauthorized: false in the daemon's link.
// Here the broker presents a certificate from another CA: the daemon must never get a TLS session.
test('mqtts://: a daemon never connects to a broker whose certificate is not from its --ca', { skip: skipUnlessTools('openssl') }, async (t) => {
  const dir = tempDir(t);
  const trusted = selfSigned(dir, 'trusted');
  const other = selfSigned(dir, 'other');
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub') });
  let attempts = 0;
  let sessions = 0;
  const tlsErrors: string[] = [];
  const tls: Server = createServer({ key: readFileSync(other.key), cert: readFileSync(other.cert) }, (s) => {
    sessions++;
    broker.aedes.handle(s);
  });
  tls.on('connection', () => attempts++);
  tls.on('tlsClientError', (err) => tlsErrors.push(err.message));
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  const port = (tls.address() as AddressInfo).port;
  const daemon = await Daemon.start({ id: 'tls-dev', broker: `mqtts://localhost:${port}`, ca: trusted.cert, dataDir: join(dir, 'dev'), http: '127.0.0.1:0' });
  t.after(async () => {
    await daemon.stop();
    await new Promise((r) => tls.close(r));
    await broker.close();
  });
  await daemon.put([{ key: 'tls/secret', value: 'not for an impostor' }]);
  // A definite signal: the broker side saw three handshakes refused by the daemon (it retries).
  await until(() => tlsErrors.length >= 3 || sessions > 0, { what: 'three refused TLS handshakes', timeoutMs: 30_000 });
  assert.equal(sessions, 0, 'no TLS session was ever established');
  assert.ok(attempts >= 3, `${attempts} connection attempts`);
  // The daemon drops the socket once it has checked the certificate: the broker sees "socket hang up".
  assert.ok(tlsErrors.length >= 3, `handshakes ended by the daemon: ${JSON.stringify(tlsErrors)}`);
  assert.equal(daemon.status().connected, false);
  assert.equal((daemon.status().counters as Record<string, number>)['link.connects'], undefined, 'never connected');
  assert.equal((daemon.status().outbox as { messages: number }).messages, 1, 'the put waits in the outbox');
  assert.equal(broker.replica.get('tls/secret'), undefined);
});

test('a daemon whose broker is gone still stops within seconds, keeping its unsent puts in the outbox', async (t) => {
  const dir = tempDir(t);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub') });
  const daemon = await Daemon.start({ id: 'orphan', broker: `mqtt://127.0.0.1:${broker.port}`, dataDir: join(dir, 'dev'), http: '127.0.0.1:0' });
  await until(() => daemon.status().connected === true, { what: 'connected' });
  await daemon.put([{ key: 'o/1', value: 1 }]);
  await until(() => broker.replica.get('o/1') !== undefined, { what: 'first put at the hub' });
  await broker.close();
  await daemon.put([{ key: 'o/2', value: 2 }]);
  const started = Date.now();
  await daemon.stop();
  assert.ok(Date.now() - started < 3000, `stop took ${Date.now() - started} ms`);
  const { Replica } = await import('../../src/index.js');
  const r = await Replica.open({ dataDir: join(dir, 'dev') });
  t.after(() => r.close());
  assert.equal(r.outbox().size().updates, 1, 'the put made while the broker was gone waits in the outbox');
});

test('a full outbox refuses new local puts with a clear error (HTTP 503) and drops nothing', async (t) => {
  const dir = tempDir(t);
  // A port nothing listens on: the device is offline from the start.
  const { createServer } = await import('node:net');
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const daemon = await Daemon.start({ id: 'sat-1', broker: `mqtt://127.0.0.1:${port}`, dataDir: join(dir, 'sat'), http: '127.0.0.1:0', outboxMax: 5 });
  t.after(() => daemon.stop());
  await daemon.put([1, 2, 3].map((i) => ({ key: `sat-1/t/${i}`, value: i })));
  await assert.rejects(() => daemon.put([4, 5, 6].map((i) => ({ key: `sat-1/t/${i}`, value: i }))), (err: Error & { code?: string }) => err.code === 'HAMSYNC_ERR_OUTBOX_FULL' && /holds 3 updates.*limit is 5/.test(err.message));
  assert.equal(daemon.replica.get('sat-1/t/4'), undefined, 'nothing of a refused put is stored');
  await daemon.put([4, 5].map((i) => ({ key: `sat-1/t/${i}`, value: i })));
  const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/v1/put`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ k: 'sat-1/t/6', v: 6 }) });
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'HAMSYNC_ERR_OUTBOX_FULL');
  const status = daemon.status() as { outbox: { updates: number }; outboxMax: number; counters: Record<string, number> };
  assert.deepEqual([status.outbox.updates, status.outboxMax], [5, 5]);
  assert.equal(status.counters['updates.refused-outbox-full'], 4);
});
