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
  private floor = -Infinity;

  constructor(start = 0, highWater?: HighWaterStore) {
    assertState(start, 'start');
    this.time = start;
    this.stamper = new Stamper(highWater);
  }

  now(): number {
    // Like the wall clock: never below an earlier reading or a stamp given.
    this.floor = Math.max(this.floor, this.time, this.stamper.highWater);
    return this.floor;
  }

  stamp(): number {
    const stamp = this.stamper.next(this.now());
    this.runDue();
    return stamp;
  }

  /** Moves the clock forward by `ms` and runs every callback that became due, in state order. */
  advance(ms: number): void {
    assertState(ms, 'ms');
    this.set(this.time + ms);
  }

  /** Sets the clock. Setting it backward is allowed (a wall clock can step back) but now() does not decrease. */
  set(time: number): void {
    assertState(time, 'time');
    this.time = time;
    this.runDue();
  }

  schedule(state: number, fn: () => void): () => void {
    assertState(state, 'state');
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

  /** Runs due callbacks one at a time, so one may cancel another, and a throw loses none of the rest. */
  private runDue(): void {
    for (;;) {
      const now = this.now();
      let next: Pending | undefined;
      for (const p of this.pending) if (p.state <= now && (next === undefined || p.state < next.state)) next = p;
      if (next === undefined) return;
      const due = next;
      this.pending = this.pending.filter((p) => p !== due);
      due.fn();
    }
  }
}
