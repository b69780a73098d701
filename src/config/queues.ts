/** Config keys shared by the daemon and the broker that become replica options: retention and queue limits. */
import type { ReplicaOptions } from '../sync/replica.js';
import { parseDuration } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import { queueOptions } from './shared-options.js';

const QUEUE_OPTIONS = queueOptions('a batch');

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
 * (a size) and `quarantineMax`, checked by the option table's checks (shared-options.ts);
 * absent keys are left out (defaults are the replica's). Errors name the config key and the value.
 */
export function queueOptionsOf(input: { maxFuture?: unknown; deferredMax?: unknown; deferredMaxBytes?: unknown; quarantineMax?: unknown }): QueueOptions {
  for (const [key, e] of Object.entries(QUEUE_OPTIONS)) {
    const value = input[key as keyof typeof input];
    if (value !== undefined) e.check(value, key);
  }
  return {
    ...(input.maxFuture === undefined ? {} : { maxFutureMs: parseDuration(input.maxFuture, 'maxFuture') }),
    ...(input.deferredMax === undefined ? {} : { deferredMaxPerSource: input.deferredMax as number }),
    ...(input.deferredMaxBytes === undefined ? {} : { deferredMaxBytesPerSource: parseSize(input.deferredMaxBytes, 'deferredMaxBytes') }),
    ...(input.quarantineMax === undefined ? {} : { quarantineMaxPerSource: input.quarantineMax as number }),
  };
}
