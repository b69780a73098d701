/**
 * Bounded waiting for tests, the one place for it: `sleep`, `until` (throws on timeout, naming
 * what it waited for) and `poll` (resolves false on timeout, for a test that asserts itself).
 * Nothing here waits without a deadline.
 */

export interface UntilOptions {
  /** Give up after this many ms. Default 10000. */
  timeoutMs?: number;
  /** Pause between attempts, in ms. Default 50. */
  intervalMs?: number;
  /** What we wait for, for the timeout message. */
  what?: string;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** What a truthy result can be. */
export type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

function show(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 600 ? `${text.slice(0, 600)}...` : text;
  } catch {
    return String(value);
  }
}

/**
 * Calls `fn` until it returns a truthy value (which is returned), at most `timeoutMs`.
 * A throw (a failed assertion, a refused connection) counts as "not yet"; on timeout the
 * error names what was awaited and carries the last thrown error or the last value.
 */
export async function until<T>(fn: () => T | Promise<T>, options: UntilOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  let lastValue: T | undefined;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const value = await fn();
      if (value) return value as Truthy<T>;
      lastValue = value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const what = options.what ?? 'a condition';
      const last = lastError === undefined ? `last value: ${show(lastValue)}` : `last error: ${lastError instanceof Error ? lastError.message : show(lastError)}`;
      throw new Error(`timed out after ${Date.now() - started} ms (${attempts} attempts) waiting for ${what}; ${last}`, { cause: lastError });
    }
    await sleep(Math.min(intervalMs, left));
  }
}

/** `until`, but resolves true when `fn` holds and false on timeout, instead of throwing. */
export async function poll(fn: () => boolean | Promise<boolean>, options: UntilOptions = {}): Promise<boolean> {
  try {
    await until(fn, options);
    return true;
  } catch {
    return false;
  }
}
