import type { Counters } from '../counters.js';
import type { SourceQueues } from './accounts.js';
import { drop, release, type DropReport, type QuarantineHost, type QuarantineSelector, type ReleaseReport } from './quarantine.js';
import type { QueueLimits } from './queue-limits.js';

/** Per-source queue sizes and the limits they are held to. */
export interface QueueStatus {
  limits: QueueLimits;
  totals: { deferred: number; quarantined: number };
  sources: Record<string, SourceQueues>;
}

/**
 * The operator's side of a replica's queues: their sizes, and the quarantine release and drop
 * (quarantine.ts), run one at a time, each after every earlier write has committed.
 */
export class QueueOps {
  /** Release and drop run one at a time: the last one queued (its failure swallowed). */
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: QuarantineHost,
    /** quarantine.released, quarantine.dropped. */
    private readonly counters: Counters,
    /** Throws HAMSYNC_ERR_CLOSED once the replica is closed. */
    private readonly assertOpen: () => void,
  ) {}

  status(): QueueStatus {
    return { limits: { ...this.host.limits }, totals: this.host.accounts.totals(), sources: this.host.accounts.snapshot() };
  }

  release(selector: QuarantineSelector): Promise<ReleaseReport> {
    return this.serial(async (host) => {
      const report = await release(host, selector);
      this.counters.inc('quarantine.released', report.released);
      return report;
    });
  }

  drop(selector: QuarantineSelector): Promise<DropReport> {
    return this.serial(async (host) => {
      const report = await drop(host, selector);
      this.counters.inc('quarantine.dropped', report.dropped);
      return report;
    });
  }

  /** Settles once every release and drop queued so far has ended. */
  idle(): Promise<unknown> {
    return this.last;
  }

  private serial<T>(op: (host: QuarantineHost) => Promise<T>): Promise<T> {
    const run = this.last.then(async () => {
      this.assertOpen();
      // Selection reads committed rows: let every earlier write commit first.
      await this.host.store.root.committed;
      this.assertOpen();
      return op(this.host);
    });
    this.last = run.catch(() => undefined);
    return run;
  }
}
