/** Seeds and a small deterministic PRNG for randomized tests: a failure replays from its seed. */

/** `HAMSYNC_SEED` if set (an integer), else `fallback`. */
export function seedFromEnv(fallback: number): number {
  const raw = process.env.HAMSYNC_SEED;
  if (raw === undefined || raw === '') return fallback;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`HAMSYNC_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return seed;
}

/** mulberry32: numbers in [0, 1) from a 32-bit seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
