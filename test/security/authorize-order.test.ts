/**
 * The ACL and the hub are composed explicitly (broker/authorize.ts), not by one hook wrapping
 * whichever the other installed first. Whatever order the three set-up steps run in (compose,
 * attach the hub, attach the guard), both hold over MQTT: a put's PUBACK is written only once it
 * is in the hub replica (write before ack), and a publish or subscribe the ACL forbids is refused.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { Guard } from '../../broker/auth.js';
import { authorize } from '../../broker/authorize.js';
import { Hub } from '../../broker/hub.js';
import { hashPassword, saveUsers } from '../../src/auth/users.js';
import { createContext } from '../../src/context.js';
import { Replica } from '../../src/sync/replica.js';
import { encodePut } from '../../src/wire/codec.js';
import { granted } from '../helpers/suback.js';
import { tempDir } from '../helpers/tmp.js';

type Step = 'authorize' | 'hub' | 'guard';
const ORDERS: Step[][] = [
  ['authorize', 'hub', 'guard'],
  ['authorize', 'guard', 'hub'],
  ['hub', 'authorize', 'guard'],
  ['hub', 'guard', 'authorize'],
  ['guard', 'authorize', 'hub'],
  ['guard', 'hub', 'authorize'],
];

/** The key a put's PUBACK was let through for, and whether it was in the replica at that moment. */
interface AckSeen {
  key: string;
  inReplica: boolean;
}

async function brokerIn(t: TestContext, usersFile: string, order: Step[]): Promise<{ url: string; replica: Replica; hub: Hub; acks: AckSeen[] }> {
  const dir = tempDir(t);
  const replica = await Replica.open({ dataDir: join(dir, 'hub'), changeLog: true });
  const ctx = createContext();
  const guard = new Guard(ctx, { usersFile });
  const hub = new Hub(ctx, { replica });
  const aedes = await Aedes.createBroker();
  for (const step of order) {
    if (step === 'authorize') authorize(aedes, hub, guard);
    else if (step === 'hub') hub.attach(aedes);
    else guard.attach(aedes);
  }
  // Watches the wire from outside: the moment a PUBACK is written (the hub writes it itself,
  // broker/put-ack.ts), is the client's last put stored?
  const acks: AckSeen[] = [];
  let lastPut = '';
  const composed = aedes.authorizePublish;
  aedes.authorizePublish = (client, packet, cb) => {
    if (packet.topic.includes('/put/')) lastPut = (JSON.parse(packet.payload.toString()) as { u: { k: string }[] }).u[0]?.k ?? '';
    composed.call(aedes, client, packet, cb);
  };
  const server: Server = createServer((socket) => {
    const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
    socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
      if (Buffer.isBuffer(chunk) && chunk[0] === 0x40) acks.push({ key: lastPut, inReplica: replica.get(lastPut) !== undefined });
      return write(chunk, ...rest);
    }) as typeof socket.write;
    aedes.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await new Promise((resolve) => server.close(resolve));
    await hub.detach();
    await replica.close();
  });
  return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, replica, hub, acks };
}

test('authorize: ACL and write-before-ack hold whatever the attach order', { timeout: 60_000 }, async (t) => {
  const usersFile = join(tempDir(t), 'users.json');
  saveUsers(usersFile, { version: 1, users: { 'pi-7': { role: 'device', ...(await hashPassword('pw')), ns: ['default'] } } });
  for (const order of ORDERS) {
    const what = order.join(' → ');
    const { url, replica, hub, acks } = await brokerIn(t, usersFile, order);
    const client = await mqtt.connectAsync(url, { clientId: 'hamsync-pi-7', username: 'pi-7', password: 'pw', reconnectPeriod: 0 });
    t.after(() => client.endAsync(true));

    // Write before ack: when the PUBACK arrives, the update is already in the hub replica.
    const key = `pi-7/order/${order.join('-')}`;
    await client.publishAsync('hamsync/default/put/pi-7', encodePut('pi-7', [{ key, state: Date.now(), text: '42' }]), { qos: 1 });
    assert.deepEqual(acks, [{ key, inReplica: true }], `${what}: the put was in the replica when its PUBACK was written`);
    assert.equal(replica.get(key)?.value, 42);

    // ACL, subscribe: another device's sync responses are refused (granted 128).
    assert.deepEqual(await granted(client, ['hamsync/default/sync/res/pi-8']), [128], `${what}: subscribe refused by the ACL`);
    assert.equal(hub.counters.get('acl.denied.subscribe'), 1, `${what}: counted`);

    // ACL, publish: a put on another device's topic gets no PUBACK, closes the client, and stores nothing.
    const outcome = await new Promise<string>((resolve) => {
      client.once('close', () => resolve('closed'));
      client.publish('hamsync/default/put/pi-8', encodePut('pi-8', [{ key: 'pi-8/forged', state: Date.now(), text: '1' }]), { qos: 1 }, (err) => resolve(err ? 'closed' : 'acknowledged'));
    });
    assert.equal(outcome, 'closed', `${what}: the forged put is not acknowledged; the client is disconnected`);
    assert.equal(replica.get('pi-8/forged'), undefined, `${what}: the forged put was not stored`);
    assert.equal(hub.counters.get('acl.denied.publish'), 1, `${what}: publish refused by the ACL`);
  }
});
