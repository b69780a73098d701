import type { LiveRow } from '../store/rows.js';
import type { PendingRow } from './history-index.js';

/** Which queue an uncommitted row went to: `d` deferred, `q` quarantine. */
export type HeldKind = 'd' | 'q';

/** A deferred or quarantine row written but not committed (history rows wait in src/sync/history-index.ts). */
export interface HeldRow {
  kind: HeldKind;
  state: number;
  src: string;
  j: string;
}

/**
 * The write-through view: lmdb-js commits writes asynchronously and `get()` does
 * not see a put until its transaction commits, so the replica keeps what it has
 * written but not yet committed here, and reads through it. Entries leave when
 * their batch commits (or fails).
 */
export class Overlay {
  private readonly live = new Map<string, LiveRow>();
  /** Committed live rows recently read or written (bounded; oldest dropped first). */
  private readonly cache = new Map<string, LiveRow>();
  constructor(private readonly cacheSize = 50_000) {}
  /** Uncommitted deferred and quarantine rows, per key. */
  private readonly held = new Map<string, HeldRow[]>();
  private heldCount = 0;
  private readonly deferredGone = new Set<string>();

  /** The row written but not committed, else a cached committed row. */
  getLive(key: string): LiveRow | undefined {
    return this.live.get(key) ?? this.cache.get(key);
  }

  /** Remembers a committed row read from LMDB. */
  remember(key: string, row: LiveRow): void {
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, row);
  }

  setLive(key: string, row: LiveRow, batch: PendingBatch): void {
    // An uncommitted live row being replaced is still an uncommitted history row: the history index holds it.
    this.live.set(key, row);
    batch.live.push([key, row]);
  }

  /** Marks an exact update written to the deferred queue or quarantine but not committed. */
  addHeld(key: string, row: HeldRow, batch: PendingBatch): void {
    const rows = this.held.get(key);
    if (rows) rows.push(row);
    else this.held.set(key, [row]);
    this.heldCount++;
    batch.held.push([key, row]);
  }

  /** Is this exact update an uncommitted row of that queue? */
  hasHeld(kind: HeldKind, key: string, state: number, src: string, j: string): boolean {
    const rows = this.held.get(key);
    if (!rows) return false;
    for (const r of rows) if (r.kind === kind && r.state === state && r.src === src && r.j === j) return true;
    return false;
  }

  /** Marks a deferred row as removed but not committed, so it is not resolved twice. */
  removeDeferred(id: string, batch: PendingBatch): void {
    this.deferredGone.add(id);
    batch.deferredGone.push(id);
  }

  isDeferredGone(id: string): boolean {
    return this.deferredGone.has(id);
  }

  /** Drops a batch's entries once LMDB has committed it (its live rows move to the cache). */
  settle(batch: PendingBatch, committed = true): void {
    if (!committed) for (const [key] of batch.live) this.cache.delete(key);
    for (const [key, row] of batch.live) {
      if (this.live.get(key) !== row) continue;
      this.live.delete(key);
      this.remember(key, row);
    }
    for (const [key, row] of batch.held) {
      const rows = this.held.get(key);
      const i = rows ? rows.indexOf(row) : -1;
      if (!rows || i < 0) continue;
      this.heldCount--;
      if (rows.length === 1) this.held.delete(key);
      else rows.splice(i, 1);
    }
    for (const id of batch.deferredGone) this.deferredGone.delete(id);
  }

  get size(): number {
    return this.live.size + this.heldCount + this.deferredGone.size;
  }
}

/** What one batch put into the overlay (and the history rows it handed to the history index). */
export interface PendingBatch {
  live: [string, LiveRow][];
  held: [string, HeldRow][];
  deferredGone: string[];
  history: PendingRow[];
}

export function newBatch(): PendingBatch {
  return { live: [], held: [], deferredGone: [], history: [] };
}

/** Identity of an exact update: same key, state, source and value (for a Set within one call; the overlay keeps rows). */
export function fingerprint(key: string, state: number, source: string, text: string): string {
  return `${key}\u0000${state}\u0000${source}\u0000${text}`;
}
