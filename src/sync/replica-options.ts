import type { Clock, ClockReference, HighWaterStore } from '../ham/clock.js';
import { WallClock } from '../ham/wall-clock.js';
import type { Limits } from '../model/limits.js';
import type { DataDirOwner } from '../store/identity.js';
import type { Store } from '../store/open.js';
import type { RetentionOptions } from './retention.js';
import type { HistoryIndexOptions } from './history-index.js';

export interface ReplicaOptions {
  /** Directory of the LMDB environment (created if missing). Required. */
  dataDir: string;
  /**
   * Take the data directory's exclusive lock (src/store/lock.ts) for this purpose (daemon,
   * broker, import), held until close; HAMSYNC_ERR_LOCKED while another process holds it.
   * Default: no lock.
   */
  lock?: string;
  /** Check (or record, the first time) whom the data directory belongs to (src/store/identity.ts); HAMSYNC_ERR_IDENTITY if someone else. */
  owner?: DataDirOwner;
  /**
   * The machine clock, or a factory given the replica's persisted high-water store.
   * Default: the wall clock with `clockOffsetMs`, its stamps persisted in the store.
   */
  clock?: Clock | ((highWater: HighWaterStore) => Clock);
  /** Offset for the default wall clock, in ms. Default 0. */
  clockOffsetMs?: number;
  /** Rate error of the default wall clock in ppm (simulated drift). Default 0. */
  clockDriftPpm?: number;
  /** A reference time for the default wall clock (the daemon's clock guard); none by default. */
  clockReference?: ClockReference;
  /** Bounds on keys, values and batches (see Limits). */
  limits?: Partial<Limits>;
  /** LMDB map size in bytes. Default 16 GiB. */
  mapSize?: number;
  /** Most deferred updates resolved in one transaction when they fall due. Default 1000. */
  promoteChunk?: number;
  /** When the per-key history index is built (src/sync/history-index.ts; programmatic, for tests and benches). */
  historyIndex?: HistoryIndexOptions;
  /** Background history pruning (by age and/or size); off unless maxAgeMs or maxBytes is set. */
  retention?: RetentionOptions;
  /**
   * The horizon in ms: an update stamped more than this ahead of the machine state is
   * quarantined (held for an operator, never applied on its own) instead of deferred.
   * Default 30 days (2,592,000,000).
   */
  maxFutureMs?: number;
  /** Most deferred updates per source; a batch that would exceed it is refused whole (HAMSYNC_ERR_DEFERRED_FULL). Default 10,000. */
  deferredMaxPerSource?: number;
  /** Most bytes (UTF-8 key + canonical value text) of deferred updates per source; as above. Default 16 MiB. */
  deferredMaxBytesPerSource?: number;
  /**
   * Keep the hub's change log (protocol v2: every update accepted, and every deferred
   * arrival gets a position, durable with it; src/store/change-log.ts). The broker's hub sets it.
   * Default false.
   */
  changeLog?: boolean;
  /** Most quarantined updates per source; over it, refused whole (HAMSYNC_ERR_QUARANTINE_FULL); 0 refuses them all. Default 1,000. */
  quarantineMaxPerSource?: number;
}

/** The `meta` key of the clock's persisted high-water mark (`hamsync clock reset` removes it). */
export const HIGH_WATER_KEY = 'clock.hw';

/** The replica's clock as the options say, its high-water mark kept in the store's `meta`. */
export function replicaClock(store: Store, options: ReplicaOptions): Clock {
  const highWater: HighWaterStore = {
    load: () => store.meta.get(HIGH_WATER_KEY) as number | undefined,
    save: (stamp) => void store.meta.put(HIGH_WATER_KEY, stamp),
  };
  const clock = options.clock ?? ((hw: HighWaterStore) => new WallClock({ offsetMs: options.clockOffsetMs ?? 0, driftPpm: options.clockDriftPpm ?? 0, highWater: hw, ...(options.clockReference ? { reference: options.clockReference } : {}) }));
  return typeof clock === 'function' ? clock(highWater) : clock;
}
