import type { Store } from './open.js';

/** Where a follower stands in one hub's change log: everything up to `pos` of that epoch is stored. */
export interface SyncCursor {
  hub: string;
  epoch: number;
  pos: number;
}

const PREFIX = 'sync.cursor.';
const LAST = 'sync.hub';

/** The follower's durable positions, one per hub (meta `sync.cursor.<hub id>`). */
export class Cursors {
  constructor(private readonly store: Store) {}

  /** The position kept for `hub`, if any. */
  get(hub: string): SyncCursor | undefined {
    const v = this.store.meta.get(PREFIX + hub) as { epoch?: unknown; pos?: unknown } | undefined;
    if (!v || !Number.isSafeInteger(v.epoch) || !Number.isSafeInteger(v.pos)) return undefined;
    return { hub, epoch: v.epoch as number, pos: v.pos as number };
  }

  /** The hub this follower last synced with (its cursor is what a request offers first). */
  last(): SyncCursor | undefined {
    const hub = this.store.meta.get(LAST);
    return typeof hub === 'string' ? this.get(hub) : undefined;
  }

  /**
   * Queues the position into the current write transaction: called in the same event-loop turn
   * as the writes of the updates it covers, it commits with them, never before.
   */
  set(c: SyncCursor): void {
    void this.store.meta.put(PREFIX + c.hub, { epoch: c.epoch, pos: c.pos });
    void this.store.meta.put(LAST, c.hub);
  }
}
