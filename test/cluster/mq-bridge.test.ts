/**
 * Pub/sub between the nodes of a cluster (broker/cluster/mq-bridge.ts): two in-process brokers
 * on a private Redis. Each "nothing else arrived" is checked behind a marker sent after it on the
 * same path (one Redis connection, in order), never by waiting a while.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import { MqBridge } from '../../broker/cluster/mq-bridge.js';
import { bridgedTopic } from '../../broker/cluster/bridged-topics.js';
import { Counters } from '../../src/counters.js';
import { encodePut } from '../../src/wire/codec.js';
import type { Logger } from '../../src/log.js';
import { recordingLogger } from '../devices/helpers.js';
import { PrivateRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/tmp.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

const skip = skipUnlessTools('redis-server');

async function node(t: TestContext, redis: PrivateRedis, nodeId: string, dataDir = tempDir(t), log?: Logger): Promise<RunningBroker> {
  const b = await startBroker({ port: 0, host: '127.0.0.1', dataDir, cluster: { url: redis.url, nodeId }, ...(log ? { log } : {}) });
  t.after(() => b.close());
  await until(() => b.mqBridge?.status().redis === 'up', { what: `${nodeId}: Redis connections ready` });
  return b;
}

/** A client that records every message as "topic payload". */
async function client(t: TestContext, b: RunningBroker, clientId: string): Promise<{ c: MqttClient; got: string[] }> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId, reconnectPeriod: 0 });
  t.after(() => c.endAsync(true).catch(() => undefined));
  const got: string[] = [];
  c.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
  return { c, got };
}

/** Publishes `app/marker <tag>` on `from` (again every 200 ms) until every recorder has it. */
async function marker(from: MqttClient, tag: string, ...recorders: string[][]): Promise<void> {
  return markerWithin(10_000, from, tag, ...recorders);
}

async function markerWithin(timeoutMs: number, from: MqttClient, tag: string, ...recorders: string[][]): Promise<void> {
  await until(async () => {
    if (recorders.every((r) => r.includes(`app/marker ${tag}`))) return true;
    await from.publishAsync('app/marker', tag, { qos: 1 });
    return recorders.every((r) => r.includes(`app/marker ${tag}`));
  }, { what: `marker ${tag}`, intervalMs: 200, timeoutMs });
}

const count = (got: string[], line: string): number => got.filter((g) => g === line).length;

test('which topics are bridged', () => {
  for (const t of ['app/x', 'hamsync/default/presence/pi-7', 'hamsync/default/replay/a/b', '$SYS/n1/new/clients', '$SYS/n1/birth']) assert.equal(bridgedTopic(t), true, t);
  for (const t of ['hamsync/default/state/a/b', 'hamsync/default/put/pi-7', 'hamsync/default/sync/req/pi-7', 'hamsync/default/sync/res/pi-7', 'hamsync/default/sync/ack/pi-7', 'hamsync/default/hub', '$SYS/n1/heartbeat', '$SYS/n1/disconnect/clients', '$SYS/n1/new/subscribers']) assert.equal(bridgedTopic(t), false, t);
});

