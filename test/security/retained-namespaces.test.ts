/**
 * Retained messages and namespaces (issue 14, item 17): a broker serves only its namespace under
 * `hamsync/`, never retains a put, sync request or ack, or replay row, retains only valid presence
 * messages, and bounds the retained messages of each client; wills follow the same rules.
 * What is retained is read from Aedes' own store after each PUBACK (the message was handled).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { canPublish, canSubscribe } from '../../broker/acl.js';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import { granted } from '../helpers/suback.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

async function retainedTopics(broker: RunningBroker): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const aedes = broker.aedes as unknown as { persistence: { createRetainedStream(p: string): AsyncIterable<{ topic: string; payload: Buffer }> } };
  const stream = aedes.persistence.createRetainedStream('#');
  for await (const p of stream) out.set(p.topic, p.payload.length);
  return out;
}

async function client(t: { after(fn: () => unknown): void }, broker: RunningBroker, clientId: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId, reconnectPeriod: 0, ...extra });
  t.after(() => c.endAsync(true).catch(() => undefined));
  return c;
}

const presence = (online: boolean): string => JSON.stringify({ pv: 1, online, at: Date.now() });

test('only the served namespace, no retained puts or sync requests, only valid presence', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t) });
  t.after(() => broker.close());
  const follower = await client(t, broker, 'follower');
  assert.deepEqual(await granted(follower, ['hamsync/+/put/+', 'hamsync/default/put/+', 'hamsync/other/put/+', 'hamsync/#']), [1, 1, 128, 1]);
  const seen: string[] = [];
  follower.on('message', (topic) => seen.push(topic));
  const dev = await client(t, broker, 'dev');
  const put = JSON.stringify({ src: 'dev', u: [{ k: 'dev/a', v: 1, s: Date.now() - 1000 }] });
  const rejected0 = broker.hub.counters.get('messages.rejected');
  const sends: [string, string][] = [
    ['hamsync/other/presence/dev', presence(true)],
    ['hamsync/other/put/dev', put.replace('"dev"', '"dev"')],
    ['hamsync/bad.ns/presence/dev', presence(true)],
    ['hamsync/default/presence/dev', JSON.stringify({ junk: 'x'.repeat(10_000) })],
    ['hamsync/default/presence/dev-x', JSON.stringify({ pv: 1, online: 'yes' })],
    ['hamsync/default/put/dev', put],
    ['hamsync/default/sync/req/dev', JSON.stringify({ pv: 2, id: 'r1', f: ['#'] })],
    ['hamsync/default/sync/ack/dev', JSON.stringify({ pv: 2, id: 'r1', n: 1 })],
    ['hamsync/default/replay/s1/dev/a', JSON.stringify({ v: 1 })],
  ];
  for (const [topic, payload] of sends) await dev.publishAsync(topic, payload, { qos: 1, retain: true });
  // A valid presence message is retained (and delivered): the marker that everything before was handled.
  await dev.publishAsync('hamsync/default/presence/dev', presence(true), { qos: 1, retain: true });
  await until(() => seen.includes('hamsync/default/presence/dev'), { what: 'the valid presence message delivered' });
  assert.equal(broker.hub.counters.get('messages.rejected') - rejected0, 5, 'other ns (2), bad ns name, 2 bad presence payloads rejected');
  const retained = await retainedTopics(broker);
  const hamsync = [...retained.keys()].filter((k) => k.startsWith('hamsync/') && !k.startsWith('hamsync/default/state/')).sort();
  assert.deepEqual(hamsync, ['hamsync/default/hub', 'hamsync/default/presence/dev'], 'only the hub\'s announcement and the valid presence are retained');
  assert.ok(retained.has('hamsync/default/state/dev/a'), 'the put was applied and its state retained');
  assert.deepEqual(seen.filter((s) => !s.startsWith('hamsync/default/')), [], 'nothing from other namespaces forwarded');
  assert.ok(!seen.includes('hamsync/default/presence/dev-x'), 'an invalid presence message is not forwarded');
  // An empty retained presence clears it.
  await dev.publishAsync('hamsync/default/presence/dev', '', { qos: 1, retain: true });
  assert.equal((await retainedTopics(broker)).has('hamsync/default/presence/dev'), false);
});

test('retained messages are bounded per client: 16 topics and 64 KiB', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t) });
  t.after(() => broker.close());
  const c = await client(t, broker, 'hoarder');
  for (let i = 0; i < 20; i++) await c.publishAsync(`x/${i}`, `value ${i}`, { qos: 1, retain: true });
  const mine = async (): Promise<string[]> => [...(await retainedTopics(broker)).keys()].filter((k) => k.startsWith('x/') || k.startsWith('y/'));
  assert.equal((await mine()).length, 16, 'only 16 retained');
  // Clearing one makes room for another; rewriting one of its own topics is always fine.
  await c.publishAsync('x/0', '', { qos: 1, retain: true });
  await c.publishAsync('y/new', 'fits', { qos: 1, retain: true });
  await c.publishAsync('x/1', 'rewritten', { qos: 1, retain: true });
  const now = await mine();
  assert.ok(now.includes('y/new') && now.includes('x/1') && !now.includes('x/0'), now.join(','));
  // Bytes: a 70 KiB retained message does not fit the 64 KiB budget.
  const other = await client(t, broker, 'big');
  await other.publishAsync('z/big', Buffer.alloc(70 * 1024, 0x61), { qos: 1, retain: true });
  assert.equal((await retainedTopics(broker)).has('z/big'), false);
  assert.ok(broker.hub.counters.get('rejected.HAMSYNC_ERR_TOO_LARGE') >= 5);
});

test('wills follow the same rules: other namespaces and invalid presence are not published or retained', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t) });
  t.after(() => broker.close());
  const watcher = await client(t, broker, 'watcher');
  await watcher.subscribeAsync(['#'], { qos: 1 });
  const seen: string[] = [];
  watcher.on('message', (topic) => seen.push(topic));
  const wills: [string, string][] = [
    ['hamsync/other/presence/w1', presence(false)],
    ['hamsync/default/presence/w2', '{"pv":1,"online":"no"}'],
    ['hamsync/default/put/w3', JSON.stringify({ src: 'w3', u: [{ k: 'w3/a', v: 1, s: Date.now() - 1000 }] })],
    ['hamsync/default/presence/w4', presence(false)],
  ];
  const rejected0 = broker.hub.counters.get('messages.rejected');
  for (const [i, [topic, payload]] of wills.entries()) {
    const c = await client(t, broker, `will-${i}`, { will: { topic, payload: Buffer.from(payload), qos: 1, retain: true } });
    c.stream.destroy(); // no DISCONNECT: the will is published
  }
  await until(() => seen.includes('hamsync/default/presence/w4') && broker.replica.get('w3/a') !== undefined, { what: 'the valid wills published' });
  await until(() => broker.hub.counters.get('messages.rejected') - rejected0 === 2, { what: 'two wills rejected' });
  const retained = await retainedTopics(broker);
  assert.ok(retained.has('hamsync/default/presence/w4'), 'a valid presence will is retained');
  for (const topic of ['hamsync/other/presence/w1', 'hamsync/default/presence/w2', 'hamsync/default/put/w3']) assert.equal(retained.has(topic), false, `${topic} retained`);
  assert.ok(!seen.includes('hamsync/other/presence/w1') && !seen.includes('hamsync/default/presence/w2'));
});

test('ACL: a namespace level that is not a namespace name is refused, even for users of every namespace', () => {
  const p = { role: 'device' as const, id: 'pi-7' };
  for (const ns of ['bad.ns', 'a b', 'x'.repeat(65), 'é']) {
    assert.equal(canPublish(p, `hamsync/${ns}/put/pi-7`).allow, false, ns);
    assert.equal(canSubscribe(p, `hamsync/${ns}/state/#`).allow, false, ns);
  }
  assert.equal(canPublish(p, 'hamsync/any-ns_1/put/pi-7').allow, true);
});
