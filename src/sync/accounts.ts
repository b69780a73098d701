import type { Store } from '../store/open.js';

/** What one source keeps waiting in a replica. */
export interface SourceQueues {
  deferred: number;
  /** UTF-8 bytes of key + canonical value text of its deferred updates. */
  deferredBytes: number;
  quarantined: number;
  quarantinedBytes: number;
}

/** Room wanted (or reserved) by one source. */
export interface Need {
  deferred: number;
  deferredBytes: number;
  quarantined: number;
}

export type QueueKind = 'deferred' | 'quarantine';

/** The size an update counts for against the byte cap: its key and value text in UTF-8. */
export function updateBytes(key: string, text: string): number {
  return Buffer.byteLength(key, 'utf8') + Buffer.byteLength(text, 'utf8');
}

export function emptyNeed(): Need {
  return { deferred: 0, deferredBytes: 0, quarantined: 0 };
}

/**
 * Per-source counts of the deferred and quarantine queues, kept in memory (rebuilt from LMDB
 * at open) and moved in the same turn as the writes, so caps are checked without a scan.
 * Room promised to admitted messages not yet written is held as reservations.
 */
export class QueueAccounts {
  private readonly bySource = new Map<string, SourceQueues>();
  private readonly reserved = new Map<string, Need>();

  static rebuild(store: Store): QueueAccounts {
    const a = new QueueAccounts();
    for (const { key, value } of store.deferred.getRange({})) a.add(value.src, 'deferred', 1, updateBytes(key[1], value.j));
    if (store.quarantine) for (const { key, value } of store.quarantine.getRange({})) a.add(key[0], 'quarantine', 1, updateBytes(key[1], value.j));
    return a;
  }

  /** Moves a source's count by `n` rows and `bytes` (negative to remove). */
  add(source: string, kind: QueueKind, n: number, bytes: number): void {
    let q = this.bySource.get(source);
    if (!q) this.bySource.set(source, (q = { deferred: 0, deferredBytes: 0, quarantined: 0, quarantinedBytes: 0 }));
    if (kind === 'deferred') {
      q.deferred += n;
      q.deferredBytes += bytes;
    } else {
      q.quarantined += n;
      q.quarantinedBytes += bytes;
    }
    if (q.deferred === 0 && q.quarantined === 0) this.bySource.delete(source);
  }

  get(source: string): SourceQueues {
    return { ...(this.bySource.get(source) ?? { deferred: 0, deferredBytes: 0, quarantined: 0, quarantinedBytes: 0 }) };
  }

  /** What is held for admitted messages not yet written. */
  reservedFor(source: string): Need {
    return { ...(this.reserved.get(source) ?? emptyNeed()) };
  }

  reserve(needs: ReadonlyMap<string, Need>, sign = 1): void {
    for (const [source, need] of needs) {
      const r = this.reserved.get(source) ?? emptyNeed();
      r.deferred += sign * need.deferred;
      r.deferredBytes += sign * need.deferredBytes;
      r.quarantined += sign * need.quarantined;
      if (r.deferred === 0 && r.deferredBytes === 0 && r.quarantined === 0) this.reserved.delete(source);
      else this.reserved.set(source, r);
    }
  }

  unreserve(needs: ReadonlyMap<string, Need>): void {
    this.reserve(needs, -1);
  }

  /** Every source with something waiting, sorted by id. */
  snapshot(): Record<string, SourceQueues> {
    return Object.fromEntries([...this.bySource.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([s, q]) => [s, { ...q }]));
  }

  totals(): { deferred: number; quarantined: number } {
    let deferred = 0;
    let quarantined = 0;
    for (const q of this.bySource.values()) {
      deferred += q.deferred;
      quarantined += q.quarantined;
    }
    return { deferred, quarantined };
  }
}

/** The count moves of one write batch, so they can be undone if its transaction fails. */
export class Ledger {
  private readonly moves: [string, QueueKind, number, number][] = [];

  constructor(private readonly accounts: QueueAccounts) {}

  add(source: string, kind: QueueKind, n: number, bytes: number): void {
    this.accounts.add(source, kind, n, bytes);
    this.moves.push([source, kind, n, bytes]);
  }

  revert(): void {
    for (const [source, kind, n, bytes] of this.moves.splice(0)) this.accounts.add(source, kind, -n, -bytes);
  }
}
