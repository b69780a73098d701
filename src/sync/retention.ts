import { EventEmitter } from 'node:events';
import type { Database } from 'lmdb';
import { checkNumber } from '../util/check.js';
import type { Clock } from '../ham/clock.js';
import type { Store } from '../store/open.js';
import type { HistoryKey } from '../store/rows.js';

export interface RetentionOptions {
  /** Remove history rows whose state is older than `clock.now() - maxAgeMs`. Default: no age limit. */
  maxAgeMs?: number;
  /** Remove the oldest history rows while history (with its per-key index) takes more than this many bytes. Default: no size limit. */
  maxBytes?: number;
  /** How often the background pruning runs, in ms. Default 60000. */
  intervalMs?: number;
  /** Most rows removed in one transaction. Default 1000. */
  batch?: number;
}

/** What one run removed. */
export interface RetentionRun {
  /** History rows removed (each with its index entry). */
  removed: number;
  /** Of those, removed for being older than maxAgeMs. */
  byAge: number;
  /** Of those, removed to bring history under maxBytes. */
  bySize: number;
  /** Transactions that removed something. */
  batches: number;
  /** The estimated size of history and its index after the run, in bytes. */
  bytes: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Checks retention options (errors name the field and the value) and fills in the defaults. */
export function resolveRetention(options: RetentionOptions = {}): { maxAgeMs: number | undefined; maxBytes: number | undefined; intervalMs: number; batch: number } {
  return {
    maxAgeMs: optional(options.maxAgeMs, 'retention.maxAgeMs', (n) => Number.isFinite(n) && n >= 0, 'a finite number of ms >= 0'),
    maxBytes: optional(options.maxBytes, 'retention.maxBytes', (n) => Number.isSafeInteger(n) && n >= 0, 'a whole number of bytes >= 0'),
    intervalMs: optional(options.intervalMs, 'retention.intervalMs', (n) => Number.isFinite(n) && n > 0 && n <= MAX_TIMER_MS, `a number of ms between 1 and ${MAX_TIMER_MS}`) ?? 60_000,
    batch: optional(options.batch, 'retention.batch', (n) => Number.isSafeInteger(n) && n >= 1, 'a positive integer') ?? 1000,
  };
}

/**
 * Prunes the history (and its per-key index, `historyByKey`, and `history-unindexed`; each pass
 * first lets the replica index the rows waiting for it) in the background; never touches
 * live, deferred, outbox or meta. History is keyed [state, seq], so the oldest rows come first:
 * rows with a state older than `maxAgeMs` go, then the oldest rows while history is larger than
 * `maxBytes` (estimated from LMDB's page counts). Work is done in transactions of at most `batch`
 * rows, yielding to the event loop between them, so writers are never held up for long.
 *
 * A pruned update that arrives again (a resend, say) is no longer recognised as a duplicate: it is
 * stored again as a history row (and pruned again later). The live view is unaffected.
 *
 * Emits `pruned` (RetentionRun) after a background run that removed something, and `error`
 * (only when someone listens) when a background run failed.
 */
export class Retention extends EventEmitter<{ pruned: [RetentionRun]; error: [Error] }> {
  private readonly maxAgeMs: number | undefined;
  private readonly maxBytes: number | undefined;
  private readonly intervalMs: number;
  private readonly batch: number;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private running: Promise<RetentionRun> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Pick<Clock, 'now'>,
    options: RetentionOptions = {},
    /** Run before each pass: the replica indexes the history rows still waiting (src/sync/history-index.ts). */
    private readonly beforeRun: () => Promise<void> = () => Promise.resolve(),
  ) {
    super();
    ({ maxAgeMs: this.maxAgeMs, maxBytes: this.maxBytes, intervalMs: this.intervalMs, batch: this.batch } = resolveRetention(options));
  }

  /** Runs now, then every `intervalMs` (the timer does not keep the process alive). Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /** Stops the timer; a run in progress stops after its current batch. Resolves when it has. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Whether a background run is due (its timer set): false after stop(), so nothing more will run. */
  get scheduled(): boolean {
    return this.timer !== undefined;
  }

  /** One pruning pass (age, then size). A call during a run in progress gets that run's result. */
  runOnce(): Promise<RetentionRun> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Estimated bytes taken by history and its index: their B-tree pages (branch, leaf and
   * overflow) times the page size, from LMDB's statistics. Free pages are not counted (LMDB
   * reuses them; the file itself does not shrink).
   */
  historyBytes(): number {
    const { history, historyByKey, historyUnindexed } = this.store;
    return treeBytes(history) + treeBytes(historyByKey) + (historyUnindexed ? treeBytes(historyUnindexed) : 0);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runOnce().then(
        (run) => {
          if (run.removed > 0) this.emit('pruned', run);
        },
        (err: unknown) => {
          if (this.listenerCount('error') > 0) this.emit('error', err instanceof Error ? err : new Error(String(err)));
        },
      ).finally(() => {
        if (this.started && this.timer === undefined) this.schedule(this.intervalMs);
      });
    }, ms);
    this.timer.unref();
  }

  private async run(): Promise<RetentionRun> {
    const result: RetentionRun = { removed: 0, byAge: 0, bySize: 0, batches: 0, bytes: 0 };
    // A run started by runOnce() goes to the end; a background run stops early when stop() is called.
    const background = this.started;
    const stopped = (): boolean => background && !this.started;
    await this.beforeRun();
    if (this.maxAgeMs !== undefined) {
      const cutoff = this.clock.now() - this.maxAgeMs;
      while (!stopped()) {
        const n = await this.removeOldest(cutoff);
        if (n === 0) break;
        result.byAge += n;
        result.batches++;
        if (n < this.batch) break;
        await yieldToEventLoop();
      }
    }
    if (this.maxBytes !== undefined) {
      while (!stopped() && this.historyBytes() > this.maxBytes) {
        const n = await this.removeOldest(undefined);
        if (n === 0) break;
        result.bySize += n;
        result.batches++;
        await yieldToEventLoop();
      }
    }
    result.removed = result.byAge + result.bySize;
    result.bytes = this.historyBytes();
    return result;
  }

  /** One transaction: removes up to `batch` of the oldest history rows (below `cutoff`, if given) and their index entries. */
  private removeOldest(cutoff: number | undefined): Promise<number> {
    const { history, historyByKey, historyUnindexed } = this.store;
    return this.store.root.transaction(() => {
      // [cutoff] sorts before every [cutoff, seq], and `end` is exclusive: states < cutoff.
      const rows = [...history.getRange({ ...(cutoff === undefined ? {} : { end: [cutoff] }), limit: this.batch })];
      for (const { key, value } of rows) {
        const [state, seq] = key as HistoryKey;
        void history.remove(key);
        void historyByKey.remove([value.k, state, seq]);
        void historyUnindexed?.remove(seq);
      }
      return rows.length;
    });
  }
}

/** Pages of a database's tree, in bytes; 0 when it holds no row (its shared-structures entry alone is not counted). */
function treeBytes(db: Pick<Database, 'getStats' | 'getKeysCount'>): number {
  if (db.getKeysCount({ limit: 1 }) === 0) return 0;
  const s = db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
  return (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize;
}

function optional(value: unknown, field: string, ok: (n: number) => boolean, what: string): number | undefined {
  return value === undefined ? undefined : checkNumber(value, field, [ok, what]);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
