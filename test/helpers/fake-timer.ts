import type { Timer } from '../../src/replay/pace.js';

/** A manual replay timer: `sleep` records the wait and moves `now` forward by it; `onSleep` runs after each. */
export function fakeTimer(onSleep: (sleeps: readonly number[]) => void = () => undefined): Timer & { now(): number; sleeps: number[]; advance(ms: number): void } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    advance: (ms) => void (now += ms),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
      onSleep(sleeps);
    },
  };
}
