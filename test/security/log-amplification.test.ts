/**
 * Log amplification (issue 14, item 16): a logged-in observer sending one SUBSCRIBE of 300 denied
 * filters used to write 18 MB of log through a 60,000-character client id. Now the id is refused
 * at CONNECT (CONNACK 2, any protocol version), and with a normal id the refusals are logged
 * thinned and bounded. Measured in bytes written through a recording logger.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { startBroker } from '../../broker/server.js';
import { hashPassword, saveUsers } from '../../src/auth/users.js';
import { createLogger } from '../../src/log.js';
import { frame, loginPacket, str } from '../helpers/mqtt-bytes.js';
import { granted } from '../helpers/suback.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

/** SUBSCRIBE (packet id 1) to every filter at QoS 1. */
function subscribeMany(filters: string[]): Buffer {
  return frame(0x82, Buffer.concat([Buffer.from([0, 1]), ...filters.map((f) => Buffer.concat([str(f), Buffer.from([1])]))]));
}

test('a huge client id is refused at CONNECT; 300 denied filters log a few hundred bytes, not megabytes', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const usersFile = join(dir, 'users.json');
  saveUsers(usersFile, { version: 1, users: { dash: { role: 'observer', ...(await hashPassword('pw-dash')) } } });
  let bytes = 0;
  const lines: string[] = [];
  const log = createLogger('debug', {}, (line) => {
    bytes += Buffer.byteLength(line);
    lines.push(line);
  });
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile }, log });
  t.after(() => broker.close());
  const filters = Array.from({ length: 300 }, (_, i) => `denied/${i}/${'f'.repeat(20)}`);

  const session = async (clientId: string): Promise<{ received: Buffer; closed: boolean }> => {
    const s = net.connect(broker.port, '127.0.0.1');
    const o = { received: Buffer.alloc(0), closed: false };
    s.on('data', (d: Buffer) => (o.received = Buffer.concat([o.received, d])));
    s.on('close', () => (o.closed = true));
    s.on('error', () => undefined);
    t.after(() => s.destroy());
    await new Promise((r) => s.once('connect', r));
    s.write(Buffer.concat([loginPacket(clientId, 'dash', 'pw-dash'), subscribeMany(filters)]));
    // Either refused (closed) or the SUBACK of 300 failures (0x90, 2-byte length, id, 300 x 0x80).
    await until(() => o.closed || o.received.includes(Buffer.from([0x00, 0x01, 0x80, 0x80])), { timeoutMs: 20_000, what: 'CONNACK 2 or the SUBACK' });
    return o;
  };

  const before = bytes;
  const huge = await session('x'.repeat(60_000));
  assert.ok(huge.received.subarray(0, 4).equals(Buffer.from([0x20, 0x02, 0x00, 0x02])), `CONNACK 2, got ${huge.received.subarray(0, 8).toString('hex')}`);
  await until(() => huge.closed, { what: 'the refused client closed' });
  const hugeBytes = bytes - before;
  assert.equal(broker.hub.counters.get('acl.denied.subscribe'), 0, 'its SUBSCRIBE never reached the ACL');

  const mid = bytes;
  const normal = await session('dash-console');
  await until(() => broker.hub.counters.get('acl.denied.subscribe') === 300, { what: '300 filters refused' });
  const normalBytes = bytes - mid;
  console.log(`# 60,000-character id: ${hugeBytes} bytes of log; normal id, 300 denied filters: ${normalBytes} bytes of log (${lines.length} lines in all)`);
  assert.equal(normal.closed, false);
  assert.ok(hugeBytes < 2048, `the refused CONNECT logged ${hugeBytes} bytes`);
  assert.ok(normalBytes < 4096, `300 denied filters logged ${normalBytes} bytes`);
  for (const line of lines) assert.ok(line.length < 2048, `a log line of ${line.length} characters: ${line.slice(0, 200)}`);
});

test('hub refusals are thinned per client: 300 refused subscriptions and 300 rejected publishes from one client log about a line a second each', { timeout: 60_000 }, async (t) => {
  const lines: { msg: string; client?: string }[] = [];
  const log = createLogger('warn', {}, (line) => lines.push(JSON.parse(line) as { msg: string; client?: string }));
  // An open broker: the hub's own refusals (namespace not served), not the ACL's.
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t), log });
  t.after(() => broker.close());
  const connect = async (clientId: string): Promise<mqtt.MqttClient> => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId, reconnectPeriod: 0 });
    t.after(() => c.endAsync(true).catch(() => undefined));
    return c;
  };
  const flooder = await connect('flooder');
  const t0 = performance.now();
  const refusedFilters = await granted(flooder, Array.from({ length: 300 }, (_, i) => `hamsync/other/state/${i}`));
  assert.deepEqual(new Set(refusedFilters), new Set([128]));
  // Rejected messages are acknowledged: each PUBACK says the broker handled (and rejected) one.
  await Promise.all(Array.from({ length: 300 }, (_, i) => flooder.publishAsync(`hamsync/other/presence/d${i}`, '{"pv":1,"online":true}', { qos: 1 })));
  const elapsedMs = performance.now() - t0;
  assert.equal(broker.hub.counters.get('subscriptions.refused'), 300);
  assert.equal(broker.hub.counters.get('rejected.HAMSYNC_ERR_TOPIC'), 300);
  // The throttle allows one line per client and kind per second.
  const most = 1 + Math.ceil(elapsedMs / 1000);
  const of = (msg: string, client: string): number => lines.filter((l) => l.msg === msg && l.client === client).length;
  assert.ok(of('subscribe refused', 'flooder') >= 1 && of('subscribe refused', 'flooder') <= most, `${of('subscribe refused', 'flooder')} "subscribe refused" lines in ${elapsedMs.toFixed(0)} ms`);
  assert.ok(of('message rejected', 'flooder') >= 1 && of('message rejected', 'flooder') <= most, `${of('message rejected', 'flooder')} "message rejected" lines in ${elapsedMs.toFixed(0)} ms`);
  // Another client's refusal is not hidden by the flood: it has a line of its own at once.
  const other = await connect('other');
  assert.deepEqual(await granted(other, ['hamsync/other/state/#']), [128]);
  assert.equal(of('subscribe refused', 'other'), 1);
});
