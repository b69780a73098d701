/** Timing for paced replay; the wall clock in production, a manual one in tests. */
export interface Timer {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const wallTimer: Timer = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/**
 * Longest single sleep: one hour. Node's timers take at most 2^31-1 ms (24.8 days); a longer
 * wait fires after 1 ms with a TimeoutOverflowWarning, so states weeks apart are slept in chunks.
 */
export const MAX_SLEEP_MS = 3_600_000;

/**
 * Paces a replay by the original state gaps divided by `speed`: the row with state s is let
 * through at start + (s - s0) / speed. `max` lets everything through at once. Targets are
 * measured from the start, so sleeping late does not accumulate drift. A wait ends early once
 * `stopped()` is true (checked between chunks; the timer's sleep should also wake on a stop).
 */
export function pacer(speed: number | 'max', timer: Timer = wallTimer, stopped: () => boolean = () => false): (state: number) => Promise<void> {
  if (speed === 'max') return async () => undefined;
  let s0: number | undefined;
  let t0 = 0;
  return async (state) => {
    if (s0 === undefined) {
      s0 = state;
      t0 = timer.now();
      return;
    }
    const target = t0 + (state - s0) / speed;
    for (let wait = target - timer.now(); wait > 0 && !stopped(); wait = target - timer.now()) {
      await timer.sleep(Math.min(wait, MAX_SLEEP_MS));
    }
  };
}
