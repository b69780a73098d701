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
 * Paces a replay by the original state gaps divided by `speed`: the row with state s is let
 * through at start + (s - s0) / speed. `max` lets everything through at once. Targets are
 * measured from the start, so sleeping late does not accumulate drift.
 */
export function pacer(speed: number | 'max', timer: Timer = wallTimer): (state: number) => Promise<void> {
  if (speed === 'max') return async () => undefined;
  let s0: number | undefined;
  let t0 = 0;
  return async (state) => {
    if (s0 === undefined) {
      s0 = state;
      t0 = timer.now();
      return;
    }
    const wait = t0 + (state - s0) / speed - timer.now();
    if (wait > 0) await timer.sleep(wait);
  };
}
