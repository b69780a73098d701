/**
 * The contract of a `Clock` (src/ham/clock.ts) as one suite that every implementation runs with
 * a factory of its own, in the manner of mqemitter's abstract tests:
 *
 *   clockSuite('WallClock', (start, highWater) => { ... return { clock, move } });
 *
 * The factory's `move(ms)` shifts the time under the clock (negative: the clock is stepped
 * back, as NTP or a user can do to a wall clock). What only one clock promises (a WallClock's
 * offset and drift, a ManualClock's state order within one move) stays in its own tests.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Clock, HighWaterStore } from '../../src/index.js';
import { expectHamsyncError } from './errors.js';
import { until } from './wait.js';

export interface ClockUnderTest {
  clock: Clock;
  move(ms: number): void;
}

/** A clock whose time starts at `start`, keeping its stamps' high-water mark in `highWater` if given. */
export type ClockFactory = (start: number, highWater?: HighWaterStore) => ClockUnderTest;

/** An in-memory HighWaterStore. */
export class MemoryHighWater implements HighWaterStore {
  constructor(public value: number | undefined = undefined) {}
  load(): number | undefined {
    return this.value;
  }
  save(stamp: number): void {
    this.value = stamp;
  }
}

const START = 1.8e12; // ~2027, in ms since 1970

function strictlyIncreasing(xs: readonly number[], label: string): void {
  for (let i = 1; i < xs.length; i++) assert.ok((xs[i] as number) > (xs[i - 1] as number), `${label}: #${i} ${xs[i]} is not above #${i - 1} ${xs[i - 1]}`);
}

export function clockSuite(name: string, make: ClockFactory): void {
  describe(`${name}: the Clock contract`, () => {
    test('now() starts at the time given and follows it forward; stepped back, it holds until the time is past', () => {
      const { clock, move } = make(START);
      assert.equal(clock.now(), START);
      move(5000);
      assert.equal(clock.now(), START + 5000);
      move(-60_000);
      assert.equal(clock.now(), START + 5000, 'a step back a minute: held');
      move(30_000);
      assert.equal(clock.now(), START + 5000, 'still behind the earlier reading: held');
      move(40_000);
      assert.equal(clock.now(), START + 15_000, 'past it: followed again');
    });

    test('stamps strictly increase (many in one millisecond, across a step back); now() is never below one', () => {
      const { clock, move } = make(START);
      const stamps: number[] = [];
      for (let i = 0; i < 3000; i++) {
        if (i === 1500) move(-10_000);
        const s = clock.stamp();
        stamps.push(s);
        assert.ok(clock.now() >= s, `now() ${clock.now()} below stamp ${s}`);
      }
      strictlyIncreasing(stamps, `${name} stamps`);
      assert.equal(stamps[0], START, 'the first stamp is the time itself');
      assert.ok((stamps[1] as number) - START < 1, 'the next ones, in the same millisecond, are a fraction of one above');
    });

    test('a high-water mark carries across a restart: a clock that is behind continues above the last stamp', () => {
      const store = new MemoryHighWater();
      const first = make(START, store);
      let last = -Infinity;
      for (let i = 0; i < 100; i++) last = first.clock.stamp();
      assert.equal(store.value, last, 'every stamp is saved');
      const again = make(START - 3_600_000, store); // restarted with the time an hour back
      assert.ok(again.clock.now() >= last, `now() ${again.clock.now()} below the saved stamp ${last}`);
      assert.ok(again.clock.stamp() > last);
    });

    test('schedule() for a state already reached calls back at once (synchronously), once; cancel after is harmless', () => {
      const { clock, move } = make(START);
      const fired: string[] = [];
      const cancel = clock.schedule(START - 1000, () => fired.push('past'));
      clock.schedule(START, () => fired.push('now'));
      assert.deepEqual(fired, ['past', 'now']);
      cancel();
      let highest = -Infinity;
      for (let i = 0; i < 2000; i++) highest = clock.stamp(); // stamps run ahead of the time, a fraction of a ms each
      assert.ok(highest > START + 1);
      move(-5000);
      clock.schedule(highest, () => fired.push('stamped')); // a state at or below a stamp given counts as reached
      assert.deepEqual(fired, ['past', 'now', 'stamped']);
      move(10_000);
      assert.deepEqual(fired, ['past', 'now', 'stamped'], 'nothing is called twice');
    });

    test('schedule() calls back once the time reaches the state, not before', async () => {
      const { clock, move } = make(START);
      const fired: number[] = [];
      const cancels = [30, 10, 20].map((d) => clock.schedule(START + d, () => fired.push(d)));
      assert.deepEqual(fired, [], 'nothing is due yet');
      move(15);
      await until(() => fired.length > 0, { what: 'the callback due at +10', intervalMs: 5 });
      assert.deepEqual(fired, [10], 'those due at +20 and +30 wait');
      move(100);
      await until(() => fired.length === 3, { what: 'the callbacks due at +20 and +30', intervalMs: 5 });
      assert.deepEqual([...fired].sort((a, b) => a - b), [10, 20, 30], 'each called once');
      for (const c of cancels) c();
    });

    test('a cancelled callback is never called, even when due with another that is; cancel twice is fine', async () => {
      const { clock, move } = make(START);
      const fired: string[] = [];
      const cancel = clock.schedule(START + 10, () => fired.push('cancelled'));
      clock.schedule(START + 10, () => fired.push('kept'));
      cancel();
      cancel();
      move(10);
      await until(() => fired.length > 0, { what: 'the callback that was kept', intervalMs: 5 });
      assert.deepEqual(fired, ['kept'], 'due at the same state, the cancelled one had its turn and was not called');
    });

    test('a state that is not a finite number is refused with HAMSYNC_ERR_STATE', () => {
      const { clock } = make(START);
      for (const bad of [NaN, Infinity, -Infinity, '5', undefined]) {
        expectHamsyncError(() => clock.schedule(bad as number, () => assert.fail('called back for a bad state')), 'HAMSYNC_ERR_STATE', `schedule(${String(bad)})`);
      }
    });
  });
}
