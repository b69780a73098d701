import type { Clock } from '../ham/clock.js';
import type { CheckedUpdate } from '../model/update.js';
import type { Store } from '../store/open.js';
import type { BatchContext } from './resolve.js';
import type { Receipt } from './batches.js';

export interface DueRow {
  /** Stable identity of the deferred row (its LMDB key, joined). */
  id: string;
  dbKey: [number, string, number];
  update: CheckedUpdate;
  rx: number;
}

const RETRY_MS = 1000;

/** How the timer writes through its replica. */
export interface TimerHooks {
  /** Starts a write batch. */
  begin(): BatchContext;
  /** Resolves due rows into the batch. */
  promote(ctx: BatchContext, rows: DueRow[]): void;
  /** Ends the batch (one transaction). */
  finish(ctx: BatchContext): Receipt;
  /** Resolves once every write issued so far is committed (so deferred rows are visible). */
  committed(): Promise<void>;
  onError(err: Error): void;
}

/**
 * Watches the deferred queue: arms one clock timer for the earliest deferred state,
 * and when it fires resolves every due update in bounded chunks (one transaction each).
 */
export class DeferredTimer {
  private cancel: (() => void) | undefined;
  private armedAt = Infinity;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly store: Store,
    private readonly chunk: number,
    private readonly hooks: TimerHooks,
  ) {}

  /** Resolves what fell due while the replica was closed, then arms the timer. */
  async start(): Promise<void> {
    this.run();
    await this.idle();
  }

  /** A new deferred update at `state`: make sure the timer fires no later than that. */
  consider(state: number): void {
    this.arm(state);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
  }

  /** Whether a promotion is running now. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves when no promotion is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Arms for `state` unless already armed for an earlier one (a stale early wake-up is harmless). */
  private arm(state: number): void {
    if (this.stopped || state >= this.armedAt) return;
    this.cancel?.();
    this.armedAt = state;
    this.cancel = this.clock.schedule(state, () => {
      this.armedAt = Infinity;
      this.cancel = undefined;
      this.run();
    });
  }

  private run(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => {
        this.hooks.onError(err as Error);
        this.armedAt = Infinity;
        this.arm(this.clock.now() + RETRY_MS);
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.run();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      // Deferred rows written but not yet committed are invisible to reads: wait for them.
      await this.hooks.committed();
      const due = this.collectDue();
      if (due.length === 0 || this.stopped) break;
      const ctx = this.hooks.begin();
      this.hooks.promote(ctx, due);
      await this.hooks.finish(ctx).committed;
      if (due.length < this.chunk) break;
    }
    const next = this.earliest();
    if (next !== undefined) this.arm(next);
  }

  private collectDue(): DueRow[] {
    const now = this.clock.now();
    const rows: DueRow[] = [];
    for (const { key, value } of this.store.deferred.getRange({})) {
      const [state, k, seq] = key;
      if (state > now || rows.length >= this.chunk) break;
      const update: CheckedUpdate = value.g === undefined ? { key: k, state, source: value.src, text: value.j } : { key: k, state, source: value.src, text: value.j, sig: value.g };
      rows.push({ id: key.join('\u0000'), dbKey: [state, k, seq], update, rx: value.rx });
    }
    return rows;
  }

  private earliest(): number | undefined {
    for (const key of this.store.deferred.getKeys({ limit: 1 })) return key[0];
    return undefined;
  }
}
