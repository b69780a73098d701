/**
 * The crash test's workload, generated deterministically from (seed, round, batch id) so the
 * parent can regenerate exactly what the child acknowledged from the acknowledgement line alone.
 */
import { prng } from '../helpers/seed.js';
import type { Json } from '../../src/index.js';

/** Machine state (ManualClock) at batch 0 of round 0. */
export const T0 = 1_700_000_000_000;
/** The child advances its clock by this much before each batch. */
export const STEP_MS = 7;
/** Each restart starts this much later than the previous round did. */
export const ROUND_SPAN_MS = 100_000_000;
/** Updates "far in the future" stay deferred through every round; the final check promotes them. */
export const FAR_FUTURE_MS = 10 * ROUND_SPAN_MS;
/** A clock past every state the workload can produce. */
export const END_OF_TIME = T0 + 1_000 * ROUND_SPAN_MS;

export const KEYS = Array.from({ length: 40 }, (_, i) => `crash/k${i}`);
export const SOURCES = Array.from({ length: 6 }, (_, i) => `dev-${i}`);
const VALUES: Json[] = [0, 1, 2, 3, 'a', 'b', 'c', true, false, null, { u: 'C', v: 21.5 }, { u: 'F', v: 70.7 }, [1, 2], ['x']];

export interface WorkUpdate {
  key: string;
  value: Json;
  state: number;
  source: string;
}

/** mulberry32, shared with the other randomized tests. */
export { prng };

export function int(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}

/** The child's machine state while it resolves batch `id` of `round`. */
export function clockAt(round: number, id: number): number {
  return T0 + round * ROUND_SPAN_MS + id * STEP_MS;
}

/** Batch `id` of `round`: 1 to 200 updates; most due, about a quarter from the future. */
export function batchFor(seed: number, round: number, id: number): WorkUpdate[] {
  const rand = prng((seed ^ Math.imul(round + 1, 0x9e3779b1) ^ Math.imul(id + 1, 0x85ebca6b)) >>> 0);
  const now = clockAt(round, id);
  const size = int(rand, 1, 200);
  const out: WorkUpdate[] = [];
  for (let i = 0; i < size; i++) {
    const r = rand();
    let state: number;
    if (r < 0.68) state = now - int(rand, 0, 300); // recent: races, ties, duplicates
    else if (r < 0.73) state = now - int(rand, 0, 2 * ROUND_SPAN_MS); // old, maybe from an earlier round
    else if (r < 0.95) state = now + int(rand, 1, 400); // near future: promoted within this round, or at the next open
    else state = now + FAR_FUTURE_MS + int(rand, 0, 1000); // stays deferred until the final check
    if (rand() < 0.1) state += int(rand, 1, 3) / 4; // some fractional states
    out.push({ key: pick(rand, KEYS), value: pick(rand, VALUES), state, source: pick(rand, SOURCES) });
  }
  return out;
}
