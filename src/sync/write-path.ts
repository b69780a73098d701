import type { Clock } from '../ham/clock.js';
import type { Counters } from '../counters.js';
import { isHamsyncError } from '../errors.js';
import type { CheckedUpdate } from '../model/update.js';
import type { Store } from '../store/open.js';
import { updateBytes, type QueueAccounts } from './accounts.js';
import { admit, type Admission } from './admit.js';
import type { Batches, Receipt } from './batches.js';
import type { DueRow } from './deferred-timer.js';
import type { Overlay } from './overlay.js';
import type { QueueLimits } from './queue-limits.js';
import { defer, quarantine, settle, type BatchContext, type BatchOptions, type Result } from './resolve.js';

/** What the write path works on: the replica's store, views and clock. */
export interface WriteParts {
  readonly store: Store;
  readonly overlay: Overlay;
  readonly accounts: QueueAccounts;
  readonly queueLimits: QueueLimits;
  readonly clock: Clock;
  readonly batches: Batches;
  /** Queue events: quarantine.added, refused.<code>. */
  readonly counters: Counters;
  /** Throws HAMSYNC_ERR_CLOSED once the replica is closed. */
  assertOpen(): void;
  /** A deferred row was written at `state`: make sure the timer fires by then. */
  deferredAt(state: number): void;
}

/**
 * A replica's write path: room reserved per message in the deferred and quarantine queues
 * (`admit`, `cancel`), admitted messages resolved with HAM into one transaction
 * (`receiveAdmitted`), and deferred updates resolved when they fall due (`promote`).
 */
export class WritePath {
  constructor(private readonly parts: WriteParts) {}

  admit(checked: readonly CheckedUpdate[]): Admission {
    const p = this.parts;
    p.assertOpen();
    try {
      return admit({ store: p.store, overlay: p.overlay }, p.accounts, p.queueLimits, checked, p.clock.now());
    } catch (err) {
      if (isHamsyncError(err)) p.counters.inc(`refused.${err.code}`);
      throw err;
    }
  }

  cancel(admission: Admission): void {
    if (admission.done) return;
    admission.done = true;
    this.parts.accounts.unreserve(admission.needs);
  }

  receiveAdmitted(admissions: readonly Admission[], options: BatchOptions = {}): Receipt {
    const p = this.parts;
    try {
      p.assertOpen();
      if (admissions.some((a) => a.done)) throw new Error('an admission was already written or cancelled');
      const ctx = p.batches.begin(options);
      const machine = p.clock.now();
      const results: Result[] = [];
      let quarantined = 0;
      for (const a of admissions) {
        a.updates.forEach((u, i) => {
          const r = a.beyond[i] ? quarantine(ctx, u, machine) : this.resolveOne(ctx, u, machine);
          if (r.decision === 'quarantine' && !r.duplicate) quarantined++;
          results.push(r);
        });
      }
      if (quarantined > 0) p.counters.inc('quarantine.added', quarantined);
      return p.batches.finish(ctx, results);
    } finally {
      for (const a of admissions) this.cancel(a);
    }
  }

  /** Resolves due deferred rows into the batch (the deferred timer's work). */
  promote(ctx: BatchContext, chunk: DueRow[]): void {
    const machine = this.parts.clock.now();
    for (const row of chunk) {
      void this.parts.store.deferred.remove(row.dbKey);
      this.parts.overlay.removeDeferred(row.id, ctx.batch);
      ctx.ledger.add(row.update.source, 'deferred', -1, -updateBytes(row.update.key, row.update.text));
      settle(ctx, row.update, machine, row.rx, true);
    }
  }

  private resolveOne(ctx: BatchContext, u: CheckedUpdate, machine: number): Result {
    if (u.state > machine) {
      const result = defer(ctx, u, machine);
      if (!result.duplicate) this.parts.deferredAt(u.state);
      return result;
    }
    return settle(ctx, u, machine, machine, false);
  }
}
