import type { Store } from './open.js';
import type { ChangeRow } from './rows.js';

/** One entry of the hub's change log, with its position. */
export interface LoggedChange {
  /** Hub sequence (position): 1, 2, 3, … in commit order. */
  pos: number;
  row: ChangeRow;
}

const HEAD_KEY = 'changes.head';

/**
 * The hub's durable, ordered change log (`changes` database, key = hub sequence). Entries are
 * appended inside a write batch's transaction (`append`, same event-loop turn as the batch's
 * other writes), so a position is durable exactly when the updates it covers are. Readers see an
 * entry once its batch committed: `head` is the last committed position.
 */
export class ChangeLog {
  /** Last position handed out (may be ahead of `head` while its batch commits). */
  private assigned: number;
  private committedHead: number;

  constructor(private readonly store: Store) {
    if (!store.changes) throw new Error('the store has no change log (opened read-only?)');
    this.assigned = (store.meta.get(HEAD_KEY) as number | undefined) ?? 0;
    this.committedHead = this.assigned;
  }

  /** Last committed position (0 when nothing was ever logged). */
  get head(): number {
    return this.committedHead;
  }

  /** Oldest position still held (head + 1 when the log is empty). */
  oldest(): number {
    for (const key of this.db().getKeys({ limit: 1 })) return key;
    return this.committedHead + 1;
  }

  /** Queues rows into the current write transaction; returns the position of the last one. */
  append(rows: readonly ChangeRow[]): number {
    for (const row of rows) void this.db().put(++this.assigned, row);
    if (rows.length > 0) void this.store.meta.put(HEAD_KEY, this.assigned);
    return this.assigned;
  }

  /** The batch that ended at `pos` committed: entries up to it are readable. */
  committed(pos: number): void {
    if (pos > this.committedHead) this.committedHead = pos;
  }

  /** Committed entries after `after`, in order, at most `limit` of them. */
  *read(after: number, limit = Infinity): Generator<LoggedChange> {
    if (after >= this.committedHead) return;
    for (const { key, value } of this.db().getRange({ start: after + 1, end: this.committedHead + 1, limit })) {
      yield { pos: key, row: value };
    }
  }

  /** Drops entries at or below `upTo` (at most `max` of them per call); returns how many went. */
  async prune(upTo: number, max = 10_000): Promise<number> {
    const db = this.db();
    let n = 0;
    await db.transaction(() => {
      for (const key of db.getKeys({ end: upTo + 1, limit: max })) {
        db.removeSync(key);
        n++;
      }
    });
    return n;
  }

  private db(): NonNullable<Store['changes']> {
    return this.store.changes as NonNullable<Store['changes']>;
  }
}
