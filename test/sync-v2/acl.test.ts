/**
 * Acknowledgements move only their own device's feed: under a users file a device may publish its
 * own `sync/ack/<id>` (and subscribe to the hub announcement) but not another device's ack topic;
 * on an open broker, an ack from a client other than the one that asked is ignored (counted).
 * Acks are never forwarded.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashPassword, saveUsers, type UsersFile } from '../../src/auth/users.js';
import { encodeSyncAck } from '../../src/wire/sync-v2.js';
import { topics } from '../../src/wire/topics.js';
import { granted } from '../helpers/suback.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { broker, connect, Follower, NS, put } from './harness.js';

/** 4 pages' worth and more: 160 keys of ~2 KB (32 per page). */
async function fill(dev: Awaited<ReturnType<typeof connect>>, device: string): Promise<void> {
  const big = 'y'.repeat(2000);
  for (let i = 0; i < 160; i += 40) await put(dev, device, Array.from({ length: 40 }, (_, j): [string, unknown] => [`${device}/${i + j}`, big]));
}

test('acl: a device acks its own feed; it cannot ack (or read) another device\'s', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const usersFile = join(dir, 'users.json');
  const users: UsersFile = { version: 1, users: {} };
  for (const id of ['pi-7', 'pi-8']) users.users[id] = { role: 'device', ...(await hashPassword(`pw-${id}`)), ns: ['default'] };
  saveUsers(usersFile, users);
  const b = await broker(t, { dataDir: join(dir, 'hub'), auth: { usersFile } });
  const login = (id: string) => ({ username: id, password: `pw-${id}` });
  const p8 = await Follower.start(t, b, 'pi-8', login('pi-8'));
  await fill(p8.client, 'pi-8');
  assert.deepEqual(await granted(p8.client, [topics.hub(NS), topics.syncResponse(NS, 'pi-7')]), [1, 128], 'the hub topic yes, another device\'s pages no');
  const waits0 = b.hub.counters.get('sync.window.waits');
  await p8.request('r1', ['#']);
  await p8.waitPages('r1', 4);
  await until(() => b.hub.counters.get('sync.window.waits') > waits0, { what: 'pi-8\'s feed waiting for an ack' });

  const p7 = await connect(t, b, 'hamsync-pi-7', login('pi-7'));
  const denied0 = b.hub.counters.get('acl.denied.publish');
  p7.publish(topics.syncAck(NS, 'pi-8'), encodeSyncAck('r1', 4), { qos: 1 });
  await until(() => b.hub.counters.get('acl.denied.publish') > denied0, { what: 'pi-7\'s ack for pi-8 denied' });
  assert.deepEqual([b.hub.sync.status().feedList[0]?.pagesAcked, p8.of('r1').length], [0, 4], 'pi-8\'s feed did not move');

  await p8.ack('r1', 4);
  await p8.waitPages('r1', 5);
  assert.equal(b.hub.sync.status().feedList[0]?.pagesAcked, 4, 'its own ack moved it');
});

test('open broker: an ack from another client is ignored and counted; acks are never forwarded', { timeout: 60_000 }, async (t) => {
  const b = await broker(t);
  const f = await Follower.start(t, b, 'fol');
  await fill(f.client, 'fol');
  const spy = await connect(t, b, 'spy');
  const forwarded: string[] = [];
  spy.on('message', (topic) => forwarded.push(topic));
  await spy.subscribeAsync('hamsync/default/sync/#', { qos: 1 });
  const waits0 = b.hub.counters.get('sync.window.waits');
  await f.request('r1', ['#']);
  await f.waitPages('r1', 4);
  await until(() => b.hub.counters.get('sync.window.waits') > waits0, { what: 'the feed waiting for an ack' });
  await spy.publishAsync(topics.syncAck(NS, 'fol'), encodeSyncAck('r1', 4), { qos: 1 });
  assert.equal(b.hub.counters.get('sync.acks.stale'), 1, 'counted (handled before the PUBACK)');
  assert.equal(b.hub.sync.status().feedList[0]?.pagesAcked, 0);
  await f.ack('r1', 4);
  await f.waitPages('r1', 5);
  // The spy sees the pages it subscribed to (sync/res) but never an ack: the marker is page 5, sent after the ack was handled.
  await until(() => forwarded.filter((x) => x === topics.syncResponse(NS, 'fol')).length >= 5, { what: 'the spy seeing page 5' });
  assert.ok(!forwarded.includes(topics.syncAck(NS, 'fol')), 'no ack forwarded');
});
