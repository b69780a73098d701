/**
 * Sync v2 byte accounting: a daemon that follows only `sat/#` receives only what it asked for.
 *
 * A hub broker (child process), daemon `sat --subscribe sat/#` and daemon `all` (default `#`),
 * each behind its own counting TCP proxy (bytes broker → daemon). Another device (`pi-1`, a raw
 * mqtt.js client) publishes 50,000 `pi-1/...` updates, 100 per put, with 50 `sat/...` updates
 * interleaved (one in every 10th put). sat must receive at most 5 % of the bytes all receives,
 * and hold all 50 sat keys; all must hold every key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CountingProxy } from '../helpers/count-proxy.js';
import { getKey, Harness, statusOf } from '../helpers/procs.js';
import { brokerV2, caughtUp, inHubMode, kib, publishPuts } from '../helpers/v2.js';
import { until } from '../helpers/wait.js';

const MESSAGES = 500;
const PER_MESSAGE = 100;
const PI_KEYS = 500;
const SAT_EVERY = 10;
const SAT_KEYS = MESSAGES / SAT_EVERY; // 50

test('a daemon following sat/# receives <= 5 % of the bytes of one following #', { timeout: 120_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await brokerV2(h, { args: ['--rate-limit', '0'] });
  const proxies = { sat: new CountingProxy(broker.port), all: new CountingProxy(broker.port) };
  for (const p of Object.values(proxies)) {
    await p.start(0);
    h.defer(() => p.sever());
  }
  const sat = await h.daemon({ id: 'sat', broker: proxies.sat.url, subscribe: ['sat/#'] });
  const all = await h.daemon({ id: 'all', broker: proxies.all.url });
  for (const d of [sat, all]) await inHubMode(d.http, `${d.id} in hub mode`);
  proxies.sat.reset();
  proxies.all.reset();

  const base = Date.now() - 3_600_000;
  const expected = new Map<string, { v: unknown; s: number }>();
  let state = base;
  const make = (i: number): string => {
    const u: { k: string; v: unknown; s: number }[] = [];
    for (let j = 0; j < PER_MESSAGE; j++) {
      const n = i * PER_MESSAGE + j;
      const k = `pi-1/m${n % PI_KEYS}`;
      const v = { t: 20 + (n % 100) / 10, n };
      u.push({ k, v, s: ++state });
      expected.set(k, { v, s: state });
    }
    if (i % SAT_EVERY === SAT_EVERY - 1) {
      const k = `sat/k${Math.floor(i / SAT_EVERY)}`;
      const v = { bat: 3.9, i };
      u.push({ k, v, s: ++state });
      expected.set(k, { v, s: state });
    }
    return JSON.stringify({ src: 'pi-1', u });
  };
  const pub = await h.mqtt(broker.url, 'pi-1');
  const sent = await publishPuts(pub, 'hamsync/default/put/pi-1', MESSAGES, make, 8);
  const total = MESSAGES * PER_MESSAGE + SAT_KEYS;
  t.diagnostic(`published ${total} updates in ${MESSAGES} puts in ${Math.round(sent.ms)} ms`);

  // all holds every key's last value; sat every sat key and nothing else.
  await until(async () => (await statusOf(all.http)).live === PI_KEYS + SAT_KEYS, { timeoutMs: 60_000, intervalMs: 200, what: `all to hold ${PI_KEYS + SAT_KEYS} keys` });
  await until(async () => (await statusOf(sat.http)).live === SAT_KEYS, { timeoutMs: 30_000, intervalMs: 200, what: `sat to hold ${SAT_KEYS} keys` });
  for (const d of [sat, all]) await caughtUp(d.http, `${d.id} caught up (backlog 0)`, 30_000);
  for (const [k, w] of expected) {
    if (k.startsWith('sat/')) assert.deepEqual(await getKey(sat.http, k), { k, v: w.v, s: w.s, src: 'pi-1' }, `sat ${k}`);
  }
  for (const k of ['pi-1/m0', `pi-1/m${PI_KEYS - 1}`, 'sat/k0', `sat/k${SAT_KEYS - 1}`]) {
    const w = expected.get(k) as { v: unknown; s: number };
    assert.deepEqual(await getKey(all.http, k), { k, v: w.v, s: w.s, src: 'pi-1' }, `all ${k}`);
  }
  assert.equal(await getKey(sat.http, 'pi-1/m0'), undefined, 'sat holds no pi-1 key');

  const satBytes = proxies.sat.down;
  const allBytes = proxies.all.down;
  const line =
    `bytes broker -> daemon: sat ${satBytes} (${kib(satBytes)}, ${(satBytes / SAT_KEYS).toFixed(1)} B per sat update), ` +
    `all ${allBytes} (${kib(allBytes)}, ${(allBytes / total).toFixed(1)} B per update); sat/all = ${((satBytes / allBytes) * 100).toFixed(2)} %`;
  console.log(line);
  t.diagnostic(line);
  assert.ok(allBytes >= total * 20, `all received implausibly few bytes (${allBytes}) for ${total} updates`);
  assert.ok(satBytes <= allBytes * 0.05, `sat received ${satBytes} bytes, more than 5 % of all's ${allBytes}`);

  await h.stopAll();
});
