/**
 * Interoperability: two daemons converge through a plain Mosquitto broker (no hub) — the one
 * already running on 127.0.0.1:1883 (CI starts it). Each run uses its own namespace and device
 * ids, and removes its persistent sessions and retained presence messages afterwards.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { connectMqtt, getKey, Harness, historyOf, probeTcp, putApi, statusOf, uniqueId } from '../helpers/procs.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

const HOST = '127.0.0.1';
const PORT = 1883;
const URL = `mqtt://${HOST}:${PORT}`;

// Skipped without Mosquitto installed; installed but not running on 1883 is a failure (CI starts it).
test('two daemons converge through Mosquitto on 127.0.0.1:1883 (no hub)', { timeout: 55_000, skip: skipUnlessTools('mosquitto') }, async (t) => {
  try {
    await probeTcp(HOST, PORT, 2000);
  } catch (err) {
    assert.fail(`Mosquitto is not reachable on ${HOST}:${PORT} (${(err as Error).message}); this test needs it running (CI's .ci/run starts it).`);
  }
  const ns = uniqueId('t');
  const ids = [uniqueId('left'), uniqueId('right')];
  const h = new Harness(t);
  // Leave nothing behind on the shared broker: the daemons' persistent sessions and retained presence.
  h.defer(async () => {
    const c = await connectMqtt(URL, 'cleanup');
    try {
      for (const id of ids) await c.publishAsync(`hamsync/${ns}/presence/${id}`, '', { qos: 1, retain: true });
    } finally {
      await c.endAsync();
    }
    // Connecting with the daemons' client ids and clean=true discards their persistent sessions.
    for (const id of ids) {
      const s = await mqtt.connectAsync(URL, { clientId: `hamsync-${id}`, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
      await s.endAsync();
    }
  });

  const [left, right] = await Promise.all(ids.map((id) => h.daemon({ id, broker: URL, ns, name: id.replace(/[0-9a-f]{8}$/, '') })));
  assert.ok(left && right);
  for (const d of [left, right]) await until(async () => (await statusOf(d.http)).connected, { timeoutMs: 10_000, what: `${d.id} connected to Mosquitto` });

  const s0 = Date.now() - 60_000;
  // Non-conflicting: each writes its own keys. Conflicting: same key, same state, different
  // values (lexically greater wins), and same key with different states (newer wins).
  const leftPuts = [
    { k: 'left/a', v: 1 },
    { k: 'left/b', v: { deep: ['x'] } },
    { k: 'both/tie', v: 'apple', s: s0 },
    { k: 'both/newer', v: 'left-newer', s: s0 + 2000 },
    { k: 'both/older', v: 'left-older', s: s0 + 1000 },
  ];
  const rightPuts = [
    { k: 'right/a', v: 2 },
    { k: 'right/b', v: 'two' },
    { k: 'both/tie', v: 'banana', s: s0 },
    { k: 'both/newer', v: 'right-older', s: s0 + 1000 },
    { k: 'both/older', v: 'right-newer', s: s0 + 2000 },
  ];
  const [lr, rr] = await Promise.all([putApi(left.http, leftPuts), putApi(right.http, rightPuts)]);

  const expected: Record<string, { v: unknown; s: number; src: string }> = {
    'left/a': { v: 1, s: lr[0]?.s as number, src: left.id },
    'left/b': { v: { deep: ['x'] }, s: lr[1]?.s as number, src: left.id },
    'right/a': { v: 2, s: rr[0]?.s as number, src: right.id },
    'right/b': { v: 'two', s: rr[1]?.s as number, src: right.id },
    'both/tie': { v: 'banana', s: s0, src: right.id },
    'both/newer': { v: 'left-newer', s: s0 + 2000, src: left.id },
    'both/older': { v: 'right-newer', s: s0 + 2000, src: right.id },
  };
  for (const d of [left, right]) {
    await until(
      async () => {
        for (const [k, e] of Object.entries(expected)) assert.deepEqual(await getKey(d.http, k), { k, ...e }, `${d.id} ${k}`);
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: `${d.id} to converge` },
    );
    const s = await statusOf(d.http);
    assert.equal(s.ns, ns);
    assert.equal(s.live, Object.keys(expected).length);
    // Both writes of each conflicting key are in both histories.
    for (const k of ['both/tie', 'both/newer', 'both/older']) {
      const rows = await historyOf(d.http, k);
      assert.deepEqual(rows.map((r) => r.src).sort(), [left.id, right.id].sort(), `${d.id} history of ${k}: ${JSON.stringify(rows)}`);
    }
  }
  await until(async () => (await statusOf(left.http)).outbox.messages === 0 && (await statusOf(right.http)).outbox.messages === 0, { timeoutMs: 5000, what: 'outboxes to drain' });

  await h.stopAll();
});
