import type { LiveRow } from '../store/rows.js';

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
  private readonly fingerprints = new Set<string>();
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
    // An uncommitted live row being replaced is still an uncommitted history row: mark it.
    const prev = this.live.get(key);
    if (prev) this.addFingerprint(fingerprint(key, prev.s, prev.src, prev.j), batch);
    this.live.set(key, row);
    batch.live.push([key, row]);
  }

  /** Marks an exact update (history row or deferred row) as written but not committed. */
  addFingerprint(fp: string, batch: PendingBatch): void {
    this.fingerprints.add(fp);
    batch.fingerprints.push(fp);
  }

  hasFingerprint(fp: string): boolean {
    return this.fingerprints.has(fp);
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
    for (const fp of batch.fingerprints) this.fingerprints.delete(fp);
    for (const id of batch.deferredGone) this.deferredGone.delete(id);
  }

  get size(): number {
    return this.live.size + this.fingerprints.size + this.deferredGone.size;
  }
}

/** What one batch put into the overlay. */
export interface PendingBatch {
  live: [string, LiveRow][];
  fingerprints: string[];
  deferredGone: string[];
}

export function newBatch(): PendingBatch {
  return { live: [], fingerprints: [], deferredGone: [] };
}

/** Identity of an exact update: same key, state, source and value. */
export function fingerprint(key: string, state: number, source: string, text: string): string {
  return `${key}\u0000${state}\u0000${source}\u0000${text}`;
}
