/**
 * Whom a data directory belongs to (src/store/identity.ts): recorded at the first start, checked
 * at every later one; an outbox message of another device is never sent (src/daemon/forwarder.ts).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import { Forwarder } from '../../src/daemon/forwarder.js';
import { isHamsyncError } from '../../src/errors.js';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { createLogger } from '../../src/log.js';
import { OWNER_KEY, putSource, type DataDirOwner } from '../../src/store/identity.js';
import { openStore } from '../../src/store/open.js';
import { Outbox } from '../../src/store/outbox.js';
import { Replica } from '../../src/sync/replica.js';
import { encodePut } from '../../src/wire/codec.js';
import { tempDir } from '../helpers/tmp.js';

const EARTH: DataDirOwner = { role: 'daemon', id: 'earth', ns: 'default' };

function put(src: string, key: string): string {
  return encodePut(src, [{ key, state: 1, text: '1' }]);
}

/** A data dir from before owners were recorded, whose outbox holds `payloads`. */
async function oldDir(t: TestContext, payloads: string[]): Promise<string> {
  const dir = tempDir(t);
  const store = openStore(dir);
  const outbox = new Outbox(store);
  for (const p of payloads) outbox.append(p, 1);
  await store.root.committed;
  await store.root.close();
  return dir;
}

async function open(dir: string, owner: DataDirOwner): Promise<Replica> {
  return Replica.open({ dataDir: dir, clock: new ManualClock(0), owner });
}

async function refused(dir: string, owner: DataDirOwner, match: RegExp): Promise<void> {
  await assert.rejects(open(dir, owner), (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_IDENTITY') && match.test(err.message));
}

test('the first start records the owner; another id, namespace or role is refused, the owner is not', async (t) => {
  const dir = tempDir(t);
  await (await open(dir, EARTH)).close();
  await refused(dir, { role: 'daemon', id: 'venus', ns: 'default' }, /belongs to daemon "earth" in namespace "default", not to daemon "venus" in namespace "default"/);
  await refused(dir, { role: 'daemon', id: 'earth', ns: 'mars' }, /not to daemon "earth" in namespace "mars"/);
  await refused(dir, { role: 'broker', ns: 'default' }, /not to broker in namespace "default"/);
  const again = await open(dir, EARTH);
  await again.close();
  const store = openStore(dir, { readOnly: true });
  assert.deepEqual(store.meta.get(OWNER_KEY), EARTH);
  await store.root.close();
});

test('a data dir from before owners: refused when its outbox holds another device\'s puts, claimed by that device', async (t) => {
  const dir = await oldDir(t, [put('earth', 'a'), put('earth', 'b')]);
  await refused(dir, { role: 'daemon', id: 'venus', ns: 'default' }, /holds 2 queued put message\(s\) of device "earth" not yet sent to the broker; starting it as daemon "venus" .* would lose them/);
  await refused(dir, { role: 'broker', ns: 'default' }, /of device "earth"/);
  const r = await open(dir, EARTH);
  assert.equal(r.outbox().size().messages, 2, 'the outbox kept both');
  await r.close();
  // A broker dir from before owners (no outbox) is claimed too.
  const hub = await oldDir(t, []);
  await (await open(hub, { role: 'broker', ns: 'default' })).close();
  await refused(hub, EARTH, /belongs to broker in namespace "default"/);
});

test('putSource reads the src of a put message, quoted names included', () => {
  assert.equal(putSource(put('earth', 'k')), 'earth');
  assert.equal(putSource('{"u":[],"src":"late"}'), 'late', 'not first: parsed whole');
  assert.equal(putSource('not json'), undefined);
});

test('the forwarder never sends an outbox message of another device: it stops there, keeps it, and logs it once', async (t) => {
  const dir = tempDir(t);
  const store = openStore(dir);
  t.after(() => store.root.close());
  const outbox = new Outbox(store);
  outbox.append(put('earth', 'a'), 1);
  outbox.append(put('venus', 'b'), 1);
  outbox.append(put('earth', 'c'), 1);
  await store.root.committed;
  const sent: string[] = [];
  const client = {
    connected: true,
    publish: (_topic: string, payload: string, _opts: unknown, cb: (err?: Error) => void) => {
      sent.push(payload);
      setImmediate(() => cb());
    },
  } as unknown as MqttClient;
  const lines: string[] = [];
  const log = createLogger('debug', {}, (l) => lines.push(l));
  const forwarder = new Forwarder(outbox, 'hamsync/default/put/earth', 8, log, () => undefined, 'earth');
  forwarder.connected(client);
  await forwarder.drained(5000);
  assert.deepEqual(sent, [put('earth', 'a')], 'only the message before the foreign one was sent');
  assert.deepEqual(forwarder.held, { code: 'HAMSYNC_ERR_IDENTITY', seq: 2, src: 'venus' });
  await store.root.committed;
  assert.deepEqual([...outbox.entries()].map((e) => e.seq), [2, 3], 'the foreign message and the one after it stay queued');
  forwarder.kick();
  assert.equal(sent.length, 1, 'a later kick sends nothing either');
  const errors = lines.filter((l) => l.includes('HAMSYNC_ERR_IDENTITY'));
  assert.equal(errors.length, 1, 'logged once');
  assert.match(errors[0] as string, /"src":"venus"/);
});
