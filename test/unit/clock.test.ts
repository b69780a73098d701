/**
 * Tests of the clocks that give HAM its machine state: `Stamper` (strictly increasing,
 * persisted stamps), `WallClock` (wall time + offset + drift, never decreasing) and
 * `ManualClock` (moves only when told to, for tests and simulations).
 *
 * Randomized tests use fast-check with a fixed seed (override with HAMSYNC_SEED);
 * fast-check prints the seed and path of any failure so it can be replayed.
 */
import { clockSuite } from '../helpers/abstract-clock.js';
import { expectHamsyncError } from '../helpers/errors.js';
import { seedFromEnv } from '../helpers/seed.js';
import { poll, sleep } from '../helpers/wait.js';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Stamper,
  STAMP_STEP,
  WallClock,
  ManualClock,
  type HighWaterStore,
  type WallClockOptions,
} from '../../src/index.js';

const SEED = seedFromEnv(0xc10c);

// The contract both clocks keep (test/helpers/abstract-clock.ts); their own behaviour follows.
clockSuite('WallClock', (start, highWater) => {
  let t = start;
  return { clock: new WallClock({ source: () => t, ...(highWater ? { highWater } : {}) }), move: (ms) => void (t += ms) };
});
clockSuite('ManualClock', (start, highWater) => {
  const clock = new ManualClock(start, highWater);
  let t = start;
  return { clock, move: (ms) => clock.set((t += ms)) };
});



/** An in-memory HighWaterStore that counts saves. */
class MemoryStore implements HighWaterStore {
  saves = 0;
  constructor(public value: number | undefined = undefined) {}
  load(): number | undefined {
    return this.value;
  }
  save(stamp: number): void {
    this.value = stamp;
    this.saves++;
  }
}

/** A time source the test moves by hand. */
function manualSource(start: number): { readonly fn: () => number; set(t: number): void; add(ms: number): void } {
  let t = start;
  return {
    fn: () => t,
    set: (v: number) => {
      t = v;
    },
    add: (ms: number) => {
      t += ms;
    },
  };
}


function assertStrictlyIncreasing(stamps: readonly number[], label: string): void {
  for (let i = 1; i < stamps.length; i++) {
    const a = stamps[i - 1] as number;
    const b = stamps[i] as number;
    assert.ok(b > a, `${label}: stamp #${i} = ${b} is not above stamp #${i - 1} = ${a}`);
  }
}

const EPOCH = 1.8e12; // ~2027 in ms since 1970

