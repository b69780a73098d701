import { performance } from 'node:perf_hooks';

/** The timers a Ticker schedules with: the global ones, or a test's. */
export interface TickerTimers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
  now(): number;
}

const REAL_TIMERS: TickerTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
  // Monotonic time: a Pi without an RTC jumps its wall clock by years when NTP syncs.
  now: () => performance.now(),
};

/**
 * The timer of polling sources: runs `tick` now and then every `intervalMs`, measured from the
 * start of one tick to the start of the next, so two ticks never start less than `intervalMs`
 * apart (timers can only be late, and lateness is not made up for). Never two ticks at once: a
 * tick that overruns its interval delays the next one instead of queueing more. `stop()` waits
 * for a tick in progress.
 */
export class Ticker {
  private timer: unknown;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: () => void | Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly timers: TickerTimers = REAL_TIMERS,
  ) {}

  /** Runs the first tick now (asynchronously) and schedules the rest. */
  start(): void {
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = this.timers.set(() => this.fire(), Math.max(0, delay));
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const due = this.timers.now() + this.intervalMs;
    const run = (async () => {
      try {
        await this.tick();
      } catch (err) {
        this.onError(err);
      }
    })();
    this.running = run;
    void run.then(() => {
      this.running = undefined;
      this.schedule(due - this.timers.now());
    });
  }

  /** Cancels future ticks and waits for the one in progress, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
