/**
 * Bounds the retained messages each client can make the broker keep: at most `maxTopics` topics
 * and `maxBytes` payload bytes per client id (a retained topic counts for its last writer; an
 * empty retained payload clears it and frees its room). With authentication, a device can only
 * retain its own presence topic anyway (broker/acl.ts); this bounds admins and open brokers too.
 * The bookkeeping is bounded with it: one entry per retained topic that some budget admitted.
 */
export interface RetainedBudgetOptions {
  /** Retained topics per client. Default 16. */
  maxTopics?: number;
  /** Retained payload bytes per client. Default 64 KiB. */
  maxBytes?: number;
}

interface Use {
  topics: number;
  bytes: number;
}

export class RetainedBudget {
  readonly maxTopics: number;
  readonly maxBytes: number;
  private readonly byTopic = new Map<string, { owner: string; bytes: number }>();
  private readonly byOwner = new Map<string, Use>();

  constructor(options: RetainedBudgetOptions = {}) {
    this.maxTopics = options.maxTopics ?? 16;
    this.maxBytes = options.maxBytes ?? 64 * 1024;
  }

  /** Whether `owner` may retain `bytes` on `topic` (0: clears it, always allowed); if so, it is recorded. */
  take(owner: string, topic: string, bytes: number): boolean {
    const old = this.byTopic.get(topic);
    const use = this.byOwner.get(owner) ?? { topics: 0, bytes: 0 };
    const mine = old?.owner === owner ? old : undefined;
    if (bytes > 0 && (use.topics + (mine ? 0 : 1) > this.maxTopics || use.bytes - (mine?.bytes ?? 0) + bytes > this.maxBytes)) return false;
    if (old) this.release(old.owner, old.bytes);
    this.byTopic.delete(topic);
    if (bytes === 0) return true;
    const now = this.byOwner.get(owner) ?? { topics: 0, bytes: 0 };
    now.topics++;
    now.bytes += bytes;
    this.byOwner.set(owner, now);
    this.byTopic.set(topic, { owner, bytes });
    return true;
  }

  private release(owner: string, bytes: number): void {
    const use = this.byOwner.get(owner);
    if (!use) return;
    use.topics--;
    use.bytes -= bytes;
    if (use.topics <= 0) this.byOwner.delete(owner);
  }
}