describe('Stamper', () => {
  test('starts with highWater -Infinity and gives the source itself when it moves forward', () => {
    const st = new Stamper();
    assert.equal(st.highWater, -Infinity);
    assert.equal(st.next(1000), 1000);
    assert.equal(st.highWater, 1000);
    assert.equal(st.next(1001), 1001);
    assert.equal(st.next(2000.5), 2000.5);
    assert.equal(new Stamper(new MemoryStore(undefined)).highWater, -Infinity);
  });

  test('many stamps in the same millisecond are strictly increasing, in sub-millisecond steps', () => {
    const st = new Stamper();
    const stamps = [st.next(1000)];
    for (let i = 0; i < 5000; i++) stamps.push(st.next(1000));
    assertStrictlyIncreasing(stamps, 'same ms');
    assert.equal(stamps[0], 1000);
    assert.equal(stamps[1], 1000 + STAMP_STEP);
    assert.ok(!Number.isInteger(stamps[1]), 'the second stamp in a millisecond is a fraction');
    assert.ok(STAMP_STEP > 0 && STAMP_STEP < 1);
    assert.equal(new Set(stamps).size, stamps.length);
    assert.equal(st.highWater, stamps[stamps.length - 1]);
    // Once the source moves past the stamps, stamps follow the source again.
    const later = (stamps[stamps.length - 1] as number) + 1;
    assert.equal(st.next(later), later);
  });

  test('strictly increasing when the source steps backward or stalls', () => {
    const st = new Stamper();
    const sources = [100, 200, 150, 50, 200, 200, 200.5, 300, -5, 299.999, 301, 0, -0];
    const stamps = sources.map((src) => st.next(src));
    assertStrictlyIncreasing(stamps, 'backward source');
    assert.deepEqual(stamps.slice(0, 2), [100, 200]);
    assert.equal(stamps[2], 200 + STAMP_STEP); // 150 is behind: one step above the last stamp
    assert.equal(stamps[7], 300); // the source overtook the stamps again
    for (let i = 0; i < sources.length; i++) assert.ok((stamps[i] as number) >= (sources[i] as number), `stamp ${i} below its source`);
  });

  test('strictly increasing at large epoch values (~1.8e12), where a ms still has many steps', () => {
    const st = new Stamper();
    const stamps: number[] = [];
    for (let i = 0; i < 10_000; i++) stamps.push(st.next(EPOCH));
    assertStrictlyIncreasing(stamps, '1.8e12');
    assert.equal(stamps[0], EPOCH);
    assert.equal(stamps[1], EPOCH + STAMP_STEP);
    // And across a backward step of a second at that scale.
    const before = st.highWater;
    assert.ok(st.next(EPOCH - 1000) > before);
  });

  test('strictly increasing even where STAMP_STEP vanishes in rounding (2^53 and beyond, negative too)', () => {
    for (const base of [2 ** 53, 2 ** 60, 1e300, -(2 ** 53), -1e300]) {
      const st = new Stamper();
      const stamps: number[] = [];
      for (let i = 0; i < 100; i++) stamps.push(st.next(base));
      assertStrictlyIncreasing(stamps, `base ${base}`);
      assert.ok(stamps.every(Number.isFinite), `base ${base}: stamps stay finite`);
    }
  });

  test('persisted via a HighWaterStore: saves every stamp, and a new Stamper continues above', () => {
    const store = new MemoryStore();
    const first = new Stamper(store);
    const stamps: number[] = [];
    for (let i = 0; i < 100; i++) {
      stamps.push(first.next(EPOCH));
      assert.equal(store.value, stamps[i], 'the store holds the latest stamp');
    }
    assert.equal(store.saves, 100);
    const last = stamps[stamps.length - 1] as number;

    // "Restart": the source is now behind (the wall clock was stepped back 1 minute).
    const second = new Stamper(store);
    assert.equal(second.highWater, last);
    const next = second.next(EPOCH - 60_000);
    assert.ok(next > last, `after restart ${next} should be above ${last}`);
    assert.equal(next, last + STAMP_STEP);
    // A source ahead of the stored high water is used as is.
    assert.equal(second.next(EPOCH + 5000), EPOCH + 5000);

    // A third restart from the same store, many times over.
    let prev = second.highWater;
    for (let i = 0; i < 50; i++) {
      const st = new Stamper(store);
      const s = st.next(0);
      assert.ok(s > prev);
      prev = s;
    }
  });

  test(`property: stamps are strictly increasing and never below their source, across restarts (seed ${SEED})`, () => {
    const source = fc.oneof(
      fc.constantFrom(0, -0, 1, 1000, EPOCH, EPOCH + 0.5, 2 ** 53),
      fc.double({ noNaN: true, min: -1e15, max: 1e15 }),
      fc.integer({ min: -10, max: 10 }).map((d) => EPOCH + d),
    );
    const step = fc.record({ source, restart: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const store = new MemoryStore();
        let st = new Stamper(store);
        let last = -Infinity;
        for (const { source: src, restart } of steps) {
          if (restart) st = new Stamper(store);
          const stamp = st.next(src);
          assert.ok(stamp > last, `${stamp} after ${last}`);
          assert.ok(stamp >= src, `${stamp} below source ${src}`);
          assert.equal(store.value, stamp);
          last = stamp;
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('WallClock', () => {
  const clockWith = (src: ReturnType<typeof manualSource>, options: Omit<WallClockOptions, 'source'> = {}): WallClock =>
    new WallClock({ ...options, source: src.fn });

  test('with no options it reads Date.now', () => {
    const before = Date.now();
    const now = new WallClock().now();
    const after = Date.now();
    assert.ok(now >= before && now <= after, `${now} not within [${before}, ${after}]`);
  });

  test('offsetMs is added to the source', () => {
    const src = manualSource(1_000_000);
    assert.equal(clockWith(src).now(), 1_000_000);
    assert.equal(clockWith(src, { offsetMs: 5000 }).now(), 1_005_000);
    assert.equal(clockWith(src, { offsetMs: -2500 }).now(), 997_500);
    assert.equal(clockWith(src, { offsetMs: 0.25 }).now(), 1_000_000.25);
    const c = clockWith(src, { offsetMs: 5000 });
    src.add(1234);
    assert.equal(c.now(), 1_006_234);
  });

  test('driftPpm scales elapsed source time: 1e5 ppm over 10 s adds 1 s', () => {
    const src = manualSource(EPOCH);
    const fast = clockWith(src, { driftPpm: 1e5 });
    const slow = clockWith(src, { driftPpm: -5e5 });
    const slight = clockWith(src, { driftPpm: 50 });
    const both = clockWith(src, { driftPpm: 1e5, offsetMs: 500 });
    // No drift has accumulated at construction.
    assert.equal(fast.now(), EPOCH);
    assert.equal(both.now(), EPOCH + 500);
    src.add(10_000);
    assertClose(fast.now(), EPOCH + 11_000, 'fast');
    assertClose(slow.now(), EPOCH + 5_000, 'slow');
    assertClose(slight.now(), EPOCH + 10_000.5, 'slight (50 ppm = 0.5 ms per 10 s)');
    assertClose(both.now(), EPOCH + 11_500, 'drift and offset');
    src.add(990_000); // 1000 s in all
    assertClose(slight.now(), EPOCH + 1_000_050, '50 ppm over 1000 s is 50 ms');
  });

  test(`property: now() never decreases and is >= every stamp; stamps strictly increase (seed ${SEED})`, () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('move' as const), ms: fc.oneof(fc.integer({ min: -100_000, max: 100_000 }), fc.double({ noNaN: true, min: -5, max: 5 })) }),
      fc.record({ kind: fc.constant('now' as const) }),
      fc.record({ kind: fc.constant('stamp' as const), times: fc.integer({ min: 1, max: 300 }) }),
    );
    const options = fc.record({
      offsetMs: fc.oneof(fc.constant(0), fc.integer({ min: -1e9, max: 1e9 })),
      driftPpm: fc.oneof(fc.constant(0), fc.double({ noNaN: true, min: -999_999, max: 999_999 })),
    });
    fc.assert(
      fc.property(options, fc.array(op, { maxLength: 40 }), ({ offsetMs, driftPpm }, ops) => {
        const src = manualSource(EPOCH);
        const c = clockWith(src, { offsetMs, driftPpm });
        let lastNow = c.now();
        let lastStamp = -Infinity;
        for (const o of ops) {
          if (o.kind === 'move') src.add(o.ms);
          if (o.kind === 'stamp') {
            for (let i = 0; i < o.times; i++) {
              const s = c.stamp();
              assert.ok(s > lastStamp, `stamp ${s} after ${lastStamp}`);
              lastStamp = s;
            }
          }
          const now = c.now();
          assert.ok(now >= lastNow, `now() went from ${lastNow} to ${now}`);
          assert.ok(now >= lastStamp, `now() ${now} below stamp ${lastStamp}`);
          lastNow = now;
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  test('schedule() fires when due (real 30 ms wait), once, and not early', async () => {
    const c = new WallClock();
    const due = c.now() + 30;
    let calls = 0;
    let firedAt = -Infinity;
    c.schedule(due, () => {
      calls++;
      firedAt = c.now();
    });
    assert.equal(calls, 0, 'not called synchronously for a future state');
    await sleep(5);
    if (c.now() < due) assert.equal(calls, 0, 'not called before its state');
    assert.ok(await poll(() => calls > 0, { timeoutMs: 2000, intervalMs: 5 }), 'fired within 2 s');
    assert.ok(firedAt >= due, `fired at ${firedAt}, before its state ${due}`);
    await sleep(50);
    assert.equal(calls, 1, 'fired exactly once');
  });

  test('schedule() honours the offset: the state is in the clock\'s time, not the source\'s', async () => {
    const c = new WallClock({ offsetMs: -1e9 });
    const due = c.now() + 30;
    let fired = false;
    c.schedule(due, () => {
      fired = true;
    });
    assert.ok(await poll(() => fired, { timeoutMs: 2000, intervalMs: 5 }), 'fired within 2 s');
    assert.ok(c.now() >= due);
  });

  test('cancel() after a few re-checks still works', async () => {
    const src = manualSource(EPOCH);
    const c = clockWith(src);
    let calls = 0;
    const cancel = c.schedule(EPOCH + 10, () => calls++);
    await sleep(30); // the timer has fired and re-armed several times (the source is frozen)
    cancel();
    src.add(1000);
    await sleep(40);
    assert.equal(calls, 0);
  });

  test('schedule() survives a forward clock jump (re-checks at least every second)', async () => {
    const src = manualSource(EPOCH);
    const c = clockWith(src);
    let calls = 0;
    c.schedule(EPOCH + 3_600_000, () => calls++); // an hour away
    await sleep(30);
    assert.equal(calls, 0, 'not due yet');
    src.add(3_600_000); // the wall clock jumps an hour
    // The pending timer waits at most RECHECK_MS (1 s) before looking at the clock again.
    assert.ok(await poll(() => calls > 0, { timeoutMs: 3000, intervalMs: 5 }), 'fired within ~1 s of the jump');
    assert.equal(calls, 1);
  });

  describe('config errors throw HAMSYNC_ERR_CONFIG naming the field', () => {
    const bad: ReadonlyArray<[keyof WallClockOptions, unknown]> = [
      ['offsetMs', NaN],
      ['offsetMs', Infinity],
      ['offsetMs', -Infinity],
      ['offsetMs', '5'],
      ['offsetMs', null],
      ['driftPpm', NaN],
      ['driftPpm', Infinity],
      ['driftPpm', -Infinity],
      ['driftPpm', 1e6],
      ['driftPpm', -1e6],
      ['driftPpm', 2e6],
      ['driftPpm', -5e6],
      ['driftPpm', '50'],
    ];
    for (const [field, value] of bad) {
      test(`${field} = ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`, () => {
        const err = expectHamsyncError(() => new WallClock({ [field]: value } as WallClockOptions), 'HAMSYNC_ERR_CONFIG', `${field} ${String(value)}`);
        assert.equal(err.details.field, field);
        assert.match(err.message, new RegExp(field));
      });
    }

    test('in-range values are accepted', () => {
      for (const driftPpm of [0, 50, -50, 999_999, -999_999, 0.5]) new WallClock({ driftPpm, source: () => 0 });
      for (const offsetMs of [0, -0, 1e12, -1e12, 0.001]) new WallClock({ offsetMs, source: () => 0 });
      new WallClock({ offsetMs: undefined, driftPpm: undefined, source: () => 0 });
    });
  });
});

describe('ManualClock', () => {
  test('starts at the given state (default 0) and moves only when told to', () => {
    assert.equal(new ManualClock().now(), 0);
    const c = new ManualClock(EPOCH);
    assert.equal(c.now(), EPOCH);
    assert.equal(c.now(), EPOCH);
    c.advance(250);
    assert.equal(c.now(), EPOCH + 250);
    c.set(EPOCH + 1000);
    assert.equal(c.now(), EPOCH + 1000);
  });

  test('advance() and set() fire due callbacks in state order', () => {
    const c = new ManualClock(0);
    const fired: number[] = [];
    for (const state of [30, 10, 20, 10, 50, 25.5, 100]) c.schedule(state, () => fired.push(state));
    assert.deepEqual(fired, []);
    c.advance(25);
    assert.deepEqual(fired, [10, 10, 20]);
    c.advance(5); // exactly 30: a callback fires once now() >= its state
    assert.deepEqual(fired, [10, 10, 20, 25.5, 30]);
    c.set(99.999);
    assert.deepEqual(fired, [10, 10, 20, 25.5, 30, 50]);
    c.set(1000);
    assert.deepEqual(fired, [10, 10, 20, 25.5, 30, 50, 100]);
    c.advance(1e6);
    assert.equal(fired.length, 7, 'each callback fires once');
  });

  test('a single big jump fires everything due in state order', () => {
    const c = new ManualClock(0);
    const fired: number[] = [];
    const states = [5, 3, 9, 1, 7, 2, 8, 6, 4];
    for (const st of states) c.schedule(st, () => fired.push(st));
    c.set(10);
    assert.deepEqual(fired, [...states].sort((a, b) => a - b));
  });

  test('a callback cancelled by an earlier callback of the same advance does not fire', () => {
    // E.g. applying one deferred update cancels the timer of another that it superseded.
    const c = new ManualClock(0);
    const fired: string[] = [];
    let cancelB: () => void = () => undefined;
    c.schedule(10, () => {
      fired.push('a');
      cancelB();
    });
    cancelB = c.schedule(20, () => fired.push('b'));
    c.advance(30);
    assert.deepEqual(fired, ['a'], 'b was cancelled (by a) before it fired');
  });

  test('a callback that throws does not lose the other callbacks that were due', () => {
    const c = new ManualClock(0);
    const fired: string[] = [];
    c.schedule(1, () => {
      throw new Error('boom');
    });
    c.schedule(2, () => fired.push('b'));
    // Whether advance() rethrows is up to the clock; 'b' must run now or at the next move.
    try {
      c.advance(5);
    } catch {
      // the callback's own error
    }
    c.advance(0);
    assert.deepEqual(fired, ['b'], 'the callback due at 2 was dropped when the one at 1 threw');
  });

  test('a callback scheduling a state already due runs in the same advance; a later one waits', () => {
    const c = new ManualClock(0);
    const fired: string[] = [];
    c.schedule(10, () => {
      fired.push('a@10');
      c.schedule(15, () => fired.push('c@15'));
      c.schedule(50, () => fired.push('d@50'));
    });
    c.schedule(18, () => fired.push('b@18'));
    c.advance(20);
    assert.deepEqual(fired, ['a@10', 'c@15', 'b@18']);
    c.advance(30);
    assert.deepEqual(fired, ['a@10', 'c@15', 'b@18', 'd@50']);
  });

  test('set() backward fires nothing; callbacks wait until the state is reached again', () => {
    const c = new ManualClock(100);
    const fired: number[] = [];
    c.set(50);
    c.schedule(70, () => fired.push(70));
    assert.deepEqual(fired, []);
    c.set(60);
    assert.deepEqual(fired, []);
    c.set(70);
    assert.deepEqual(fired, [70]);
  });

  test('non-finite arguments throw HAMSYNC_ERR_STATE', () => {
    for (const bad of [NaN, Infinity, -Infinity, '5', undefined]) {
      const v = bad as number;
      if (v !== undefined) expectHamsyncError(() => new ManualClock(v), 'HAMSYNC_ERR_STATE', `start ${String(bad)}`);
      const c = new ManualClock(0);
      expectHamsyncError(() => c.advance(v), 'HAMSYNC_ERR_STATE', `advance ${String(bad)}`);
      expectHamsyncError(() => c.set(v), 'HAMSYNC_ERR_STATE', `set ${String(bad)}`);
      assert.equal(c.now(), 0, 'a rejected move leaves the clock where it was');
    }
  });

  test(`property: callbacks fire once, in state order, only when due and not cancelled (seed ${SEED})`, () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), delta: fc.integer({ min: -5, max: 50 }) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ kind: fc.constant('set' as const), delta: fc.integer({ min: -40, max: 40 }) }),
      fc.record({ kind: fc.constant('stamp' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const c = new ManualClock(0);
        interface Entry { state: number; cancel: () => void; cancelled: boolean; fired: number }
        const entries: Entry[] = [];
        let lastStamp = -Infinity;
        for (const o of ops) {
          const batch: number[] = [];
          const track = (e: Entry) => (): void => {
            e.fired++;
            assert.ok(!e.cancelled, 'a cancelled callback fired');
            assert.ok(c.now() >= e.state, `fired at ${c.now()} before its state ${e.state}`);
            batch.push(e.state);
          };
          switch (o.kind) {
            case 'schedule': {
              const e: Entry = { state: c.now() + o.delta, cancel: () => undefined, cancelled: false, fired: 0 };
              entries.push(e);
              e.cancel = c.schedule(e.state, track(e));
              if (e.state <= c.now()) assert.equal(e.fired, 1, 'a due state fires immediately');
              break;
            }
            case 'cancel': {
              const e = entries[o.pick % Math.max(1, entries.length)];
              if (e !== undefined) {
                e.cancel();
                if (e.fired === 0) e.cancelled = true;
              }
              break;
            }
            case 'advance':
              c.advance(o.ms);
              break;
            case 'set':
              c.set(c.now() + o.delta);
              break;
            case 'stamp': {
              const s = c.stamp();
              assert.ok(s > lastStamp);
              lastStamp = s;
              break;
            }
          }
          assert.ok(c.now() >= lastStamp, 'now() below a stamp');
          for (let i = 1; i < batch.length; i++) assert.ok((batch[i] as number) >= (batch[i - 1] as number), `out of order: ${batch.join(', ')}`);
          for (const e of entries) assert.ok(e.fired <= 1, 'a callback fired twice');
          if (o.kind === 'advance' || o.kind === 'set') {
            // After the clock moves, nothing due is left waiting.
            for (const e of entries) {
              if (!e.cancelled && e.fired === 0) assert.ok(e.state > c.now(), `callback at ${e.state} still waiting at ${c.now()}`);
            }
          }
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

function assertClose(actual: number, expected: number, label: string): void {
  // 1 µs: far below what the assertions are about, far above float rounding at 1.8e12.
  assert.ok(Math.abs(actual - expected) <= 1e-3, `${label}: ${actual} is not ~${expected}`);
}
