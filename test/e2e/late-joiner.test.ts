/**
 * Several devices write many keys (more than one catch-up chunk, with conflicts); a brand-new
 * daemon then joins with an empty data directory and must catch up the hub's whole live view.
 * A second newcomer with --subscribe filters gets exactly the keys under its filters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliJson, getKey, Harness, hubSnapshot, putApi, statusOf, type KeyView, type StatusView } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';

const PER_DEVICE = 250;
const SHARED = 30;
const DEVICES = ['d1', 'd2', 'd3'];
const TOTAL = DEVICES.length * PER_DEVICE + SHARED;

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

const byKey = (a: { k: string }, b: { k: string }): number => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0);

test('a brand-new daemon catches up the whole state the devices wrote before it joined', { timeout: 55_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await h.broker();
  const devices = await Promise.all(DEVICES.map((id) => h.daemon({ id, broker: broker.url })));
  for (const d of devices) await until(async () => (await statusOf(d.http)).connected, { timeoutMs: 10_000, what: `${d.id} connected` });

  // Each device: its own keys (several value types, in batches) and a write to every shared key.
  const base = Date.now() - 600_000;
  await Promise.all(
    devices.map(async (d, di) => {
      for (let start = 0; start < PER_DEVICE; start += 100) {
        const batch = [];
        for (let i = start; i < Math.min(PER_DEVICE, start + 100); i++) {
          const v = i % 4 === 0 ? i : i % 4 === 1 ? `text ${i} ✓` : i % 4 === 2 ? { i, dev: d.id, list: [1, 2, 3] } : i % 8 === 3;
          batch.push({ k: `${d.id}/sensor/${String(i).padStart(3, '0')}`, v });
        }
        await putApi(d.http, batch);
      }
      // Shared keys: different states per device (d3 newest), and an equal-state tie on every fifth.
      await putApi(
        d.http,
        Array.from({ length: SHARED }, (_, j) => ({ k: `shared/${j}`, v: `${d.id}:${j}`, s: j % 5 === 0 ? base + j : base + j * 10 + di })),
      );
    }),
  );

  // The hub holds all of it.
  const hub = await until(
    async () => {
      const rows = await hubSnapshot(broker.url);
      return rows.length === TOTAL ? rows.sort(byKey) : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 250, what: `the hub to hold ${TOTAL} keys` },
  );
  assert.equal(new Set(hub.map((r) => r.k)).size, TOTAL, 'no key twice in the hub\'s answer (nothing deferred)');
  for (let j = 0; j < SHARED; j++) assert.equal(hub.find((r) => r.k === `shared/${j}`)?.v, `d3:${j}`, `shared/${j}: d3 wins (newest, or lexically greatest on a tie)`);

  // A brand-new daemon joins and catches up.
  const t0 = Date.now();
  const newbie = await h.daemon({ id: 'newbie', broker: broker.url });
  const partial = await h.daemon({ id: 'partial', broker: broker.url, subscribe: ['d1/#', 'shared/+'] });
  await until(async () => (await statusOf(newbie.http)).live === TOTAL, { timeoutMs: 15_000, intervalMs: 100, what: `newbie to hold ${TOTAL} keys` });
  const caughtUpMs = Date.now() - t0;
  t.diagnostic(`newbie caught up ${TOTAL} keys in ${caughtUpMs} ms (including its start)`);

  // Every key equal to the hub's, read through the daemon's HTTP API (get).
  const got = await inParallel(hub, 40, (r) => getKey(newbie.http, r.k));
  got.forEach((g, i) => assert.deepEqual(g, hub[i], `newbie's ${hub[i]?.k}`));
  // The CLI says the same for a few.
  for (const k of ['d1/sensor/000', 'd2/sensor/001', 'd3/sensor/002', 'shared/0', 'shared/7']) {
    assert.deepEqual(await cliJson<KeyView>(['get', k, '--http', newbie.http, '--json']), hub.find((r) => r.k === k));
  }
  const s = await cliJson<StatusView>(['status', '--json', '--http', newbie.http]);
  assert.equal(s.live, TOTAL);
  assert.equal(s.deferred, 0);
  // Stored data is readable once committed; the feed counts itself complete after the last page is durable and acknowledged.
  await until(async () => ((await cliJson<StatusView>(['status', '--json', '--http', newbie.http])).counters['sync.completed'] ?? 0) >= 1, { what: 'the newbie\'s feed completed' });

  // The filtered newcomer: exactly d1's keys and the shared ones.
  const wanted = hub.filter((r) => r.k.startsWith('d1/') || r.k.startsWith('shared/'));
  await until(async () => (await statusOf(partial.http)).live === wanted.length, { timeoutMs: 15_000, intervalMs: 100, what: `partial to hold ${wanted.length} keys` });
  const gotPartial = await inParallel(wanted, 40, (r) => getKey(partial.http, r.k));
  gotPartial.forEach((g, i) => assert.deepEqual(g, wanted[i]));
  assert.equal(await getKey(partial.http, 'd2/sensor/000'), undefined, 'partial does not replicate d2/#');

  // After catching up, live updates keep flowing to the newcomers.
  await putApi(devices[1]?.http as string, [{ k: 'd2/after-join', v: 'fresh' }, { k: 'd1/after-join', v: 'fresh' }]);
  await until(async () => (await getKey(newbie.http, 'd2/after-join'))?.v === 'fresh' && (await getKey(partial.http, 'd1/after-join'))?.v === 'fresh', {
    timeoutMs: 5000,
    what: 'a put after the join to reach the newcomers',
  });
  assert.equal(await getKey(partial.http, 'd2/after-join'), undefined);

  // The original devices agree with the hub too.
  for (const d of devices) {
    await until(async () => (await statusOf(d.http)).live === TOTAL + 2, { timeoutMs: 10_000, what: `${d.id} to hold every key` });
    const sample = hub.filter((_, i) => i % 7 === 0);
    const mine = await inParallel(sample, 40, (r) => getKey(d.http, r.k));
    mine.forEach((g, i) => assert.deepEqual(g, sample[i], `${d.id}'s ${sample[i]?.k}`));
  }

  await h.stopAll();
});
