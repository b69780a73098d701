/** Config keys shared by the daemon and the broker that become replica options: retention and queue limits. */
import { HamsyncError, describe } from '../errors.js';
import type { ReplicaOptions } from '../sync/replica.js';
import { checkNumber, wholeAtLeast } from '../util/check.js';
import { parseDuration } from '../util/duration.js';
import { parseSize } from '../util/size.js';

/** The queue options of a replica (ReplicaOptions fields), from the daemon/broker config keys. */
export type QueueOptions = Pick<ReplicaOptions, 'maxFutureMs' | 'deferredMaxPerSource' | 'deferredMaxBytesPerSource' | 'quarantineMaxPerSource'>;

/** Retention options from `retainHistory` / `retainBytes` (both optional). */
export function retentionOf(history: string | number | undefined, bytes: string | number | undefined): { maxAgeMs?: number; maxBytes?: number } {
  return {
    ...(history === undefined ? {} : { maxAgeMs: parseDuration(history, 'retainHistory') }),
    ...(bytes === undefined ? {} : { maxBytes: parseSize(bytes, 'retainBytes') }),
  };
}

/**
 * The queue limits from config keys `maxFuture` (a duration), `deferredMax`, `deferredMaxBytes`
 * (a size) and `quarantineMax`; absent keys are left out (defaults are the replica's).
 * Errors name the config key and the value.
 */
export function queueOptionsOf(input: { maxFuture?: unknown; deferredMax?: unknown; deferredMaxBytes?: unknown; quarantineMax?: unknown }): QueueOptions {
  const count = (v: unknown, field: string, min: number): number => checkNumber(v, field, wholeAtLeast(min));
  const out: QueueOptions = {};
  if (input.maxFuture !== undefined) {
    const ms = parseDuration(input.maxFuture, 'maxFuture');
    if (!(ms > 0)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `maxFuture must be a positive duration like 30d or 12h, got ${describe(input.maxFuture)}`, { field: 'maxFuture' });
    out.maxFutureMs = ms;
  }
  if (input.deferredMax !== undefined) out.deferredMaxPerSource = count(input.deferredMax, 'deferredMax', 1);
  if (input.deferredMaxBytes !== undefined) {
    const bytes = parseSize(input.deferredMaxBytes, 'deferredMaxBytes');
    if (bytes < 1) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `deferredMaxBytes must be at least 1 byte, got ${describe(input.deferredMaxBytes)}`, { field: 'deferredMaxBytes' });
    out.deferredMaxBytesPerSource = bytes;
  }
  if (input.quarantineMax !== undefined) out.quarantineMaxPerSource = count(input.quarantineMax, 'quarantineMax', 0);
  return out;
}
