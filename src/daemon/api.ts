/**
 * What the local HTTP API (http.ts) needs of the daemon: a type of its own, so that http.ts does
 * not import daemon.ts (which starts the API) and the two do not form an import cycle.
 */
import type { Counters } from '../counters.js';
import type { Json } from '../ham/lexical.js';
import type { Replica, Result } from '../sync/replica.js';
import type { FeedStatus } from './feed-follower.js';
import type { SyncMode } from './sync-mode.js';

/** A local put: the state is stamped by the daemon's clock unless given. */
export interface LocalPut {
  key: string;
  value: Json;
  state?: number;
}

export interface PutResult extends Result {
  key: string;
  state: number;
}

/** The daemon as its HTTP API sees it (src/daemon/daemon.ts implements it). */
export interface DaemonApi {
  readonly replica: Replica;
  readonly counters: Counters;
  /** Whether the MQTT link to the broker is up (metrics, /readyz). */
  readonly connected: boolean;
  /** The outbox cap, in updates (metrics, /readyz). */
  readonly config: { readonly outboxMax: number };
  /** The last GPS − system clock offset a gpsd source read, in ms, or null. */
  readonly gpsOffsetMs: number | null;
  /** The sync v2 follower's position, head and backlog, with the mode. */
  syncStatus(): FeedStatus & { mode: SyncMode; setting: string };
  put(items: readonly LocalPut[]): Promise<PutResult[]>;
  status(): Record<string, unknown>;
}
