/**
 * Authentication and ACLs live over MQTT against an in-process broker started with a users file:
 * refused logins (CONNACK codes), anonymous access, a failed login with a taken client id, a
 * smaller ACL matrix, will topics, and daemons with credentials syncing through the hub.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import { hashPassword, saveUsers, type Role, type UsersFile } from '../../src/auth/users.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { encodePut } from '../../src/wire/codec.js';
import { granted } from '../helpers/suback.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, until } from '../helpers/wait.js';

const PASSWORDS: Record<string, [Role, string]> = {
  'pi-7': ['device', 'pw-pi-7'],
  'pi-8': ['device', 'pw-pi-8'],
  dash: ['observer', 'pw-dash'],
  root: ['admin', 'pw-root'],
};

async function writeUsers(file: string): Promise<void> {
  const users: UsersFile = { version: 1, users: {} };
  for (const [id, [role, pw]] of Object.entries(PASSWORDS)) users.users[id] = { role, ...(await hashPassword(pw)), ns: ['default'] };
  saveUsers(file, users);
}

/** A broker requiring logins; closed when the test ends unless `manualClose` (then stop what uses it first). */
async function authBroker(t: TestContext, allowAnonymous = false, manualClose = false): Promise<{ broker: RunningBroker; dir: string; url: string; usersFile: string }> {
  const dir = tempDir(t);
  const usersFile = join(dir, 'users.json');
  await writeUsers(usersFile);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile, allowAnonymous } });
  if (!manualClose) t.after(() => broker.close());
  return { broker, dir, usersFile, url: `mqtt://127.0.0.1:${broker.port}` };
}

/** Connects; resolves with the client, or with the CONNACK return code / error of a refusal. */
async function tryConnect(t: TestContext, url: string, options: IClientOptions): Promise<{ client?: MqttClient; code?: number; err?: Error }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  t.after(() => client.endAsync(true).catch(() => undefined));
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client }));
    client.once('error', (err) => resolve({ code: (err as { code?: number }).code, err }));
    client.once('close', () => resolve({ err: new Error('closed before CONNACK') }));
  });
}

const login = (id: string, clientId = `hamsync-${id}`): IClientOptions => ({ clientId, username: id, password: PASSWORDS[id]?.[1] ?? 'x' });

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));
}

test('auth: wrong password and unknown user get CONNACK 4, no credentials 5; counted', async (t) => {
  const { broker, url } = await authBroker(t);
  const wrong = await tryConnect(t, url, { clientId: 'hamsync-pi-7', username: 'pi-7', password: 'nope' });
  assert.equal(wrong.code, 4, String(wrong.err));
  const unknown = await tryConnect(t, url, { clientId: 'hamsync-ghost', username: 'ghost', password: 'pw-pi-7' });
  assert.equal(unknown.code, 4, String(unknown.err));
  const anon = await tryConnect(t, url, { clientId: 'viewer' });
  assert.equal(anon.code, 5, String(anon.err));
  const otherId = await tryConnect(t, url, login('pi-7', 'hamsync-pi-8'));
  assert.equal(otherId.code, 2, String(otherId.err));
  const ok = await tryConnect(t, url, login('pi-7'));
  assert.ok(ok.client?.connected, String(ok.err));
  assert.equal(broker.hub.counters.get('auth.failed'), 4);
  assert.equal(broker.hub.counters.get('auth.failed.bad-password'), 1);
  assert.equal(broker.hub.counters.get('auth.failed.unknown-user'), 1);
  assert.equal(broker.hub.counters.get('auth.failed.no-credentials'), 1);
  assert.equal(broker.hub.counters.get('auth.ok'), 1);
});

test('auth: --allow-anonymous lets clients without credentials in as read-only observers', async (t) => {
  const { broker, url } = await authBroker(t, true);
  const anon = await tryConnect(t, url, { clientId: 'viewer' });
  assert.ok(anon.client, String(anon.err));
  assert.deepEqual(await granted(anon.client, ['hamsync/default/state/#', 'hamsync/default/put/+']), [1, 128]);
  // A wrong password is still refused: anonymity is only for clients that send no username.
  assert.equal((await tryConnect(t, url, { clientId: 'viewer2', username: 'pi-7', password: 'nope' })).code, 4);
  const gone = closed(anon.client);
  anon.client.publish('hamsync/default/put/viewer', encodePut('viewer', [{ key: 'a', state: 1, text: '1' }]), { qos: 1 });
  await gone;
  assert.equal(broker.hub.counters.get('acl.denied.publish'), 1);
  assert.equal(broker.replica.get('a'), undefined);
});

