import type { Client, PublishPacket } from 'aedes';
import type { Counters } from '../src/counters.js';
import { isHamsyncError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import type { CheckedUpdate } from '../src/model/update.js';
import type { Admission, Replica } from '../src/sync/replica.js';
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
    private readonly replica: Replica,
    private readonly counters: Counters,
    private readonly log: Logger,
    private readonly refusals: Refusals,
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
    try {
      // Writes every admission (on a throw, none): their reservations are returned either way.
      durable = this.replica.receiveAdmitted(batch.map((m) => m.admission)).durable;
    } catch (err) {
      durable = Promise.reject(err as Error);
    }
    durable.then(
      () => {
        for (const m of batch) {
          this.counters.inc('updates.accepted', m.admission.updates.length);
          this.counters.inc('messages.accepted');
          m.cb(null);
        }
      },
      (err: Error) => {
        // Not durable: no PUBACK; the clients drop the link and retransmit.
        this.log.error('store failed, closing clients without ack', { messages: batch.length, err });
        this.counters.inc('messages.store-failed', batch.length);
        for (const m of batch) m.cb(err);
      },
    );
  }
}
