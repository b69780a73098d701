/**
 * Retained state served from the hub's live view (issue 13, item 2): a subscriber gets every
 * matching key on SUBSCRIBE, retain flag set, payload as always; changes arrive live and in order;
 * nothing of it is kept in Aedes' own retained store or republished at start, and a broker restart
 * still serves every key; nothing is published while no one can hear it, but a stored session's
 * subscription counts; a client cannot fake state; the ACL decides which filters get anything.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import { hashPassword, saveUsers, type UsersFile } from '../../src/auth/users.js';
import { encodeState } from '../../src/wire/codec.js';
import { canonical } from '../../src/ham/lexical.js';
import { granted } from '../helpers/suback.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const S0 = Date.now() - 3_600_000;
const topic = (key: string): string => `hamsync/default/state/${key}`;

interface Got {
  topic: string;
  text: string;
  retain: boolean;
}

async function connect(t: TestContext, broker: RunningBroker, clientId: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId, reconnectPeriod: 0, ...extra });
  t.after(() => c.endAsync(true).catch(() => undefined));
  return c;
}

function record(c: MqttClient): Got[] {
  const got: Got[] = [];
  c.on('message', (tp, payload, packet) => got.push({ topic: tp, text: payload.toString(), retain: packet.retain }));
  return got;
}

async function put(c: MqttClient, dev: string, updates: { k: string; v: unknown; s: number }[]): Promise<void> {
  await c.publishAsync(`hamsync/default/put/${dev}`, JSON.stringify({ src: dev, u: updates }), { qos: 1 });
}

/** The state message the hub's live view holds for `key`, as the wire carries it. */
function expected(broker: RunningBroker, key: string): string {
  const e = broker.replica.get(key);
  assert.ok(e, `${key} is live`);
  return encodeState(canonical(e.value), e.state, e.source, e.sig);
}

/** Topics in Aedes' own retained store (under the hub's view of it). */
async function aedesOwnRetained(broker: RunningBroker): Promise<string[]> {
  const p = (broker.aedes as unknown as { persistence: { asyncPersistence: { createRetainedStream(p: string): AsyncIterable<{ topic: string }> } } }).persistence;
  const out: string[] = [];
  for await (const packet of p.asyncPersistence.createRetainedStream('#')) out.push(packet.topic);
  return out;
}

test('retained state from the live view: on SUBSCRIBE with the retain flag, changes live and in order, no copy in Aedes, no fakes', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t) });
  t.after(() => broker.close());
  const dev = await connect(t, broker, 'dev-1');
  await put(dev, 'dev-1', [{ k: 'pi/a', v: 0, s: S0 }, { k: 'pi/b', v: { x: [1, 'two'] }, s: S0 }, { k: 'other/c', v: 'c', s: S0 }, { k: 'pix', v: 'not under pi/', s: S0 }]);
  // No one subscribed to state: nothing was published.
  assert.equal(broker.hub.counters.get('state.published'), 0);
  assert.equal(broker.hub.counters.get('state.unheard'), 4);

  const sub = await connect(t, broker, 'late');
  const got = record(sub);
  await sub.subscribeAsync(['hamsync/default/state/pi/#', 'hamsync/+/state/other/c'], { qos: 1 });
  await until(() => got.length >= 3, { what: 'the three retained state messages', timeoutMs: 5000 });
  assert.deepEqual(got.map((m) => [m.topic, m.retain]).sort(), [[topic('other/c'), true], [topic('pi/a'), true], [topic('pi/b'), true]]);
  for (const m of got) assert.equal(m.text, expected(broker, m.topic.slice(topic('').length)));

  // Changes arrive live (retain flag clear, as before: Aedes clears it on live delivery), in order.
  for (let i = 1; i <= 20; i++) await put(dev, 'dev-1', [{ k: 'pi/a', v: i, s: S0 + i }]);
  await until(() => got.length >= 23, { what: 'twenty live changes', timeoutMs: 5000 });
  assert.deepEqual(got.slice(3).map((m) => [m.topic, m.retain, (JSON.parse(m.text) as { v: number }).v]), Array.from({ length: 20 }, (_, i) => [topic('pi/a'), false, i + 1]));
  assert.equal(broker.hub.counters.get('state.published'), 20);
  // The `same` case: an exact repeat changes nothing and publishes nothing (the marker after it does).
  await put(dev, 'dev-1', [{ k: 'pi/a', v: 20, s: S0 + 20 }]);
  await put(dev, 'dev-1', [{ k: 'pi/marker', v: 1, s: S0 }]);
  await until(() => got.some((m) => m.topic === topic('pi/marker')), { what: 'the marker', timeoutMs: 5000 });
  assert.deepEqual(got.slice(23).map((m) => m.topic), [topic('pi/marker')]);
  assert.equal(broker.hub.counters.get('state.published'), 21);

  // A client's retained message on a state topic is rejected; a newcomer gets the hub's value.
  const faker = await connect(t, broker, 'faker');
  await faker.publishAsync(topic('pi/b'), JSON.stringify({ v: 'fake', s: S0 + 99, src: 'dev-1' }), { qos: 1, retain: true });
  const late = await connect(t, broker, 'later');
  const lateGot = record(late);
  await late.subscribeAsync(topic('pi/b'), { qos: 1 });
  await until(() => lateGot.length >= 1, { what: 'the retained pi/b', timeoutMs: 5000 });
  assert.deepEqual(lateGot, [{ topic: topic('pi/b'), text: expected(broker, 'pi/b'), retain: true }]);
  assert.equal(got.some((m) => m.text.includes('fake')), false, 'the fake was not forwarded');
  // Aedes' own retained store never holds a state topic.
  assert.deepEqual((await aedesOwnRetained(broker)).filter((tp) => tp.startsWith('hamsync/default/state/')), []);
});

