/** The skew estimator (broker/fleet/skew.ts), the device cap (tracker.ts) and the skew history ring (history.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SkewHistory } from '../../broker/fleet/history.js';
import { estimateSkew, LIVE_LAG_MS, SKEW_MAX_AGE_MS, SKEW_WINDOW, SkewWindow } from '../../broker/fleet/skew.js';
import { DeviceTracker } from '../../broker/fleet/tracker.js';
import { prng, seedFromEnv } from '../helpers/seed.js';

const update = (key: string, state: number, text = '1') => ({ key, state, source: 'd', text });

test('estimator: a device 5 s ahead over a link with random delay (0-400 ms, some 2 s spikes) is estimated within 0.1 s', (t) => {
  const seed = seedFromEnv(Date.now() % 1e9);
  t.diagnostic(`seed ${seed}`);
  const rand = prng(seed);
  const w = new SkewWindow();
  let hub = 1_700_000_000_000;
  for (let i = 0; i < 200; i++) {
    hub += 1000;
    const delay = rand() < 0.1 ? 2000 : rand() * 400;
    // Stamped by a clock 5 s ahead, received `delay` ms later by the hub.
    w.add(hub + 5000, hub + delay);
  }
  const est = w.estimate(hub);
  assert.ok(est !== null && Math.abs(est - 5) < 0.1, `estimate ${est} (seed ${seed})`);
  assert.equal(w.size, SKEW_WINDOW);
});

test('estimator: replayed old data is not reported as behind; a live sample among replays wins', () => {
  const rx = 1_700_000_000_000;
  // An hour-old backlog only: no live sample, no estimate.
  assert.equal(estimateSkew([-3_600_000, -3_500_000, -LIVE_LAG_MS - 1]), null);
  const w = new SkewWindow();
  for (let i = 0; i < 50; i++) assert.equal(w.add(rx - 3_600_000 + i, rx), false);
  assert.equal(w.estimate(rx), null);
  // Live samples (0.2 s ahead, some delay) among replayed ones at the edge of live (-4 min): the
  // estimate is the 90th percentile (the 9th of these 10), not dragged down by the replay.
  const mixed = [-240_000, -240_000, -239_000, 200, 150, -240_000, 180, -200_000, 190, 120];
  assert.equal(estimateSkew(mixed), 0.19);
  // A device 3 minutes behind is still "live" and is reported behind.
  assert.equal(estimateSkew([-180_000, -180_050]), -180);
});

test('estimator: one stray far-future sample does not move the estimate; samples age out of the window', () => {
  const samples = Array.from({ length: 20 }, (_, i) => 1000 - i);
  samples.push(86_400_000);
  assert.equal(estimateSkew(samples), 0.999);
  const w = new SkewWindow();
  w.add(10_000, 9_000);
  assert.equal(w.estimate(9_000), 1);
  assert.equal(w.estimate(9_000 + SKEW_MAX_AGE_MS + 1), null);
});

test('tracker: past the cap a new device gets no record (its messages are counted), known ones keep theirs', () => {
  const tr = new DeviceTracker(3);
  for (const id of ['a', 'b', 'c']) tr.seen(id, [update(`${id}/x`, 1000)], 1000);
  tr.seen('d', [update('d/x', 1000)], 1000);
  tr.rateRefused('e');
  assert.equal(tr.size, 3);
  assert.equal(tr.get('d'), undefined);
  assert.equal(tr.untrackedMessages, 2);
  tr.seen('a', [update('a/x', 2000), update('a/gps/clock-offset-ms', 2000, '-3.5')], 2500);
  tr.rateRefused('a');
  const a = tr.get('a');
  assert.deepEqual([a?.lastSeen, a?.gpsOffsetMs, a?.rateRefusals, a?.updates], [2500, -3.5, 1, 3]);
  assert.equal(a?.skew.estimate(2500), 0);
});

test('history: a ring of fixed size, oldest first, null where a device had no estimate', () => {
  const h = new SkewHistory(3);
  h.sample(1, [['a', 1]]);
  h.sample(2, [['a', 2], ['b', null]]);
  h.sample(3, [['b', 3]]);
  h.sample(4, [['a', 4], ['b', 4]]);
  assert.deepEqual(h.view(), { t: [2, 3, 4], series: { a: [2, null, 4], b: [null, 3, 4] } });
});
