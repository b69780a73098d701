/** /healthz and /readyz on the broker admin API and the daemon HTTP API flip with the store, the broker and the outbox. */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAdminApi } from '../../broker/admin-http.js';
import { Hub } from '../../broker/hub.js';
import { startBroker } from '../../broker/server.js';
import { ProcessInfo } from '../../src/admin/process-info.js';
import { createContext } from '../../src/context.js';
import { Replica } from '../../src/sync/replica.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

interface Probe {
  status: number;
  body: { status: string; reason?: string; checks?: { name: string; ok: boolean; reason: string }[]; eventLoopDelayMs?: { mean: number; p99: number; max: number } };
}

async function probe(port: number, path: '/healthz' | '/readyz'): Promise<Probe> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as Probe['body'] };
}

test('broker: /healthz 200 while it runs; /readyz 200, then 503 naming the store once it is closed; nothing answers once stopped', { timeout: 30_000 }, async (t) => {
  const b = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t), http: { host: '127.0.0.1', port: 0 } });
  t.after(() => b.close());
  const port = b.httpPort as number;
  const live = await probe(port, '/healthz');
  assert.equal(live.status, 200);
  assert.equal(live.body.status, 'ok');
  assert.equal(typeof live.body.eventLoopDelayMs?.p99, 'number');
  const ready = await probe(port, '/readyz');
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body.checks?.map((c) => [c.name, c.ok]), [['store', true], ['mqtt', true]]);
  // The Host rule of the admin API applies to these routes too.
  const foreign = await new Promise<number | undefined>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/readyz', headers: { host: 'evil.example' } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  });
  assert.equal(foreign, 403);
  await b.replica.close();
  const closed = await probe(port, '/readyz');
  assert.equal(closed.status, 503);
  assert.equal(closed.body.status, 'not-ready');
  assert.match(closed.body.reason ?? '', /^store: HAMSYNC_ERR_CLOSED: the replica is closed/);
  assert.equal((await probe(port, '/healthz')).status, 200, 'still alive');
  await b.close();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'a stopped broker answers nothing');
});

test('broker: /readyz is 503 naming the MQTT listener while it does not accept connections, 200 again once it does', { timeout: 30_000 }, async (t) => {
  const replica = await Replica.open({ dataDir: tempDir(t), changeLog: true });
  t.after(() => replica.close());
  const hub = new Hub(createContext(), { replica });
  let listening = true;
  const api = await startAdminApi({ host: '127.0.0.1', port: 0 }, hub, replica, createContext().log, { info: new ProcessInfo(), clients: () => 0, listening: () => listening });
  t.after(() => new Promise((r) => api.server.close(r)));
  assert.equal((await probe(api.port, '/readyz')).status, 200);
  listening = false;
  const down = await probe(api.port, '/readyz');
  assert.equal(down.status, 503);
  assert.deepEqual(down.body.checks?.map((c) => [c.name, c.ok]), [['store', true], ['mqtt', false]]);
  assert.match(down.body.reason ?? '', /^mqtt: the MQTT listener is not accepting connections/);
  assert.equal((await probe(api.port, '/healthz')).status, 200, 'still alive');
  listening = true;
  assert.equal((await probe(api.port, '/readyz')).status, 200);
});

test('daemon: /readyz stays 200 while the broker is away and the outbox has room, 503 once it is full, 503 naming the store once closed', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const b = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub') });
  t.after(() => b.close());
  const d = await Daemon.start({ id: 'dev-h', broker: `mqtt://127.0.0.1:${b.port}`, dataDir: join(dir, 'd'), http: '127.0.0.1:0', outboxMax: 2 });
  t.after(() => d.stop());
  await until(() => d.connected, { what: 'the daemon connected' });
  assert.equal((await probe(d.httpPort, '/readyz')).status, 200);
  await b.close();
  await until(() => !d.connected, { what: 'the daemon noticed the broker is gone' });
  const away = await probe(d.httpPort, '/readyz');
  assert.equal(away.status, 200, 'the outbox has room');
  await d.put([{ key: 'x', value: 1 }, { key: 'y', value: 2 }]);
  const full = await probe(d.httpPort, '/readyz');
  assert.equal(full.status, 503);
  assert.match(full.body.reason ?? '', /^link: the broker is not connected and the outbox is full \(2 of 2 updates\)/);
  await d.replica.close();
  const closed = await probe(d.httpPort, '/readyz');
  assert.equal(closed.status, 503);
  assert.match(closed.body.reason ?? '', /^store: HAMSYNC_ERR_CLOSED: the replica is closed/);
  assert.equal((await probe(d.httpPort, '/healthz')).status, 200);
});
