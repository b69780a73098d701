import type { Client, PublishPacket } from 'aedes';
import type { Context } from '../src/context.js';
import type { Counters } from '../src/counters.js';
import { isHamsyncError } from '../src/errors.js';
import type { CheckedUpdate } from '../src/model/update.js';
import type { Admission, Replica } from '../src/sync/replica.js';
import type { Result } from '../src/sync/resolve.js';
import type { PutObservers } from './put-timing.js';
import type { Ack, Refusals } from './refusals.js';

/**
 * The last step of the put path: a checked (and verified) put is admitted on its own, and every
 * put admitted in one turn of the event loop is written in one transaction; each PUBACK waits
 * until that transaction is on disk.
 */
export class PutCommit {
  private pending: { admission: Admission; cb: Ack }[] = [];
  private flushScheduled = false;

  constructor(
    private readonly ctx: Context,
    private readonly replica: Replica,
    private readonly refusals: Refusals,
    private readonly observers: PutObservers = {},
  ) {}

  /** Reserves a checked (and verified) put's room and queues it for this turn's transaction. */
  admit(client: Client | null, packet: PublishPacket, checked: CheckedUpdate[], cb: Ack): void {
    let admission: Admission;
    try {
      // Its room in the deferred and quarantine queues is reserved on its own: an over-cap
      // message is refused alone, before anything of the turn is written...
      admission = this.replica.admit(checked);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      // Closing: no ack, the sender keeps it and sends it again later.
      if (err.code === 'HAMSYNC_ERR_CLOSED') return cb(err);
      this.refusals.reject(client, packet, err.code, err.message);
      return cb(null);
    }
    // ...and every message that arrived in this turn of the event loop is committed in one transaction.
    this.pending.push({ admission, cb });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Resolves and stores the turn's messages together; each PUBACK waits until that is on disk. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    let durable: Promise<void>;
    let results: Result[] = [];
    let ties = 0;
    const t0 = performance.now();
    try {
      // Writes every admission (on a throw, none): their reservations are returned either way.
      const receipt = this.replica.receiveAdmitted(batch.map((m) => m.admission));
      ({ durable, results, ties } = receipt);
    } catch (err) {
      durable = Promise.reject(err as Error);
    }
    durable.then(
      () => {
        this.observers.flushed?.((performance.now() - t0) / 1000);
        countDecisions(this.ctx.counters, results, ties);
        for (const m of batch) {
          this.ctx.counters.inc('updates.accepted', m.admission.updates.length);
          this.ctx.counters.inc('messages.accepted');
          m.cb(null);
        }
      },
      (err: Error) => {
        // Not durable: no PUBACK; the clients drop the link and retransmit.
        this.ctx.log.error('store failed, closing clients without ack', { messages: batch.length, err });
        this.ctx.counters.inc('messages.store-failed', batch.length);
        for (const m of batch) m.cb(err);
      },
    );
  }
}

/**
 * Counts a durable batch's updates by decision: `decision.<apply|historical|tie-lost|same|defer|quarantine>`
 * (exact repeats too); `ties` of its historical ones lost an equal-state tie.
 */
export function countDecisions(counters: Counters, results: readonly Result[], ties: number): void {
  let apply = 0;
  let historical = -ties;
  const tie = ties;
  let same = 0;
  let defer = 0;
  let quarantine = 0;
  for (const r of results) {
    if (r.decision === 'apply') apply++;
    else if (r.decision === 'historical') historical++;
    else if (r.decision === 'same') same++;
    else if (r.decision === 'defer') defer++;
    else quarantine++;
  }
  if (apply > 0) counters.inc('decision.apply', apply);
  if (historical > 0) counters.inc('decision.historical', historical);
  if (tie > 0) counters.inc('decision.tie-lost', tie);
  if (same > 0) counters.inc('decision.same', same);
  if (defer > 0) counters.inc('decision.defer', defer);
  if (quarantine > 0) counters.inc('decision.quarantine', quarantine);
}