test('auth: a failed login with the client id of a connected client does not disconnect it', async (t) => {
  const { broker, url } = await authBroker(t);
  const real = await tryConnect(t, url, { ...login('pi-7'), clean: false });
  assert.ok(real.client, String(real.err));
  let closes = 0;
  real.client.on('close', () => closes++);
  for (const attempt of [
    { clientId: 'hamsync-pi-7', username: 'pi-7', password: 'wrong' },
    { clientId: 'hamsync-pi-7', username: 'ghost', password: 'wrong' },
    { clientId: 'hamsync-pi-7' },
    { clientId: 'hamsync-pi-7', username: 'pi-8', password: 'pw-pi-8' }, // right password, someone else's client id
  ]) {
    const r = await tryConnect(t, url, attempt);
    assert.ok(r.code === 2 || r.code === 4 || r.code === 5, `refused: ${String(r.err)}`);
  }
  await sleep(200);
  assert.equal(closes, 0, 'the real client was never disconnected');
  assert.ok(real.client.connected);
  await real.client.publishAsync('hamsync/default/put/pi-7', encodePut('pi-7', [{ key: 'still/here', state: Date.now(), text: 'true' }]), { qos: 1 });
  assert.equal(broker.replica.get('still/here')?.value, true);
  // The real owner logging in again does take the session over (MQTT 3.1.4-2).
  const again = await tryConnect(t, url, { ...login('pi-7'), clean: false });
  assert.ok(again.client, String(again.err));
  await until(() => closes > 0, { what: 'the old connection taken over' });
});

test('ACL live: device, observer and admin publish and subscribe over MQTT', async (t) => {
  const { broker, url } = await authBroker(t);
  const dev = (await tryConnect(t, url, login('pi-7'))).client;
  const obs = (await tryConnect(t, url, login('dash', 'dashboard'))).client;
  const adm = (await tryConnect(t, url, login('root', 'admin-console'))).client;
  assert.ok(dev && obs && adm);

  const qos = granted;
  assert.deepEqual(await qos(dev, ['hamsync/default/put/+', 'hamsync/default/state/#', 'hamsync/default/sync/res/pi-7', 'hamsync/default/presence/+', 'hamsync/default/sync/res/pi-8', 'hamsync/default/replay/#', '#', '$SYS/#']), [1, 1, 1, 1, 128, 128, 128, 128]);
  assert.deepEqual(await qos(obs, ['hamsync/default/state/#', 'hamsync/default/presence/+', 'hamsync/default/replay/#', 'hamsync/default/put/+', 'hamsync/default/sync/res/+', 'hamsync/other/state/#']), [1, 1, 1, 128, 128, 128]);
  assert.deepEqual(await qos(adm, ['#', '$SYS/#', 'hamsync/+/sync/res/+']), [1, 1, 1]);
  assert.equal(broker.hub.counters.get('acl.denied.subscribe'), 7);

  // Allowed: the device's own put reaches the hub and the admin's subscription.
  const seen: string[] = [];
  adm.on('message', (topic) => seen.push(topic));
  await dev.publishAsync('hamsync/default/put/pi-7', encodePut('pi-7', [{ key: 'pi-7/cpu', state: Date.now(), text: '41' }]), { qos: 1 });
  assert.equal(broker.replica.get('pi-7/cpu')?.value, 41);
  await until(() => seen.includes('hamsync/default/state/pi-7/cpu'), { what: 'admin sees state' });

  // Refused: another device's put topic (payload claims to be that device, too) — disconnected, not stored.
  const gone = closed(dev);
  dev.publish('hamsync/default/put/pi-8', encodePut('pi-8', [{ key: 'pi-8/cpu', state: Date.now(), text: '99' }]), { qos: 1 });
  await gone;
  assert.equal(broker.replica.get('pi-8/cpu'), undefined);
  // Refused: observers publish nothing; admins may not publish on $SYS.
  const obsGone = closed(obs);
  obs.publish('hamsync/default/presence/dash', 'x', { qos: 1 });
  await obsGone;
  const admGone = closed(adm);
  adm.publish('$SYS/fake', 'x', { qos: 1 });
  await admGone;
  assert.equal(broker.hub.counters.get('acl.denied.publish'), 3);
  assert.ok(!seen.includes('hamsync/default/put/pi-8'));
});

