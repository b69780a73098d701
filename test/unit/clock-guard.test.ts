/** The daemon's clock guard with the wall clock (fake time sources), the hub's `t` on the wire, GPS time. */
import { test } from 'node:test';
import { createContext } from '../../src/context.js';
import assert from 'node:assert/strict';
import { Counters } from '../../src/counters.js';
import { ClockGuard, gpsTimeOf } from '../../src/daemon/clock-guard.js';
import type { HighWaterStore } from '../../src/ham/clock.js';
import { WallClock } from '../../src/ham/wall-clock.js';
import { decodeSyncResponse, encodeSyncResponse } from '../../src/wire/codec.js';
import { recordingLogger } from '../devices/helpers.js';
import { expectHamsyncError } from '../helpers/errors.js';

const T0 = Date.UTC(2026, 11, 2, 12);
const H2 = 2 * 3_600_000;

/** A wall clock whose system time (`sys`) and monotonic time (`mono`) the test moves. */
function rig(maxAheadMs = 60_000, stored?: number) {
  const time = { sys: T0, mono: 1000 };
  let saved = stored;
  const highWater: HighWaterStore = { load: () => saved, save: (s) => void (saved = s) };
  const log = recordingLogger();
  const counters = new Counters();
  const guard = new ClockGuard(createContext({ log, counters, clock: () => time.mono }), maxAheadMs);
  const clock = new WallClock({ source: () => time.sys, highWater, reference: guard });
  guard.bind(clock);
  const advance = (ms: number): void => {
    time.sys += ms;
    time.mono += ms;
  };
  return { time, clock, guard, log, counters, advance, saved: () => saved };
}

test('clock guard: without a reference every reading is trusted (as before)', () => {
  const { time, clock, guard } = rig();
  time.sys += H2;
  assert.equal(clock.stamp(), T0 + H2);
  assert.equal(guard.status().state, 'no-reference');
});

test('clock guard: a +2 h step is refused (HAMSYNC_ERR_CLOCK), does not raise the machine state; after the step back stamps are real time', () => {
  const { time, clock, guard, log, counters, advance, saved } = rig();
  guard.observe(T0, time.mono, 'hub');
  const before = clock.stamp();
  assert.equal(before, T0);
  advance(1000);
  time.sys += H2; // the system clock steps
  const err = expectHamsyncError(() => clock.stamp(), 'HAMSYNC_ERR_CLOCK', 'a stamp 2 h ahead');
  assert.match(err.message, /ahead of the reference time .* over maxClockAhead 60000 ms/);
  assert.equal(err.details.cause, 'clock');
  // HAM's machine state follows the reference meanwhile (deferred updates are not released early).
  assert.equal(clock.now(), T0 + 1000);
  assert.equal(saved(), before, 'the high-water mark was not raised');
  const st = guard.status();
  assert.equal(st.state, 'ahead');
  assert.equal(st.cause, 'clock');
  assert.equal(st.aheadMs, H2);
  advance(10_000);
  expectHamsyncError(() => clock.stamp(), 'HAMSYNC_ERR_CLOCK', 'still ahead');
  time.sys -= H2; // and steps back
  advance(1);
  const after = clock.stamp();
  assert.equal(after, T0 + 11_001, 'stamped at real time again');
  assert.equal(guard.status().state, 'ok');
  assert.equal(counters.get('clock.ahead'), 1);
  assert.equal(counters.get('clock.refused'), 2);
  assert.deepEqual(
    log.entries.filter((e) => e.level !== 'info').map((e) => e.msg),
    ['clock far ahead of the reference time: local puts are refused (HAMSYNC_ERR_CLOCK)', 'clock sane again: local puts are stamped again'],
  );
});

test('clock guard: a persisted high-water mark far ahead of the reference refuses stamps and points at `hamsync clock reset`', () => {
  const { time, clock, guard } = rig(60_000, T0 + 10 * 365 * 86_400_000);
  guard.observe(T0, time.mono, 'gps');
  const err = expectHamsyncError(() => clock.stamp(), 'HAMSYNC_ERR_CLOCK', 'a poisoned high-water mark');
  assert.equal(err.details.cause, 'high-water');
  assert.match(err.message, /hamsync clock reset/);
  assert.equal(guard.status().cause, 'high-water');
  // Below the threshold, a clock ahead of the reference is trusted (deferred elsewhere, not quarantined).
  const lenient = rig(H2 + 1);
  lenient.guard.observe(T0, lenient.time.mono, 'hub');
  lenient.time.sys += H2;
  assert.equal(lenient.clock.stamp(), T0 + H2);
});

test('clock guard: the most advanced observation wins (a late message never sets it back); bad ones are ignored', () => {
  const { time, guard } = rig();
  guard.observe(T0, time.mono, 'hub');
  time.mono += 5000;
  guard.observe(T0, time.mono, 'hub'); // delivered 5 s late: looks older
  assert.equal(guard.now(), T0 + 5000);
  guard.observe(T0 + 5200, time.mono, 'gps');
  assert.equal(guard.now(), T0 + 5200);
  for (const bad of [NaN, Infinity, -1, 0]) guard.observe(bad, time.mono, 'hub');
  assert.equal(guard.now(), T0 + 5200);
  assert.deepEqual(guard.status().sources, { hub: { observations: 2, last: T0 }, gps: { observations: 1, last: T0 + 5200 } });
});

test('the v1 catch-up answer carries the hub clock "t" (optional: older answers decode as before; bad values are ignored)', () => {
  const withT = decodeSyncResponse(encodeSyncResponse('r1', [{ key: 'a', state: 1, text: '1', source: 'x' }], true, T0));
  assert.equal(withT.t, T0);
  assert.equal(withT.updates.length, 1);
  assert.equal(decodeSyncResponse(encodeSyncResponse('r1', [], true)).t, undefined);
  for (const t of ['"1"', '-5', '0', 'null', '1e400']) assert.equal(decodeSyncResponse(`{"pv":1,"id":"r","u":[],"done":true,"t":${t}}`).t, undefined, t);
});

test('gpsTimeOf: the GPS fix time of a gpsd batch', () => {
  assert.equal(gpsTimeOf([{ key: 'car/gps/lat', value: 1 }, { key: 'car/gps/time', value: '2026-12-02T12:00:00.000Z' }]), T0);
  assert.equal(gpsTimeOf([{ key: 'car/gps/lat', value: 1 }]), undefined);
  assert.equal(gpsTimeOf([{ key: 'car/gps/time', value: 'not a time' }]), undefined);
});
