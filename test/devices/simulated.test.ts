/** The simulated source: deterministic with a seed, and paced by its interval. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSource, SimulatedSeries, SimulatedSource, type Reading } from '../../devices/index.js';
import { Collector, recordingLogger } from './helpers.js';

const series = (seed: number, channels = 0, prefix = 'dev'): SimulatedSeries => new SimulatedSeries({ prefix, intervalMs: 1000, seed, periodMs: 600_000, channels });

function take(s: SimulatedSeries, n: number): Reading[][] {
  return Array.from({ length: n }, () => s.next());
}

test('the same seed gives the same values; another seed other values', () => {
  const a = take(series(42), 500);
  const b = take(series(42), 500);
  assert.deepEqual(a, b);
  const c = take(series(43), 500);
  assert.notDeepEqual(
    a.map((r) => r[0]?.value),
    c.map((r) => r[0]?.value),
  );
  // A fixed point, so a change of the generator does not go unnoticed.
  assert.deepEqual(
    a[0]?.map((r) => r.key),
    ['dev/sim/temp', 'dev/sim/counter', 'dev/sim/battery'],
  );
  assert.deepEqual(take(series(42), 1)[0], a[0]);
});

test('values stay in range: temp around 21 ± 4.25, counter counts, battery drains to 5 and recharges', () => {
  const batches = take(series(7, 3), 4000);
  const temps = batches.map((b) => b[0]?.value as number);
  assert.ok(temps.every((t) => t >= 16.75 && t <= 25.25), 'temp range');
  assert.ok(Math.max(...temps) > 24 && Math.min(...temps) < 18, 'the sine swings');
  assert.deepEqual(
    batches.slice(0, 5).map((b) => b[1]?.value),
    [1, 2, 3, 4, 5],
  );
  const battery = batches.map((b) => b[2]?.value as number);
  assert.ok(battery.every((v) => v >= 5 && v <= 100));
  assert.ok(battery.includes(5), 'reaches 5 %');
  const low = battery.indexOf(5);
  assert.ok((battery[low + 10] as number) > 5, 'then charges');
  assert.deepEqual(
    batches[0]?.slice(3).map((r) => r.key),
    ['dev/sim/ch/0', 'dev/sim/ch/1', 'dev/sim/ch/2'],
  );
  for (const b of batches) for (const r of b) assert.ok(typeof r.value === 'number' && Number.isFinite(r.value) && r.state === undefined);
});

test('the default seed comes from the device id: stable per device, different between devices', () => {
  const first = (id: string): unknown => {
    const s = createSource({ type: 'simulated' }, id, recordingLogger());
    assert.ok(s instanceof SimulatedSource);
    return new SimulatedSeries(s.options).next()[0]?.value;
  };
  assert.equal(first('dev-a'), first('dev-a'));
  assert.notEqual(first('dev-a'), first('dev-b'));
});

test('a short interval is respected: about one batch per interval, never two close together', async () => {
  const s = createSource({ type: 'simulated', interval: '50ms', seed: 1, prefix: 'bench/sim-1' }, 'dev', recordingLogger());
  const c = new Collector();
  const started = Date.now();
  s.start(c.emit);
  await c.until(() => c.batches.length >= 10, '10 batches');
  await s.stop();
  const elapsed = Date.now() - started;
  const n = c.batches.length;
  // first batch at once, then one per 50 ms: 10 take >= 450 ms; timers may run late, never early
  assert.ok(n >= 5 && n <= Math.floor(elapsed / 50) + 1, `${n} batches in ${elapsed} ms`);
  for (let i = 1; i < n; i++) {
    const gap = (c.batches[i]?.at as number) - (c.batches[i - 1]?.at as number);
    assert.ok(gap >= 40, `batches ${i - 1} and ${i} only ${gap} ms apart`);
  }
  assert.deepEqual(
    c.values('bench/sim-1/sim/counter'),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  // Same seed, same values as the series.
  assert.deepEqual(
    c.batches.map((b) => b.readings),
    take(new SimulatedSeries({ prefix: 'bench/sim-1', intervalMs: 50, seed: 1, periodMs: 600_000, channels: 0 }), n),
  );
  // Nothing is emitted after stop: the ticker schedules nothing once stopped (test/devices/ticker.test.ts).
});

test('restart after stop starts a fresh series', async () => {
  const s = createSource({ type: 'simulated', interval: 20, seed: 9 }, 'dev', recordingLogger());
  const c1 = new Collector();
  s.start(c1.emit);
  await c1.until(() => c1.batches.length >= 2, '2 batches');
  await s.stop();
  const c2 = new Collector();
  s.start(c2.emit);
  await c2.until(() => c2.batches.length >= 2, '2 batches');
  await s.stop();
  assert.deepEqual(c2.batches[0]?.readings, c1.batches[0]?.readings);
});
