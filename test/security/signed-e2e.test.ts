/**
 * Signed updates end to end, with the real CLI: a broker (`--users` with the device's `pub`,
 * `--http` for its counters) and daemons (`--signing-key`, `--keys`, `--follow-state`,
 * `--require-signed`).
 *
 *  (a) a signing device's puts are accepted; its signatures reach other daemons live (puts), via
 *      the hub's retained state and via catch-up, and they verify and apply them;
 *  (b) forged puts for that device (wrong key, tampered value or state, no or a malformed
 *      signature), sent with its stolen password, are refused at the hub: no PUBACK, the client
 *      disconnected, nothing stored or forwarded, counted; adding a key to the users file takes
 *      effect at the next login, without a restart;
 *  (d) `--require-signed` on a daemon refuses unsigned updates of devices without keys, and on
 *      a broker (keys from `--keys` only) refuses their puts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { hashPassword, saveUsers, type UsersFile } from '../../src/auth/users.js';
import { canonical } from '../../src/ham/lexical.js';
import { generateSigningKey, savePrivateKey, type SigningKey } from '../../src/sign/key-file.js';
import { publicKeyObject } from '../../src/sign/public-key.js';
import { sign } from '../../src/sign/sign.js';
import { verifyUpdate } from '../../src/sign/verify.js';
import { api, getKey, Harness, historyOf, putApi, statusOf, Watcher, withTimeout, type Proc } from '../helpers/procs.js';
import { sleep, until } from '../helpers/wait.js';

const LOG_LEVEL = process.env.HAMSYNC_E2E_LOG_LEVEL ?? 'info';
const PI7 = generateSigningKey();
const OTHER = generateSigningKey();
const PI8 = generateSigningKey();

interface Running {
  proc: Proc;
  http: string;
  dataDir: string;
}

async function startBroker(h: Harness, name: string, extra: string[]): Promise<Running & { url: string }> {
  const dataDir = h.tempDir(name);
  const proc = h.spawn(name, ['broker', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--http', '127.0.0.1:0', '--log-level', LOG_LEVEL, ...extra]);
  const { port, http } = await proc.listening();
  return { proc, url: `mqtt://127.0.0.1:${String(port)}`, http: `127.0.0.1:${String(http)}`, dataDir };
}

async function startDaemon(h: Harness, id: string, broker: string, extra: string[]): Promise<Running> {
  const dataDir = h.tempDir(id);
  const proc = h.spawn(id, ['daemon', '--id', id, '--broker', broker, '--data-dir', dataDir, '--http', '127.0.0.1:0', '--log-level', LOG_LEVEL, ...extra]);
  const { http } = await proc.listening();
  const d = { proc, http: `127.0.0.1:${String(http)}`, dataDir };
  await until(async () => (await statusOf(d.http)).connected, { what: `${id} connected` });
  return d;
}

async function counters(http: string): Promise<Record<string, number>> {
  const res = await api(http, 'GET', '/v1/status');
  assert.equal(res.status, 200);
  return (res.body as { counters: Record<string, number> }).counters;
}

const signedUpdate = (key: SigningKey, src: string, k: string, s: number, v: unknown): { k: string; v: unknown; s: number; g: string } => ({ k, v, s, g: sign(key.privateKey, src, k, s, canonical(v)) });

/** Logs in as `user` (a stolen password), publishes one put, and says whether it was acknowledged or the broker cut the connection. */
async function putAs(url: string, user: string, password: string, device: string, payload: unknown): Promise<'acked' | 'disconnected'> {
  const client: MqttClient = await mqtt.connectAsync(url, { clientId: `hamsync-${user}.forger-${Math.random().toString(16).slice(2, 8)}`, username: user, password, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    const closed = new Promise<'disconnected'>((resolve) => client.once('close', () => resolve('disconnected')));
    const acked = new Promise<'acked'>((resolve) => client.publish(`hamsync/default/put/${device}`, JSON.stringify(payload), { qos: 1 }, (err) => (err ? undefined : resolve('acked'))));
    return await withTimeout(Promise.race([acked, closed]), 5000, 'a PUBACK or a disconnect');
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

const verifies = (pub: string, view: { k: string; v: unknown; s: number; src: string; g?: string } | undefined): boolean =>
  view?.g !== undefined && verifyUpdate(publicKeyObject(pub), view.src, view.k, view.s, canonical(view.v), view.g);

test('signed updates through the hub: accepted, relayed with their signatures, forgeries refused', { timeout: 90_000 }, async (t) => {
  const h = new Harness(t);
  const dir = h.tempDir('keys');
  const keyFile = join(dir, 'pi-7.key');
  savePrivateKey(keyFile, PI7.privateKey);
  const usersFile = join(dir, 'users.json');
  const users: UsersFile = { version: 1, users: {} };
  const pw: Record<string, string> = { 'pi-7': 'pw-pi-7', 'pi-8': 'pw-pi-8', peer: 'pw-peer', late: 'pw-late', strict: 'pw-strict', old: 'pw-old', root: 'pw-root' };
  for (const [id, p] of Object.entries(pw)) users.users[id] = { role: id === 'root' ? 'admin' : 'device', ...(await hashPassword(p)) };
  (users.users['pi-7'] as { pub?: string }).pub = PI7.pub;
  saveUsers(usersFile, users);
  const keysFile = join(dir, 'keys.json');
  fs.writeFileSync(keysFile, JSON.stringify({ version: 1, keys: { 'pi-7': PI7.pub } }));
  const login = (id: string): string[] => ['--username', id, '--password', pw[id] as string];

  const hub = await startBroker(h, 'hub', ['--users', usersFile]);
  const watch = new Watcher(await mqtt.connectAsync(hub.url, { clientId: 'e2e-sig-watch', username: 'root', password: pw.root, clean: true, reconnectPeriod: 0 }));
  h.defer(() => watch.client.endAsync(true));
  await watch.client.subscribeAsync(['hamsync/default/state/#', 'hamsync/default/put/+'], { qos: 1 });
  const pi7 = await startDaemon(h, 'pi-7', hub.url, [...login('pi-7'), '--signing-key', keyFile]);
  const peer = await startDaemon(h, 'peer', hub.url, [...login('peer'), '--keys', keysFile]);
  const strict = await startDaemon(h, 'strict', hub.url, [...login('strict'), '--keys', keysFile, '--require-signed']);
  const old = await startDaemon(h, 'old', hub.url, login('old'));

  // (a) Signed puts: accepted by the hub (verified), stored by the device itself with its signatures.
  const puts = await putApi(pi7.http, [
    { k: 'pi-7/temp', v: 21.5 },
    { k: 'pi-7/gps', v: { lat: 52.1, lon: 4.3 } },
  ]);
  assert.deepEqual(puts.map((p) => p.decision), ['apply', 'apply']);
  const own = await getKey(pi7.http, 'pi-7/temp');
  assert.ok(verifies(PI7.pub, own), `the device stores its own signature: ${JSON.stringify(own)}`);
  // An unsigned device without a key (the legacy path) is unchanged.
  await putApi(old.http, [{ k: 'old/x', v: 'plain' }]);

  for (const k of ['pi-7/temp', 'pi-7/gps']) {
    // Live, through the put the hub forwards: the peer verifies and applies it, with the signature.
    const seen = await until(async () => getKey(peer.http, k), { what: `${k} at peer` });
    assert.ok(verifies(PI7.pub, seen), `${k} at peer carries a valid signature: ${JSON.stringify(seen)}`);
    // The hub's retained state carries the device's own signature.
    const state = await until(() => watch.last(`hamsync/default/state/${k}`)?.json as { v: unknown; s: number; src: string; g?: string } | undefined, { what: `state of ${k}` });
    assert.ok(verifies(PI7.pub, { k, ...state }), `state message of ${k} verifies: ${JSON.stringify(state)}`);
    // The strict peer applies signed updates of a device it has a key for.
    assert.ok(verifies(PI7.pub, await until(async () => getKey(strict.http, k), { what: `${k} at strict` })));
  }
  await until(async () => getKey(peer.http, 'old/x'), { what: 'the unsigned update at the peer' });
  const hubCounters = await counters(hub.http);
  assert.ok((hubCounters['sig.verified'] ?? 0) >= 2, `hub verified the signed puts: ${JSON.stringify(hubCounters)}`);
  assert.ok(((await statusOf(peer.http)).counters['sig.verified'] ?? 0) >= 2, 'peer verified them');

  // (d) The strict daemon refuses the unsigned update of a device it has no key for; counted.
  await until(async () => ((await statusOf(strict.http)).counters['sig.refused.unknown-source'] ?? 0) >= 1, { what: 'strict refusal counted' });
  assert.equal(await getKey(strict.http, 'old/x'), undefined, 'not applied under --require-signed');
  assert.match(strict.proc.stderr, /"msg":"signature refused: not applied".*"code":"HAMSYNC_ERR_SIGNATURE"/);

  // Catch-up and retained state: a daemon started now gets both; it verifies each (2 per key).
  const late = await startDaemon(h, 'late', hub.url, [...login('late'), '--keys', keysFile, '--follow-state', '--subscribe', 'pi-7/#']);
  for (const k of ['pi-7/temp', 'pi-7/gps']) assert.ok(verifies(PI7.pub, await until(async () => getKey(late.http, k), { what: `${k} at late` })));
  await until(async () => ((await statusOf(late.http)).counters['sig.verified'] ?? 0) >= 4, { what: 'late verified catch-up and state (4 signatures)' });
  // The retained state messages may bring the keys before the feed's last page is stored and acknowledged.
  const lateStatus = await until(async () => {
    const st = await statusOf(late.http);
    return (st.counters['sync.completed'] ?? 0) >= 1 ? st : undefined;
  }, { what: 'its catch-up completed' });
  assert.equal(lateStatus.counters['rejected.HAMSYNC_ERR_SIGNATURE'] ?? 0, 0);

  // (b) Forgeries with pi-7's password but not its key: refused at the hub, client disconnected.
  const s = Date.now() - 1000;
  const genuine = signedUpdate(PI7, 'pi-7', 'pi-7/temp', s, 99);
  const forgeries: [string, unknown][] = [
    ['wrong key', { src: 'pi-7', u: [signedUpdate(OTHER, 'pi-7', 'pi-7/forged-1', s, 1)] }],
    ['tampered value', { src: 'pi-7', u: [{ ...genuine, v: -40 }] }],
    ['tampered state', { src: 'pi-7', u: [{ ...genuine, s: s + 5 }] }],
    ['no signature', { src: 'pi-7', u: [{ k: 'pi-7/forged-2', v: 2, s }] }],
    ['malformed signature', { src: 'pi-7', u: [{ k: 'pi-7/forged-3', v: 3, s, g: 'AAAA' }] }],
    ['one bad among good', { src: 'pi-7', u: [signedUpdate(PI7, 'pi-7', 'pi-7/forged-4', s, 4), { ...signedUpdate(PI7, 'pi-7', 'pi-7/forged-5', s, 5), v: 6 }] }],
  ];
  for (const [what, payload] of forgeries) assert.equal(await putAs(hub.url, 'pi-7', pw['pi-7'] as string, 'pi-7', payload), 'disconnected', what);
  // The same stolen login with a genuine signed update goes through: it is the signature that counts.
  assert.equal(await putAs(hub.url, 'pi-7', pw['pi-7'] as string, 'pi-7', { src: 'pi-7', u: [signedUpdate(PI7, 'pi-7', 'pi-7/replayed-ok', s, 7)] }), 'acked');
  await until(async () => getKey(peer.http, 'pi-7/replayed-ok'), { what: 'the genuine one at the peer' });
  const c = await counters(hub.http);
  assert.equal(c['rejected.HAMSYNC_ERR_SIGNATURE'], forgeries.length, JSON.stringify(c));
  assert.equal(c['sig.refused.invalid'], 4);
  assert.equal(c['sig.refused.missing'], 1);
  assert.equal(c['sig.refused.malformed'], 1);
  assert.match(hub.proc.stderr, /"msg":"signature refused: message dropped, disconnecting the client".*"code":"HAMSYNC_ERR_SIGNATURE"/);
  // Not stored, not forwarded, live value untouched.
  for (const k of ['pi-7/forged-1', 'pi-7/forged-2', 'pi-7/forged-3', 'pi-7/forged-4', 'pi-7/forged-5']) {
    assert.equal(await getKey(peer.http, k), undefined, `${k} not at the peer`);
    assert.equal(watch.messages.filter((m) => m.text.includes(k)).length, 0, `${k} never published or forwarded`);
  }
  assert.equal((await getKey(peer.http, 'pi-7/temp'))?.v, 21.5, 'the live value kept');
  assert.equal(watch.messages.filter((m) => m.text.includes('-40')).length, 0);
  assert.deepEqual((await historyOf(peer.http, 'pi-7/temp')).map((r) => r.v), [21.5]);

  // Key management without a restart: pi-8 puts unsigned; once the users file has a key for it,
  // the hub (at the next login) refuses its unsigned puts and takes signed ones.
  assert.equal(await putAs(hub.url, 'pi-8', pw['pi-8'] as string, 'pi-8', { src: 'pi-8', u: [{ k: 'pi-8/a', v: 1, s }] }), 'acked');
  (users.users['pi-8'] as { pub?: string }).pub = PI8.pub;
  await sleep(20); // a different mtime for the reload check
  saveUsers(usersFile, users);
  assert.equal(await putAs(hub.url, 'pi-8', pw['pi-8'] as string, 'pi-8', { src: 'pi-8', u: [{ k: 'pi-8/b', v: 2, s }] }), 'disconnected');
  assert.equal(await putAs(hub.url, 'pi-8', pw['pi-8'] as string, 'pi-8', { src: 'pi-8', u: [signedUpdate(PI8, 'pi-8', 'pi-8/c', s, 3)] }), 'acked');
  await until(async () => getKey(peer.http, 'pi-8/c'), { what: 'pi-8 signed update at the peer' });
  assert.equal(await getKey(peer.http, 'pi-8/b'), undefined);
  assert.match(hub.proc.stderr, /"msg":"public keys reloaded".*"keys":2/);

  // The signing daemon keeps working after all this (its own session was never touched).
  await putApi(pi7.http, [{ k: 'pi-7/temp', v: 22 }]);
  await until(async () => (await getKey(peer.http, 'pi-7/temp'))?.v === 22, { what: 'a later signed put at the peer' });
  assert.equal((await statusOf(pi7.http)).outbox.messages, 0, 'the device outbox drained');
  await h.stopAll();
});

test('--require-signed on the broker: keys from --keys only; unsigned puts of unknown devices refused, signed ones taken', { timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  const dir = h.tempDir('keys');
  const keysFile = join(dir, 'keys.json');
  fs.writeFileSync(keysFile, JSON.stringify({ version: 1, keys: { 'pi-7': PI7.pub } }));
  const keyFile = join(dir, 'pi-7.key');
  savePrivateKey(keyFile, PI7.privateKey);
  const hub = await startBroker(h, 'strict-hub', ['--keys', keysFile, '--require-signed']);
  const pi7 = await startDaemon(h, 'pi-7', hub.url, ['--signing-key', keyFile]);
  // A device without a signing key: its put is refused (no PUBACK, disconnect), kept in its outbox.
  // Peer mode: a device whose every put is refused is disconnected at each try, so a hub feed
  // would restart at each reconnect; the put topics reach it through its persistent session.
  // Its reconnect delay is capped at 1 s: refused at every try, it would otherwise back off up to
  // a minute between sessions, and the relayed put only reaches it while it is connected.
  const legacy = await startDaemon(h, 'legacy', hub.url, ['--keys', keysFile, '--sync', 'peer', '--reconnect-max', '1s']);
  await putApi(pi7.http, [{ k: 'pi-7/a', v: 1 }]);
  await putApi(legacy.http, [{ k: 'legacy/a', v: 1 }]);
  await until(async () => getKey(legacy.http, 'pi-7/a'), { what: 'the signed put relayed', timeoutMs: 30_000 });
  await until(async () => ((await counters(hub.http))['sig.refused.unknown-source'] ?? 0) >= 1, { what: 'the unsigned put refused' });
  const st = await statusOf(legacy.http);
  assert.ok(st.outbox.updates >= 1, `the refused update waits in the device's outbox: ${JSON.stringify(st.outbox)}`);
  assert.equal(await getKey(pi7.http, 'legacy/a'), undefined, 'not relayed');
  const c = await counters(hub.http);
  assert.ok((c['sig.verified'] ?? 0) >= 1);
  assert.equal(c['rejected.HAMSYNC_ERR_SIGNATURE'], c['sig.refused.unknown-source']);
  await h.stopAll();
});
