/**
 * A device whose clock runs 5 s fast stamps an update 5 s in everyone else's future: the hub
 * and the peer must defer it (HAM's upper boundary) and apply it only when their own clocks
 * reach its state — not before (by wall clock), and not much later.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliJson, deferredOf, getKey, Harness, historyOf, hubSnapshot, statusOf, type KeyView } from '../helpers/procs.js';
import { sleep, until } from '../helpers/wait.js';

const KEY = 'drift/value';
const TOPIC = `hamsync/default/state/${KEY}`;

test('an update from a clock 5 s fast is deferred by the hub and the peer until its state', { timeout: 55_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await h.broker();
  const [fast, peer] = await Promise.all([h.daemon({ id: 'fast', broker: broker.url, clockOffset: '+5s' }), h.daemon({ id: 'peer', broker: broker.url })]);
  const watcher = await h.watch(broker.url, [TOPIC], 'state');
  for (const d of [fast, peer]) await until(async () => (await statusOf(d.http)).connected, { timeoutMs: 10_000, what: `${d.id} connected` });
  const fastStatus = await statusOf(fast.http);
  assert.equal(fastStatus.clock.offsetMs, 5000);
  assert.ok(fastStatus.clock.now - fastStatus.clock.wall >= 4900, `fast's clock should run 5 s ahead: ${JSON.stringify(fastStatus.clock)}`);

  // The old value, stamped by the peer's (correct) clock: applied everywhere at once.
  const old = await cliJson<{ s: number; decision: string }>(['put', KEY, 'old', '--http', peer.http, '--json']);
  assert.equal(old.decision, 'apply');
  await until(() => watcher.lastValue(TOPIC) === 'old', { timeoutMs: 5000, what: 'the state topic to show "old"' });
  await until(async () => (await getKey(fast.http, KEY))?.v === 'old', { timeoutMs: 5000, what: 'fast to hold "old"' });

  // The fast device's put, stamped by its own clock: ~5 s in the future for everyone else.
  const put = await cliJson<{ k: string; s: number; decision: string }>(['put', KEY, 'new', '--http', fast.http, '--json']);
  const putAt = Date.now();
  const stamp = put.s;
  assert.equal(put.decision, 'apply', 'on its own replica the fast device applies its own update');
  assert.ok(stamp - putAt > 4000 && stamp - putAt <= 5100, `stamp ${stamp} should be ~5 s ahead of the wall clock ${putAt}`);
  assert.deepEqual(await getKey(fast.http, KEY), { k: KEY, v: 'new', s: stamp, src: 'fast' });

  // The peer defers it: `hamsync deferred --json` lists it, and its live value stays "old".
  await until(async () => (await deferredOf(peer.http)).some((x) => x.k === KEY), { timeoutMs: 3000, what: 'the peer to defer the update' });
  const rows = await cliJson<KeyView[]>(['deferred', '--json', '--http', peer.http]);
  assert.deepEqual(rows.filter((x) => x.k === KEY).map((x) => ({ k: x.k, v: x.v, s: x.s, src: x.src })), [{ k: KEY, v: 'new', s: stamp, src: 'fast' }]);
  assert.equal((await getKey(peer.http, KEY))?.v, 'old');
  assert.equal((await statusOf(peer.http)).deferred, 1);

  // The hub holds it too — deferred (its catch-up answer lists live entries, then deferred ones).
  const hubRows = (await hubSnapshot(broker.url)).filter((r) => r.k === KEY);
  assert.deepEqual(hubRows.map((r) => r.v), ['old', 'new'], `hub rows: ${JSON.stringify(hubRows)}`);

  // For the first ~4 s nothing changes: the state topic still says "old", so does the peer.
  await sleep(stamp - 1000 - Date.now());
  if (Date.now() < stamp - 300) {
    assert.equal(watcher.lastValue(TOPIC), 'old', `state topic so far: ${watcher.on(TOPIC).map((m) => `${m.at}:${m.text}`).join(' | ')}`);
    assert.equal((await getKey(peer.http, KEY))?.v, 'old');
  } else {
    t.diagnostic(`machine too slow for the check at stamp - 1 s (now is stamp ${Date.now() - stamp} ms); the arrival-time check below still applies`);
  }

  // Then it falls due: applied everywhere, about 5 s after the put (allow up to ~8 s).
  await until(async () => watcher.lastValue(TOPIC) === 'new' && (await getKey(peer.http, KEY))?.v === 'new', {
    timeoutMs: Math.max(0, putAt + 8000 - Date.now()),
    intervalMs: 25,
    what: 'the update to be applied on the hub and the peer',
  });
  const appliedAt = watcher.on(TOPIC).find((m) => (m.json as { v?: unknown }).v === 'new')?.at ?? NaN;
  assert.ok(appliedAt >= stamp - 50, `the state topic showed "new" at ${appliedAt}, ${stamp - appliedAt} ms before its state ${stamp}`);
  assert.ok(appliedAt <= putAt + 8000, `applied too late: ${appliedAt - putAt} ms after the put`);
  assert.deepEqual(watcher.last(TOPIC)?.json, { v: 'new', s: stamp, src: 'fast' });
  assert.deepEqual(await getKey(peer.http, KEY), { k: KEY, v: 'new', s: stamp, src: 'fast' });
  assert.deepEqual(await getKey(fast.http, KEY), { k: KEY, v: 'new', s: stamp, src: 'fast' });

  // Nothing is left waiting, and the peer's history records that it had been deferred.
  assert.deepEqual(await cliJson<KeyView[]>(['deferred', '--json', '--http', peer.http]), []);
  const peerHistory = await historyOf(peer.http, KEY);
  const row = peerHistory.find((r) => r.v === 'new');
  assert.ok(row, `peer history: ${JSON.stringify(peerHistory)}`);
  assert.equal(row.outcome, 'applied');
  assert.equal(row.deferred, true);
  assert.equal(peerHistory.length, 2, `peer history: ${JSON.stringify(peerHistory)}`);
  assert.deepEqual((await hubSnapshot(broker.url)).filter((r) => r.k === KEY), [{ k: KEY, v: 'new', s: stamp, src: 'fast' }]);

  await h.stopAll();
});
