import { assertState } from './decide.js';
import { Stamper, type Clock, type HighWaterStore } from './clock.js';

interface Pending {
  state: number;
  fn: () => void;
}

/** A clock that moves only when told to: for tests and simulations. */
export class ManualClock implements Clock {
  private time: number;
  private readonly stamper: Stamper;
  private pending: Pending[] = [];

  constructor(start = 0, highWater?: HighWaterStore) {
    assertState(start, 'start');
    this.time = start;
    this.stamper = new Stamper(highWater);
  }

  now(): number {
    return Math.max(this.time, this.stamper.highWater);
  }

  stamp(): number {
    return this.stamper.next(this.now());
  }

  /** Moves the clock forward by `ms` and runs every callback that became due, in state order. */
  advance(ms: number): void {
    assertState(ms, 'ms');
    this.set(this.time + ms);
  }

  /** Sets the clock (it may go backward, like a wall clock can; now() still never decreases below a stamp). */
  set(time: number): void {
    assertState(time, 'time');
    this.time = time;
    this.runDue();
  }

  schedule(state: number, fn: () => void): () => void {
    const entry: Pending = { state, fn };
    if (state <= this.now()) {
      fn();
      return () => undefined;
    }
    this.pending.push(entry);
    return () => {
      this.pending = this.pending.filter((p) => p !== entry);
    };
  }

  private runDue(): void {
    const now = this.now();
    const due = this.pending.filter((p) => p.state <= now).sort((a, b) => a.state - b.state);
    if (due.length === 0) return;
    this.pending = this.pending.filter((p) => p.state > now);
    for (const p of due) p.fn();
  }
}
