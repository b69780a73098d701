/**
 * Per-device publish rate limit: a token bucket of updates, keyed by the put topic's device id (under
 * authentication, the only device a client may put as; reconnecting does not refill it). Each may put `burst` updates at
 * once and `perSecond` updates per second after that; a message that would overdraw its bucket is
 * refused whole (nothing of it is stored) and takes no tokens. Time comes from a passed-in clock
 * (monotonic milliseconds), so tests can drive it.
 */
import { BROKER_DEFAULTS } from '../src/config/broker-options.js';
import { HamsyncError } from '../src/errors.js';
import { checkNumber } from '../src/util/check.js';

export interface RateLimitOptions {
  /** Sustained updates per second per client. Default 2000; 0 turns the limit off. */
  perSecond?: number;
  /** Updates a client may send at once after being idle (bucket size). Default 100000. */
  burst?: number;
}

export const DEFAULT_RATE_LIMIT: Readonly<Required<RateLimitOptions>> = BROKER_DEFAULTS.rateLimit;

interface Bucket {
  tokens: number;
  at: number;
}

export function resolveRateLimit(options: RateLimitOptions = {}): Required<RateLimitOptions> {
  const out = { ...DEFAULT_RATE_LIMIT };
  for (const [name, value] of Object.entries(options) as [keyof RateLimitOptions, unknown][]) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_RATE_LIMIT)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `rateLimit.${String(name)} is not a known option`, { field: `rateLimit.${String(name)}` });
    out[name] = checkNumber(value, `rateLimit.${name}`, [(n) => Number.isFinite(n) && n >= 0, 'a number >= 0']);
  }
  if (out.perSecond > 0 && out.burst < 1) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `rateLimit.burst must be >= 1 when a rate is set, got ${out.burst}`, { field: 'rateLimit.burst' });
  return out;
}

export class RateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  private readonly buckets = new Map<string, Bucket>();
  private sweepAt: number;

  constructor(
    options: RateLimitOptions = {},
    private readonly now: () => number = () => performance.now(),
    private readonly maxTracked = 10_000,
  ) {
    ({ perSecond: this.perSecond, burst: this.burst } = resolveRateLimit(options));
    this.sweepAt = maxTracked;
  }

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** Takes `n` tokens from `client`'s bucket if it has them; false (and nothing taken) if not. */
  take(client: string, n: number): boolean {
    if (!this.enabled) return true;
    const t = this.now();
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= this.sweepAt) {
        // Amortized: after a sweep, the next one waits until the map has doubled.
        this.sweep();
        this.sweepAt = Math.max(this.maxTracked, 2 * this.buckets.size);
      }
      b = { tokens: this.burst, at: t };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
      b.at = t;
    }
    if (n > b.tokens) return false;
    b.tokens -= n;
    return true;
  }

  /**
   * Drops buckets that have refilled (a full bucket is the same as none), so the map holds only
   * clients that sent recently; called by `take` when the map grows past `maxTracked`.
   */
  sweep(): void {
    const t = this.now();
    for (const [client, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(client);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
