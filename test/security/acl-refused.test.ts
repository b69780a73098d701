/**
 * HAMSYNC_ERR_ACL raised for real: a logged-in device publishing on another device's put topic
 * is refused by the broker's access rules (disconnected, counted, logged with the code) and
 * nothing of it is stored.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { startBroker } from '../../broker/server.js';
import { hashPassword, saveUsers, type UsersFile } from '../../src/auth/users.js';
import { createLogger } from '../../src/log.js';
import { encodePut } from '../../src/wire/codec.js';
import { tempDir } from '../helpers/tmp.js';

test('a device publishing on another device\'s put topic is refused with HAMSYNC_ERR_ACL', async (t) => {
  const dir = tempDir(t);
  const usersFile = join(dir, 'users.json');
  const users: UsersFile = { version: 1, users: {} };
  for (const id of ['pi-7', 'pi-8']) users.users[id] = { role: 'device', ...(await hashPassword(`pw-${id}`)), ns: ['default'] };
  saveUsers(usersFile, users);
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('warn', {}, (line) => void lines.push(JSON.parse(line) as Record<string, unknown>));
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile }, log });
  t.after(() => broker.close());
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'hamsync-pi-7', username: 'pi-7', password: 'pw-pi-7', reconnectPeriod: 0 });
  t.after(() => client.endAsync(true).catch(() => undefined));
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  // Refused: the broker closes the connection, no PUBACK. (Accepted, the PUBACK would win the race.)
  const acked = client.publishAsync('hamsync/default/put/pi-8', encodePut('pi-8', [{ key: 'pi-8/spoofed', state: Date.now(), text: '1' }]), { qos: 1 }).then(
    () => 'acknowledged',
    () => 'failed',
  );
  assert.equal(await Promise.race([closed.then(() => 'closed'), acked]), 'closed');
  assert.equal(broker.hub.counters.get('acl.denied.publish'), 1);
  const refusal = lines.find((l) => l.code === 'HAMSYNC_ERR_ACL');
  assert.ok(refusal, `the refusal is logged with code HAMSYNC_ERR_ACL: ${JSON.stringify(lines)}`);
  assert.equal(refusal?.topic, 'hamsync/default/put/pi-8');
  assert.equal(broker.replica.get('pi-8/spoofed'), undefined, 'nothing stored');
});

test('a cluster node user (role node) may not put: refused with HAMSYNC_ERR_ACL, nothing stored', async (t) => {
  const dir = tempDir(t);
  const usersFile = join(dir, 'users.json');
  saveUsers(usersFile, { version: 1, users: { 'hub-node': { role: 'node', ...(await hashPassword('pw-node')) } } });
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile }, log: createLogger('silent') });
  t.after(() => broker.close());
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'hamsync-hub-node', username: 'hub-node', password: 'pw-node', reconnectPeriod: 0 });
  t.after(() => client.endAsync(true).catch(() => undefined));
  // What a peer snapshot needs is granted (subscribe and sync/req), checked before the refused put.
  const granted = await client.subscribeAsync(['hamsync/default/sync/res/hub-node', 'hamsync/default/hub'], { qos: 1 });
  assert.deepEqual(granted.map((g) => g.qos), [1, 1]);
  const refusedSub = await client.subscribeAsync('hamsync/default/state/#', { qos: 1 }).then(() => 'granted', (err: Error) => `refused: ${err.message}`);
  assert.match(refusedSub, /^refused/, 'a node reads only through its sync feed');
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  const acked = client.publishAsync('hamsync/default/put/hub-node', encodePut('hub-node', [{ key: 'node/written', state: Date.now(), text: '1' }]), { qos: 1 }).then(
    () => 'acknowledged',
    () => 'failed',
  );
  assert.equal(await Promise.race([closed.then(() => 'closed'), acked]), 'closed');
  assert.equal(broker.hub.counters.get('acl.denied.publish'), 1);
  assert.equal(broker.replica.get('node/written'), undefined, 'nothing stored');
});