test('a restart republishes nothing, and a fresh subscriber still gets every key', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  const first = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dir });
  const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${first.port}`, { clientId: 'dev-1', reconnectPeriod: 0 });
  const N = 2000;
  for (let b = 0; b < N / 100; b++) {
    await put(dev, 'dev-1', Array.from({ length: 100 }, (_, i) => ({ k: `d${b}/k${i}`, v: b * 100 + i, s: S0 + b })));
  }
  await dev.endAsync(true);
  await first.close();

  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dir });
  t.after(() => broker.close());
  assert.equal(broker.hub.counters.get('state.published') + broker.hub.counters.get('state.unheard'), 0, 'nothing republished at start');
  const sub = await connect(t, broker, 'fresh');
  const got = record(sub);
  await sub.subscribeAsync('hamsync/default/state/#', { qos: 1 });
  await until(() => got.length >= N, { what: `${N} retained state messages`, timeoutMs: 30_000 });
  assert.equal(new Set(got.map((m) => m.topic)).size, N);
  assert.ok(got.every((m) => m.retain));
  for (const m of got.filter((_, i) => i % 97 === 0)) assert.equal(m.text, expected(broker, m.topic.slice(topic('').length)));
});

test('a stored session subscribed to state is an audience: its offline queue gets the change', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t) });
  t.after(() => broker.close());
  const session: IClientOptions = { clean: false };
  const follower = await connect(t, broker, 'follower', session);
  await follower.subscribeAsync('hamsync/default/state/+/temp', { qos: 1 });
  await follower.endAsync();
  const dev = await connect(t, broker, 'dev-1');
  await put(dev, 'dev-1', [{ k: 'pi/temp', v: 21.5, s: S0 }]);
  assert.equal(broker.hub.counters.get('state.published'), 1);
  // Back with its session: Aedes delivers what it queued (no retained lookup on a restored session).
  const again = mqtt.connect(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'follower', reconnectPeriod: 0, ...session, manualConnect: true });
  t.after(() => again.endAsync(true).catch(() => undefined));
  const got = record(again);
  again.connect();
  await until(() => got.length >= 1, { what: 'the queued change', timeoutMs: 5000 });
  assert.equal(got[0]?.topic, topic('pi/temp'));
  assert.equal(got[0]?.text, expected(broker, 'pi/temp'));
});

test('ACL: a filter the ACL refuses gets no retained state; an allowed one gets its keys', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const usersFile = join(dir, 'users.json');
  const users: UsersFile = { version: 1, users: {} };
  users.users['pi-7'] = { role: 'device', ...(await hashPassword('pw-pi-7')), ns: ['default'] };
  saveUsers(usersFile, users);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile } });
  t.after(() => broker.close());
  const dev = await connect(t, broker, 'hamsync-pi-7', { username: 'pi-7', password: 'pw-pi-7' });
  await put(dev, 'pi-7', [{ k: 'k/1', v: 1, s: S0 }, { k: 'k/2', v: 2, s: S0 }]);

  // `#` is refused to a device; in the same SUBSCRIBE an allowed filter comes after it, so its
  // retained message arriving means the refused one was looked up (or not) already.
  const sub = await connect(t, broker, 'hamsync-pi-7.sub', { username: 'pi-7', password: 'pw-pi-7' });
  const got = record(sub);
  assert.deepEqual(await granted(sub, ['#', topic('k/1')]), [128, 1]);
  await until(() => got.length >= 1, { what: 'the retained k/1', timeoutMs: 5000 });
  assert.deepEqual(got.map((m) => m.topic), [topic('k/1')]);
});