test('a plain topic published on node 1 reaches subscribers on both nodes, once each; state and put topics and rejected messages stay on their node', { skip }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n1 = await node(t, redis, 'n1');
  const n2 = await node(t, redis, 'n2');
  const s1 = await client(t, n1, 'sub-1');
  const s2 = await client(t, n2, 'sub-2');
  for (const s of [s1, s2]) await s.c.subscribeAsync(['app/#', 'hamsync/default/#'], { qos: 1 });
  const pub = await client(t, n1, 'pub-1');
  await pub.c.publishAsync('app/x', 'hello', { qos: 1 });
  // A put on node 1: its hub publishes the state there; a bad topic is rejected (never forwarded).
  await pub.c.publishAsync('hamsync/default/put/pi-7', encodePut('pi-7', [{ key: 'pi-7/temp', state: Date.now() - 1000, text: '21' }]), { qos: 1 });
  await pub.c.publishAsync('hamsync/default/bogus', 'x', { qos: 1 });
  await until(() => s1.got.some((g) => g.startsWith('hamsync/default/state/pi-7/temp ')), { what: 'the state on node 1' });
  await marker(pub.c, 'end', s1.got, s2.got);
  assert.equal(count(s1.got, 'app/x hello'), 1, s1.got.join('\n'));
  assert.equal(count(s2.got, 'app/x hello'), 1, s2.got.join('\n'));
  assert.equal(s1.got.filter((g) => g.startsWith('hamsync/default/put/')).length, 1, 'the put is forwarded on its own node');
  const hub = (got: string[]): string[] => got.filter((g) => g.startsWith('hamsync/default/hub '));
  assert.equal(hub(s2.got).length, 1, 'node 2\'s own hub announcement only');
  assert.notDeepEqual(hub(s2.got), hub(s1.got));
  assert.deepEqual(s2.got.filter((g) => g.startsWith('hamsync/') && !g.startsWith('hamsync/default/hub ')), [], 'no state, put or rejected message crossed to node 2');
  assert.equal(s1.got.filter((g) => g.startsWith('hamsync/default/bogus')).length, 0);
  assert.ok(n1.hub.counters.get('cluster.mq.sent') >= 2);
  assert.ok(n2.hub.counters.get('cluster.mq.received') >= 2);
});

test('a retained message from another node is kept in this node\'s retained store', { skip }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n1 = await node(t, redis, 'n1');
  const n2 = await node(t, redis, 'n2');
  const watch = await client(t, n2, 'watch-2');
  await watch.c.subscribeAsync('app/#', { qos: 1 });
  const pub = await client(t, n1, 'pub-1');
  await pub.c.publishAsync('app/retained', 'kept', { qos: 1, retain: true });
  await marker(pub.c, 'end', watch.got);
  assert.equal(count(watch.got, 'app/retained kept'), 1);
  const late = await client(t, n2, 'late-2');
  await late.c.subscribeAsync('app/retained', { qos: 1 });
  await until(() => late.got.includes('app/retained kept'), { what: 'the retained message on node 2' });
  // Storing a retained message does not let the messages after it overtake it.
  await Promise.all(Array.from({ length: 60 }, (_, i) => pub.c.publishAsync('app/seq', String(i), { qos: 1, retain: i % 3 === 0 })));
  await until(() => watch.got.includes('app/seq 59'), { what: 'the sequence on node 2' });
  assert.deepEqual(watch.got.filter((g) => g.startsWith('app/seq ')), Array.from({ length: 60 }, (_, i) => `app/seq ${i}`));
});

test('Redis down: node 1 still serves its own clients; cross-node messages are dropped and counted; delivery resumes when Redis is back', { skip }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const log = recordingLogger();
  const n1 = await node(t, redis, 'n1', tempDir(t), log);
  const n2 = await node(t, redis, 'n2');
  const s2 = await client(t, n2, 'sub-2');
  await s2.c.subscribeAsync('app/#', { qos: 1 });
  const pub = await client(t, n1, 'pub-1');
  await marker(pub.c, 'before', s2.got);

  await redis.stop();
  await until(() => n1.mqBridge?.status().redis === 'down', { what: 'node 1 sees Redis down' });
  const local = await client(t, n1, 'local-1');
  const granted = await Promise.race([
    local.c.subscribeAsync('app/#', { qos: 1 }).then((g) => g.map((s) => s.qos)),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no SUBACK within 5 s')), 5000).unref()),
  ]);
  assert.deepEqual(granted, [1]);
  const dropped = n1.hub.counters.get('cluster.mq.dropped.redis-down');
  await pub.c.publishAsync('app/during', 'outage', { qos: 1 });
  await until(() => local.got.includes('app/during outage'), { what: 'the local delivery during the outage' });
  assert.ok(n1.hub.counters.get('cluster.mq.dropped.redis-down') > dropped, 'the cross-node copy is dropped and counted');
  // The outage is one warning, however many reconnect attempts fail (those are debug lines).
  const redisLines = (level: string): number => log.entries.filter((e) => e.level === level && e.msg.startsWith('cluster pub/sub: Redis')).length;
  await until(() => redisLines('debug') >= 2, { what: 'two failed reconnect attempts' });
  assert.equal(redisLines('warn'), 1, JSON.stringify(log.entries.filter((e) => e.msg.startsWith('cluster pub/sub'))));

  await redis.restart();
  await marker(pub.c, 'after', s2.got, local.got);
  assert.ok(log.entries.some((e) => e.level === 'info' && e.msg === 'cluster pub/sub: Redis reachable again'));
  assert.equal(count(s2.got, 'app/during outage'), 0);
});

