import { BROKER_DEFAULTS } from '../../src/config/broker-options.js';
import type { Context } from '../../src/context.js';
import type { ChangeLog } from '../../src/store/change-log.js';

/** Entries pruned per transaction, and how often (appended entries, ms) a prune run is considered. */
const STEP = 10_000;
const EVERY_MS = 60_000;

export const DEFAULT_SYNC_LOG_MAX = BROKER_DEFAULTS.syncLogMax;

/**
 * Keeps the hub's change log to its newest `max` entries (`--sync-log-max`): a run starts after
 * every 10,000 appended positions or every minute, and prunes in transactions of at most 10,000
 * entries, yielding between them. A follower whose position is older than what is left gets a
 * snapshot (broker/feed/sync-request.ts, feed.ts).
 */
export class LogRetention {
  private checkedAt: number;
  private running: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  /** Entries after this position are kept whatever `max` says (the cluster pusher's unpushed rows). */
  hold: (() => number) | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly log: ChangeLog,
    private readonly max: number,
  ) {
    this.checkedAt = log.head;
    this.timer = setInterval(() => this.run(), EVERY_MS);
    this.timer.unref();
    this.run();
  }

  /** The replica's 'head' event. */
  onHead(head: number): void {
    if (head - this.checkedAt >= STEP) this.run();
  }

  /** Starts a prune run unless one is going; resolves when it ends. */
  run(): Promise<void> {
    this.checkedAt = this.log.head;
    this.running ??= this.prune().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops starting runs; resolves once the one going (if any) ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async prune(): Promise<void> {
    let total = 0;
    try {
      for (;;) {
        if (this.stopped) break;
        const upTo = Math.min(this.log.head - this.max, this.hold?.() ?? Infinity);
        if (upTo < this.log.oldest()) break;
        const n = await this.log.prune(upTo, STEP);
        total += n;
        this.ctx.counters.inc('sync.log.pruned', n);
        if (n === 0) break;
        await new Promise((r) => setImmediate(r));
      }
    } catch (err) {
      this.ctx.log.error('change log pruning failed', { err: (err as Error).message });
    }
    if (total > 0) this.ctx.log.info('change log pruned', { entries: total, oldest: this.log.oldest(), head: this.log.head, max: this.max });
  }
}
