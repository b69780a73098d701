import { HamsyncError, describe } from '../errors.js';

/**
 * The machine's clock: where HAM's upper boundary (the machine state) comes from.
 * Production uses the wall clock (`WallClock`); tests and simulations use `ManualClock`.
 */
export interface Clock {
  /** The machine state now. Never decreases, and is never below a stamp this clock gave. */
  now(): number;
  /** A fresh local stamp: strictly greater than every stamp given before, across restarts too. */
  stamp(): number;
  /**
   * Calls `fn` once `now() >= state` (soon after, on the wall clock). Returns a cancel function.
   * Survives clock jumps: a wall-clock timer is re-checked at least every second.
   */
  schedule(state: number, fn: () => void): () => void;
}

/** Where a clock keeps its high-water mark so that stamps never go backward across restarts. */
export interface HighWaterStore {
  load(): number | undefined;
  save(stamp: number): void;
}

/**
 * Another opinion on the time: the daemon's clock guard, which learns it from the hub's clock and
 * GPS. A wall clock given one does not trust a reading more than `maxAheadMs` ahead of it.
 */
export interface ClockReference {
  /** The reference time now in ms since the epoch, or undefined while there is none. */
  now(): number | undefined;
  /** How far ahead of the reference a reading may be and still be trusted, in ms. */
  readonly maxAheadMs: number;
  /**
   * Called before every stamp with the clock's own reading and the stamp it would give (never
   * below its high-water mark); throws a coded error to refuse the stamp.
   */
  checkStamp(reading: number, next: number): void;
}

/** The smallest step between two stamps that fall in the same millisecond. */
export const STAMP_STEP = 1 / 1024;

/** Strictly increasing stamps over a possibly stalling or backward-stepping source. */
export class Stamper {
  private last: number;
  private readonly store: HighWaterStore | undefined;

  constructor(store?: HighWaterStore) {
    this.store = store;
    const loaded = store?.load();
    if (loaded !== undefined && (typeof loaded !== 'number' || !Number.isFinite(loaded))) {
      throw new HamsyncError('HAMSYNC_ERR_STORE', `the stored clock high-water mark is not a finite number: ${describe(loaded)}`);
    }
    this.last = loaded ?? -Infinity;
  }

  /** The highest stamp given so far (-Infinity before the first). */
  get highWater(): number {
    return this.last;
  }

  next(source: number): number {
    // A non-finite reading (a broken source) is ignored: step on from the last stamp.
    const base = Number.isFinite(this.last) ? this.last : 0;
    let stamp = Number.isFinite(source) && source > this.last ? source : base + STAMP_STEP;
    // Far from zero, a step may vanish in rounding: move to the next representable double.
    if (stamp <= this.last) stamp = nextUp(base);
    this.last = stamp;
    this.store?.save(stamp);
    return stamp;
  }
}

function nextUp(x: number): number {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  buf.setBigUint64(0, x >= 0 ? bits + 1n : bits - 1n);
  return buf.getFloat64(0);
}