test('the same client id connecting to node 2 closes its session on node 1', { skip }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n1 = await node(t, redis, 'n1');
  const n2 = await node(t, redis, 'n2');
  const first = await client(t, n1, 'pi-7');
  let closed = false;
  first.c.on('close', () => (closed = true));
  await client(t, n2, 'pi-7');
  await until(() => closed, { what: 'the session on node 1 closed' });
  await until(() => n1.aedes.connectedClients === 0, { what: 'node 1 without clients' });
});

test('a node restarted with the same id is heard again (its birth resets the duplicate filters of the other nodes)', { skip }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const dataDir = tempDir(t);
  const n1 = await node(t, redis, 'n1', dataDir);
  const n2 = await node(t, redis, 'n2');
  const s2 = await client(t, n2, 'sub-2');
  await s2.c.subscribeAsync('app/#', { qos: 1 });
  const pub = await client(t, n1, 'pub-1');
  // Node 1's message counter goes well past what the retries below can reach after its restart.
  for (let i = 0; i < 300; i++) pub.c.publish('app/n', String(i), { qos: 0 });
  await marker(pub.c, 'first', s2.got);
  await pub.c.endAsync(true);
  await n1.close();
  const again = await node(t, redis, 'n1', dataDir);
  const pub2 = await client(t, again, 'pub-1b');
  await markerWithin(3000, pub2.c, 'second', s2.got);
});

test('what waits for Redis is bounded: a message over the byte bound is dropped and counted, the next small one goes', { skip }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const counters = new Counters();
  const bridge = new MqBridge({ url: redis.url, nodeId: 'solo', ns: 'default', counters, maxInFlightBytes: 64 });
  t.after(() => bridge.close());
  await until(() => bridge.status().redis === 'up', { what: 'Redis ready' });
  const local: string[] = [];
  bridge.on('app/#', (m, done) => {
    local.push(m.topic);
    done();
  });
  bridge.emit({ topic: 'app/big', payload: Buffer.alloc(100), qos: 0, retain: false });
  bridge.emit({ topic: 'app/small', payload: Buffer.alloc(1), qos: 0, retain: false });
  await until(() => counters.get('cluster.mq.sent') === 2, { what: 'the birth and the small message sent' });
  assert.equal(counters.get('cluster.mq.dropped.full'), 1);
  assert.deepEqual(local, ['app/big', 'app/small'], 'local delivery is not bounded by Redis');
});

test('a node started while Redis is down serves its own clients, and joins the cluster when Redis comes up', { skip, timeout: 60_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n2 = await node(t, redis, 'n2');
  const s2 = await client(t, n2, 'sub-2');
  await s2.c.subscribeAsync('app/#', { qos: 1 });
  await redis.stop();
  const n1 = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t), cluster: { url: redis.url, nodeId: 'n1' } });
  t.after(() => n1.close());
  assert.equal(n1.mqBridge?.status().redis, 'down');
  const local = await client(t, n1, 'local-1');
  await local.c.subscribeAsync('app/#', { qos: 1 });
  await local.c.publishAsync('app/early', 'x', { qos: 1 });
  await until(() => local.got.includes('app/early x'), { what: 'local delivery without Redis' });
  await redis.restart();
  await until(() => n1.mqBridge?.status().redis === 'up', { what: 'node 1 joined', timeoutMs: 20_000 });
  await marker(local.c, 'joined', s2.got, local.got);
});
