/**
 * (c) A compromised broker. The "broker" here is the Mosquitto on 127.0.0.1:1883 (no hub at all),
 * in a namespace of its own; this test plays the attacker who controls it and publishes, by
 * hand, put, state and sync v2 messages (posing as a hub) for a signing device (pi-7) to a peer daemon that has
 * pi-7's public key (`--keys`, `--follow-state`). Forged updates (wrong key, a genuine signature
 * on another state or value, no signature) are refused and counted on every path; genuine
 * signed ones from the same source, in the same messages, are applied; updates of sources
 * without a key still flow (no `--require-signed`).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { canonical } from '../../src/ham/lexical.js';
import { generateSigningKey, type SigningKey } from '../../src/sign/key-file.js';
import { publicKeyObject } from '../../src/sign/public-key.js';
import { sign } from '../../src/sign/sign.js';
import { verifyUpdate } from '../../src/sign/verify.js';
import { connectMqtt, getKey, Harness, historyOf, probeTcp, statusOf, uniqueId } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';

const HOST = '127.0.0.1';
const PORT = 1883;
const URL = `mqtt://${HOST}:${PORT}`;
const LOG_LEVEL = process.env.HAMSYNC_E2E_LOG_LEVEL ?? 'info';
const PI7 = generateSigningKey();
const MALLORY = generateSigningKey();

interface Wire {
  k: string;
  v: unknown;
  s: number;
  src?: string;
  g?: string;
}

const signedBy = (key: SigningKey, k: string, s: number, v: unknown): Wire => ({ k, v, s, g: sign(key.privateKey, 'pi-7', k, s, canonical(v)) });

test('a peer with the device\'s key refuses forged updates from a compromised broker, on every path, and applies the genuine ones', { timeout: 60_000 }, async (t) => {
  try {
    await probeTcp(HOST, PORT, 2000);
  } catch (err) {
    assert.fail(`Mosquitto is not reachable on ${HOST}:${PORT} (${(err as Error).message}); this test needs it running (CI's .ci/run starts it).`);
  }
  const ns = uniqueId('sig');
  const peerId = uniqueId('peer');
  const h = new Harness(t);
  h.defer(async () => {
    // Leave nothing on the shared broker: the peer's retained presence and its persistent session.
    const c = await connectMqtt(URL, 'cleanup');
    try {
      await c.publishAsync(`hamsync/${ns}/presence/${peerId}`, '', { qos: 1, retain: true });
    } finally {
      await c.endAsync();
    }
    const s = await mqtt.connectAsync(URL, { clientId: `hamsync-${peerId}`, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
    await s.endAsync();
  });
  const dir = h.tempDir('keys');
  const keysFile = join(dir, 'keys.json');
  fs.writeFileSync(keysFile, JSON.stringify({ version: 1, keys: { 'pi-7': PI7.pub } }));
  const dataDir = h.tempDir('peer');
  const proc = h.spawn('peer', ['daemon', '--id', peerId, '--broker', URL, '--ns', ns, '--data-dir', dataDir, '--http', '127.0.0.1:0', '--log-level', LOG_LEVEL, '--keys', keysFile, '--follow-state']);
  const http = `127.0.0.1:${String((await proc.listening()).http)}`;
  await until(async () => (await statusOf(http)).connected, { what: 'peer connected to Mosquitto' });
  const mallory = await h.mqtt(URL, 'mallory');
  const pub = (topic: string, payload: unknown): Promise<unknown> => mallory.publishAsync(`hamsync/${ns}/${topic}`, JSON.stringify(payload), { qos: 1 });
  const counter = async (name: string): Promise<number> => (await statusOf(http)).counters[name] ?? 0;
  const s = Date.now() - 60_000;

  // Genuine updates, on each path: a put, a state message, a catch-up answer.
  const a = signedBy(PI7, 'pi-7/a', s, 1);
  await pub('put/pi-7', { src: 'pi-7', u: [a] });
  const d = signedBy(PI7, 'pi-7/d', s, 'genuine state');
  await pub('state/pi-7/d', { v: d.v, s: d.s, src: 'pi-7', g: d.g });
  // Forgeries: a put signed by another key, and the genuine signature of `a` on a newer state (a rewrite).
  await pub('put/pi-7', { src: 'pi-7', u: [signedBy(MALLORY, 'pi-7/b', s, 2)] });
  await pub('put/pi-7', { src: 'pi-7', u: [{ ...a, s: s + 1000, v: 1 }] });
  // A state message with a tampered value under a genuine signature, and one with no signature.
  const c = signedBy(PI7, 'pi-7/c', s, 'said');
  await pub('state/pi-7/c', { v: 'never said', s: c.s, src: 'pi-7', g: c.g });
  await pub('state/pi-7/e', { v: 'unsigned', s, src: 'pi-7' });
  // A source without a key is not checked (no --require-signed).
  await pub('state/legacy/x', { v: 'old device', s, src: 'legacy' });
  await until(async () => (await counter('rejected.HAMSYNC_ERR_SIGNATURE')) >= 4, { what: 'four refusals counted (puts and state)' });
  // The attacker also poses as a v2 hub: it announces one, and answers the peer's sync request
  // with a page mixing a genuine update, a forged rewrite of `a`, and an unsigned legacy one:
  // the forged one is refused alone.
  const requests: { id: string }[] = [];
  mallory.on('message', (topic, payload) => {
    if (topic === `hamsync/${ns}/sync/req/${peerId}`) requests.push(JSON.parse(payload.toString()) as { id: string });
  });
  await mallory.subscribeAsync(`hamsync/${ns}/sync/req/${peerId}`, { qos: 1 });
  await mallory.publishAsync(`hamsync/${ns}/hub`, JSON.stringify({ pv: 2, hub: 'mallory-hub', epoch: 1 }), { qos: 1 });
  const req = await until(() => requests[0], { what: 'the peer asked the posing hub' });
  const f = signedBy(PI7, 'pi-7/f', s, { ok: true });
  await pub(`sync/res/${peerId}`, {
    pv: 2, id: req.id, n: 1, hub: 'mallory-hub', epoch: 1, mode: 'snapshot', snap: true, to: 3, head: 3,
    u: [{ ...f, src: 'pi-7' }, { k: 'pi-7/a', v: 666, s: s + 2000, src: 'pi-7', g: a.g }, { k: 'legacy/y', v: 2, s, src: 'legacy' }],
  });

  await until(async () => (await counter('rejected.HAMSYNC_ERR_SIGNATURE')) >= 5, { what: 'five refusals counted' });
  for (const [k, w] of [['pi-7/a', a], ['pi-7/d', d], ['pi-7/f', f]] as const) {
    const seen = (await until(async () => getKey(http, k), { what: `${k} applied` })) as { v: unknown; s: number; src: string; g?: string };
    assert.deepEqual([seen.v, seen.s, seen.src, seen.g], [w.v, w.s, 'pi-7', w.g], k);
    assert.ok(verifyUpdate(publicKeyObject(PI7.pub), 'pi-7', k, seen.s, canonical(seen.v), seen.g), `${k} verifies`);
  }
  await until(async () => getKey(http, 'legacy/x'), { what: 'legacy state applied' });
  await until(async () => getKey(http, 'legacy/y'), { what: 'legacy catch-up update applied' });
  for (const k of ['pi-7/b', 'pi-7/c', 'pi-7/e']) assert.equal(await getKey(http, k), undefined, `${k} refused`);
  assert.deepEqual((await historyOf(http, 'pi-7/a')).map((r) => [r.v, r.s]), [[1, s]], 'pi-7/a was never rewritten');

  const st = await statusOf(http);
  assert.equal(st.counters['sig.refused.invalid'], 4, JSON.stringify(st.counters));
  assert.equal(st.counters['sig.refused.missing'], 1);
  assert.equal(st.counters['rejected.HAMSYNC_ERR_SIGNATURE'], 5);
  assert.ok((st.counters['sig.verified'] ?? 0) >= 3);
  // Logged, thinned: at most one line per second per source and reason.
  const lines = proc.stderr.split('\n').filter((l) => l.includes('"msg":"signature refused: not applied"'));
  assert.ok(lines.length >= 2 && lines.length <= 5, `${lines.length} log lines: ${lines.join('\n')}`);
  assert.ok(lines.every((l) => l.includes('"code":"HAMSYNC_ERR_SIGNATURE"') && l.includes('"source":"pi-7"')));
  await h.stopAll();
});
