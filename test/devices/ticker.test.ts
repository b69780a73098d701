import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ticker, type TickerTimers } from '../../devices/util/ticker.js';

/** Manual timers: what is pending is visible, and time moves only when the test says. */
class FakeTimers implements TickerTimers {
  private seq = 0;
  readonly pending = new Map<number, { fn: () => void; at: number }>();
  t = 1000;
  set(fn: () => void, ms: number): number {
    this.pending.set(++this.seq, { fn, at: this.t + ms });
    return this.seq;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  now(): number {
    return this.t;
  }
  /** The one pending timer's delay from now (the ticker never has two). */
  delay(): number {
    assert.equal(this.pending.size, 1, 'exactly one timer pending');
    const next = [...this.pending.values()][0] as { at: number };
    return next.at - this.t;
  }
  /** Moves time to the pending timer and fires it. */
  fire(): void {
    const [id, { fn, at }] = [...this.pending.entries()][0] as [number, { fn: () => void; at: number }];
    this.pending.delete(id);
    this.t = Math.max(this.t, at);
    fn();
  }
}

const noError = (err: unknown): void => assert.fail(`unexpected tick error: ${String(err)}`);

/** Lets the ticker's promise chain (tick, then schedule) run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a ticker ticks at once, then one interval after each tick started', async () => {
  const timers = new FakeTimers();
  let ticks = 0;
  const ticker = new Ticker(100, () => void ticks++, noError, timers);
  ticker.start();
  assert.equal(timers.delay(), 0);
  timers.fire();
  await settle();
  assert.equal(ticks, 1);
  assert.equal(timers.delay(), 100);
  timers.fire();
  await settle();
  assert.equal(ticks, 2);
  await ticker.stop();
});

test('a tick that overruns its interval delays the next to now, never queues more', async () => {
  const timers = new FakeTimers();
  const ticker = new Ticker(100, () => void (timers.t += 250), noError, timers);
  ticker.start();
  timers.fire();
  await settle();
  assert.equal(timers.delay(), 0);
  await ticker.stop();
});

test('after stop nothing is scheduled, also when stop comes during a tick', async () => {
  const timers = new FakeTimers();
  let release: () => void = () => undefined;
  let ticks = 0;
  const ticker = new Ticker(100, () => {
    ticks++;
    return new Promise<void>((r) => (release = r));
  }, noError, timers);
  ticker.start();
  timers.fire();
  assert.equal(ticks, 1);
  // The tick is in progress: stop waits for it, and its end schedules nothing.
  let stopped = false;
  const stopping = ticker.stop().then(() => (stopped = true));
  await settle();
  assert.equal(stopped, false, 'stop waits for the tick in progress');
  release();
  await stopping;
  assert.equal(timers.pending.size, 0, 'no timer pending after stop');
  // Idle ticker: stop cancels the pending timer.
  const idle = new Ticker(100, () => undefined, noError, timers);
  idle.start();
  assert.equal(timers.pending.size, 1);
  await idle.stop();
  assert.equal(timers.pending.size, 0);
  idle.start();
  assert.equal(timers.pending.size, 0, 'a stopped ticker does not start again');
});

test('a tick that throws is reported and the ticker goes on', async () => {
  const timers = new FakeTimers();
  const errors: unknown[] = [];
  const ticker = new Ticker(50, () => {
    throw new Error('boom');
  }, (err) => errors.push(err), timers);
  ticker.start();
  timers.fire();
  await settle();
  assert.equal((errors[0] as Error).message, 'boom');
  assert.equal(timers.delay(), 50);
  await ticker.stop();
});
