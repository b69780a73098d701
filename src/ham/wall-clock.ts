import { HamsyncError, describe } from '../errors.js';
import { assertState } from './decide.js';
import { Stamper, type Clock, type ClockReference, type HighWaterStore } from './clock.js';

export interface WallClockOptions {
  /** Milliseconds added to the wall clock, to simulate or correct drift. Default 0. */
  offsetMs?: number;
  /** Rate error in parts per million (e.g. 50 runs 50 µs/s fast), for simulated devices. Default 0. */
  driftPpm?: number;
  /** Persists the stamp high-water mark; without it stamps are monotonic only within this process. */
  highWater?: HighWaterStore;
  /** The underlying time source in ms; defaults to `Date.now`. For tests of the clock itself. */
  source?: () => number;
  /**
   * A reference time (the daemon's clock guard). A reading more than `maxAheadMs` ahead of it is
   * not trusted: the machine state follows the reference instead (and is not raised by the
   * reading), and the reference may refuse stamps. Without one, every reading is trusted.
   */
  reference?: ClockReference;
}

/** Longest single timer wait: re-check at least this often so clock steps are noticed. */
const RECHECK_MS = 1000;

/** Wall clock + offset (+ optional rate drift), never decreasing, with persisted strictly increasing stamps. */
export class WallClock implements Clock {
  private readonly offsetMs: number;
  private readonly rate: number;
  private readonly source: () => number;
  private readonly origin: number;
  private readonly stamper: Stamper;
  private readonly reference: ClockReference | undefined;
  private floor = -Infinity;

  constructor(options: WallClockOptions = {}) {
    const { offsetMs = 0, driftPpm = 0 } = options;
    if (!Number.isFinite(offsetMs)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `clock offsetMs must be a finite number, got ${describe(offsetMs)}`, { field: 'offsetMs' });
    if (!Number.isFinite(driftPpm) || Math.abs(driftPpm) >= 1e6) {
      throw new HamsyncError('HAMSYNC_ERR_CONFIG', `clock driftPpm must be a finite number between -1e6 and 1e6, got ${describe(driftPpm)}`, { field: 'driftPpm' });
    }
    this.offsetMs = offsetMs;
    this.rate = 1 + driftPpm / 1e6;
    this.source = options.source ?? Date.now;
    this.origin = this.source();
    this.stamper = new Stamper(options.highWater);
    this.reference = options.reference;
  }

  /** The clock's own reading: the source with offset and drift, before any floor. */
  reading(): number {
    return this.origin + (this.source() - this.origin) * this.rate + this.offsetMs;
  }

  /** The highest stamp given, across restarts (-Infinity before the first). */
  get highWater(): number {
    return this.stamper.highWater;
  }

  now(): number {
    let raw = this.reading();
    // A reading far ahead of the reference (a clock that stepped forward) must not raise the
    // floor: that would hold every later stamp up there after the clock came back.
    const ref = this.reference?.now();
    if (ref !== undefined && raw - ref > (this.reference as ClockReference).maxAheadMs) raw = ref;
    // Never below an earlier reading or a stamp we gave: our own updates must never be "from the future".
    const floor = Math.max(this.floor, this.stamper.highWater);
    this.floor = raw > floor ? raw : floor;
    return this.floor;
  }

  stamp(): number {
    const now = this.now();
    this.reference?.checkStamp(this.reading(), Math.max(now, this.stamper.highWater));
    return this.stamper.next(now);
  }

  schedule(state: number, fn: () => void): () => void {
    assertState(state, 'state');
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const check = (): void => {
      if (cancelled) return;
      const wait = state - this.now();
      if (wait <= 0) {
        fn();
        return;
      }
      timer = setTimeout(check, Math.min(Math.ceil(wait), RECHECK_MS));
      timer.unref();
    };
    check();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  }
}
