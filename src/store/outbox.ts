import type { Store } from './open.js';

export interface OutboxEntry {
  seq: number;
  payload: string;
  count: number;
}

/**
 * The device's store-and-forward queue: put messages leave it only once the broker
 * acknowledged them. Appends made in the same event turn as a replica write share its
 * LMDB transaction, so a local update is never stored without being queued, or the reverse.
 */
export class Outbox {
  private next: number;
  /** Update count of every queued message, by seq (so the cap is checked without a scan). */
  private readonly counts = new Map<number, number>();
  private updates = 0;

  constructor(private readonly store: Store) {
    let last = 0;
    for (const { key, value } of store.outbox.getRange({})) {
      this.counts.set(key, value.n);
      this.updates += value.n;
      last = key;
    }
    this.next = last + 1;
  }

  append(payload: string, count: number): number {
    const seq = this.next++;
    void this.store.outbox.put(seq, { p: payload, n: count });
    this.counts.set(seq, count);
    this.updates += count;
    return seq;
  }

  /** Removes an acknowledged entry (idempotent). */
  ack(seq: number): Promise<boolean> {
    const n = this.counts.get(seq);
    if (n !== undefined) {
      this.counts.delete(seq);
      this.updates -= n;
    }
    return this.store.outbox.remove(seq);
  }

  /** Updates queued and not yet acknowledged (including appends not yet committed). */
  get queuedUpdates(): number {
    return this.updates;
  }

  /** Messages queued and not yet acknowledged (including appends not yet committed). */
  get queuedMessages(): number {
    return this.counts.size;
  }

  /** Entries in order, starting after `afterSeq` (committed data). */
  *entries(afterSeq = 0, limit = Infinity): Generator<OutboxEntry> {
    let n = 0;
    for (const { key, value } of this.store.outbox.getRange({ start: afterSeq + 1 })) {
      if (n++ >= limit) return;
      yield { seq: key, payload: value.p, count: value.n };
    }
  }

  /**
   * The public key whose signatures the queued messages carry, as recorded by `setSigner`
   * (undefined: none recorded; the messages may be unsigned or signed with another key).
   */
  get signer(): string | undefined {
    return this.store.meta.get('outbox.signer') as string | undefined;
  }

  /** Records (or clears) the key the queued messages are signed with; resolves once committed. */
  async setSigner(pub: string | undefined): Promise<void> {
    if (pub === undefined) void this.store.meta.remove('outbox.signer');
    else void this.store.meta.put('outbox.signer', pub);
    await this.store.root.committed;
  }

  /**
   * Replaces the payloads of queued messages (same seq, same update count: re-signed, say);
   * entries acknowledged meanwhile are skipped. Resolves once committed.
   */
  async replace(entries: readonly { seq: number; payload: string }[]): Promise<void> {
    for (const e of entries) {
      const n = this.counts.get(e.seq);
      if (n !== undefined) void this.store.outbox.put(e.seq, { p: e.payload, n });
    }
    await this.store.root.committed;
  }

  /** Number of queued messages and updates (committed data). */
  size(): { messages: number; updates: number } {
    let messages = 0;
    let updates = 0;
    for (const { value } of this.store.outbox.getRange({})) {
      messages++;
      updates += value.n;
    }
    return { messages, updates };
  }
}
