import { HamsyncError } from '../errors.js';
import type { ChangeLog } from '../store/change-log.js';
import type { Store } from '../store/open.js';
import { Ledger, type QueueAccounts } from './accounts.js';
import { newBatch, type Overlay } from './overlay.js';
import type { BatchContext, BatchOptions, Change, Result } from './resolve.js';

/** What `receive` returns: decisions now, and promises for the commit and for durability. */
export interface Receipt {
  results: Result[];
  /** Resolves when the batch (and everything before it) is committed and visible to readers. */
  committed: Promise<void>;
  /** Resolves when the batch (and everything before it) is flushed to disk: safe to acknowledge. */
  durable: Promise<void>;
  /** How many of the `historical` results lost an equal-state tie (outcome `tie-lost`). */
  ties: number;
}

/**
 * Begins and ends a replica's write batches (each one LMDB transaction): a batch takes the next
 * history/deferred sequence numbers, and its receipt settles only after every earlier batch's,
 * so receipts settle in write order; its changes are announced once it has committed.
 */
export class Batches {
  private seq: number;
  private lastCommitted: Promise<unknown> = Promise.resolve();
  private lastDurable: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly overlay: Overlay,
    private readonly accounts: QueueAccounts,
    /** Called with a batch's changes once it has committed (and the overlay has let go of it). */
    private readonly announce: (changes: Change[]) => void,
    /** The hub's change log: each batch's changes and deferred arrivals are appended in its transaction. */
    private readonly changeLog?: ChangeLog,
    /** Called with the log's new head once a batch that logged something committed. */
    private readonly advanced?: (head: number) => void,
  ) {
    this.seq = (store.meta.get('seq') as number | undefined) ?? 0;
  }

  /** Settles once every batch finished so far has settled (committed and announced, or failed); a new promise after each finish. */
  settled(): Promise<unknown> {
    return this.lastCommitted;
  }

  begin(options: BatchOptions = {}): BatchContext {
    const ctx: BatchContext = { store: this.store, overlay: this.overlay, batch: newBatch(), changes: [], accepted: [], seq: this.seq, ties: 0, ledger: new Ledger(this.accounts) };
    return options.external ? { ...ctx, external: true } : ctx;
  }

  finish(ctx: BatchContext, results: Result[] = []): Receipt {
    if (ctx.seq !== this.seq) {
      this.seq = ctx.seq;
      void this.store.meta.put('seq', ctx.seq);
    }
    const logged = this.changeLog && ctx.accepted.length > 0 ? this.changeLog.append(ctx.accepted) : 0;
    const root = this.store.root;
    // Both are lazy thenables over "everything written so far": take them now, in this turn.
    const committed = new Promise<void>((resolve, reject) => root.committed.then(() => resolve(), reject));
    const flushed = new Promise<void>((resolve, reject) => root.flushed.then(() => resolve(), reject));
    // Chained, so receipts settle in the order their batches were written.
    const settled = Promise.all([this.lastCommitted, committed]).then(
      () => {
        this.overlay.settle(ctx.batch);
        if (logged > 0 && this.changeLog) {
          this.changeLog.committed(logged);
          this.advanced?.(logged);
        }
        this.announce(ctx.changes);
      },
      (err: unknown) => {
        this.overlay.settle(ctx.batch, false);
        ctx.ledger.revert();
        throw new HamsyncError('HAMSYNC_ERR_STORE', `commit failed: ${(err as Error).message}`);
      },
    );
    const durable = Promise.all([this.lastDurable, settled, flushed]).then(() => undefined);
    this.lastCommitted = settled.catch(() => undefined);
    this.lastDurable = durable.catch(() => undefined);
    settled.catch(() => undefined);
    durable.catch(() => undefined);
    return { results, committed: settled, durable, ties: ctx.ties };
  }
}
