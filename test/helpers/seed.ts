/** Seeds and a small deterministic PRNG for randomized tests: a failure replays from its seed. */

/** The environment variable `name` (HAMSYNC_SEED unless a test has its own) if set (an integer), else `fallback`. */
export function seedFromEnv(fallback: number, name = 'HAMSYNC_SEED'): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return seed;
}

/** A fresh random 32-bit seed, for a test that explores (and prints the seed it used). */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
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
