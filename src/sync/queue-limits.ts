import { checkNumber, type NumberRule } from '../util/check.js';

/** Bounds on what one source may keep waiting in a replica. Defaults in brackets. */
export interface QueueLimits {
  /**
   * The horizon, in ms: an update stamped more than this ahead of the machine state is not
   * deferred but quarantined (held for an operator, never applied on its own). [30 days]
   */
  maxFutureMs: number;
  /** Most deferred updates per source. [10,000] */
  deferredMaxPerSource: number;
  /** Most bytes of deferred updates per source (UTF-8 key + canonical value text). [16 MiB] */
  deferredMaxBytesPerSource: number;
  /** Most quarantined updates per source; 0: updates beyond the horizon are refused, not kept. [1,000] */
  quarantineMaxPerSource: number;
}

export const DEFAULT_QUEUE_LIMITS: Readonly<QueueLimits> = Object.freeze({
  maxFutureMs: 30 * 86_400_000,
  deferredMaxPerSource: 10_000,
  deferredMaxBytesPerSource: 16 * 1024 * 1024,
  quarantineMaxPerSource: 1_000,
});

const CHECKS: Record<keyof QueueLimits, NumberRule> = {
  maxFutureMs: [(n) => Number.isFinite(n) && n > 0, 'a positive finite number of ms'],
  deferredMaxPerSource: [(n) => Number.isSafeInteger(n) && n >= 1, 'a whole number >= 1'],
  deferredMaxBytesPerSource: [(n) => Number.isSafeInteger(n) && n >= 1, 'a whole number of bytes >= 1'],
  quarantineMaxPerSource: [(n) => Number.isSafeInteger(n) && n >= 0, 'a whole number >= 0'],
};

/** The limits given (undefined: default), each checked; an error names the field and the value. */
export function resolveQueueLimits(given: Partial<Record<keyof QueueLimits, unknown>>): QueueLimits {
  const out: QueueLimits = { ...DEFAULT_QUEUE_LIMITS };
  for (const name of Object.keys(CHECKS) as (keyof QueueLimits)[]) {
    const value = given[name];
    if (value === undefined) continue;
    out[name] = checkNumber(value, name, CHECKS[name]);
  }
  return out;
}