test('ACL live: a will aimed at a forbidden topic is refused at CONNECT; an allowed one is kept', async (t) => {
  const { broker, url } = await authBroker(t);
  const bad = await tryConnect(t, url, { ...login('pi-7'), will: { topic: 'hamsync/default/presence/pi-8', payload: Buffer.from('{}'), qos: 1, retain: true } });
  assert.equal(bad.code, 5, String(bad.err));
  const obsWill = await tryConnect(t, url, { ...login('dash', 'dash-1'), will: { topic: 'hamsync/default/presence/dash', payload: Buffer.from('{}'), qos: 0, retain: false } });
  assert.equal(obsWill.code, 5, String(obsWill.err));
  assert.equal(broker.hub.counters.get('acl.denied.will'), 2);
  const good = await tryConnect(t, url, { ...login('pi-7'), will: { topic: 'hamsync/default/presence/pi-7', payload: Buffer.from('{"v":1,"online":false}'), qos: 1, retain: false } });
  assert.ok(good.client, String(good.err));
});

test('daemons with credentials sync through an authenticated broker; one with a wrong password stays offline', async (t) => {
  const { broker, dir, url } = await authBroker(t, false, true);
  const daemons: Daemon[] = [];
  // Stop in dependency order: the daemons, then the broker.
  t.after(async () => {
    for (const d of daemons) await d.stop();
    await broker.close();
  });
  const start = async (id: string, username: string, password: string): Promise<Daemon> => {
    const d = await Daemon.start({ id, broker: url, dataDir: join(dir, id), http: '127.0.0.1:0', username, password });
    daemons.push(d);
    return d;
  };
  const a = await start('pi-7', 'pi-7', 'pw-pi-7');
  const b = await start('pi-8', 'pi-8', 'pw-pi-8');
  const liar = await start('pi-9', 'pi-8', 'wrong');
  await a.put([{ key: 'pi-7/temp', value: 21.5 }]);
  await b.put([{ key: 'pi-8/temp', value: 19 }]);
  await liar.put([{ key: 'pi-9/temp', value: -40 }]);
  await until(() => broker.replica.get('pi-7/temp')?.value === 21.5 && broker.replica.get('pi-8/temp')?.value === 19, { what: 'hub stored both puts' });
  await until(() => a.replica.get('pi-8/temp')?.value === 19 && b.replica.get('pi-7/temp')?.value === 21.5, { what: 'each daemon has the other\'s value' });
  await until(() => broker.hub.counters.get('auth.failed.bad-password') >= 1, { what: 'the wrong password refused' });
  await sleep(300);
  assert.equal(broker.replica.get('pi-9/temp'), undefined);
  assert.equal(broker.hub.counters.get('acl.denied.publish'), 0, 'the daemons publish only where they may');
  assert.equal(broker.hub.counters.get('acl.denied.subscribe'), 0, 'the daemons subscribe only where they may');
});

test('users file: scrypt hashes only, never the password; mode 0600', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'users.json');
  await writeUsers(file);
  const text = fs.readFileSync(file, 'utf8');
  for (const [, pw] of Object.values(PASSWORDS)) assert.ok(!text.includes(pw), 'no password in the file');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const parsed = JSON.parse(text) as UsersFile;
  const rec = parsed.users['pi-7'];
  assert.ok(rec);
  assert.equal(Buffer.from(rec.salt, 'base64').length, 16);
  assert.equal(Buffer.from(rec.hash, 'base64').length, 32);
  assert.deepEqual(fs.readdirSync(dir), ['users.json'], 'no temp file left');
});

test('broker: a bad users file fails the start with HAMSYNC_ERR_USERS or HAMSYNC_ERR_FILE', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'users.json');
  fs.writeFileSync(file, '{"version":1,"users":{"x":{"role":"god","salt":"","hash":""}}}');
  await assert.rejects(startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile: file } }), /HAMSYNC_ERR_USERS/);
  await assert.rejects(startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile: join(dir, 'missing.json') } }), /HAMSYNC_ERR_FILE/);
});
