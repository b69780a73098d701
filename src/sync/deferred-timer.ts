import type { Clock } from '../ham/clock.js';
import type { CheckedUpdate } from '../model/update.js';
import type { Store } from '../store/open.js';
import type { BatchContext } from './resolve.js';
import type { Receipt } from './replica.js';

export interface DueRow {
  /** Stable identity of the deferred row (its LMDB key, joined). */
  id: string;
  dbKey: [number, string, number];
  update: CheckedUpdate;
  rx: number;
}

const RETRY_MS = 1000;

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
    private readonly promote: (ctx: BatchContext, rows: DueRow[]) => void,
    private readonly begin: () => BatchContext,
    private readonly finish: (ctx: BatchContext) => Receipt,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** Resolves what fell due while the replica was closed, then arms the timer. */
  async start(): Promise<void> {
    this.run();
    await this.idle();
  }

  /** A new deferred update at `state`: make sure the timer fires no later than that. */
  consider(state: number): void {
    if (state < this.armedAt) this.arm(state);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
  }

  /** Resolves when no promotion is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private arm(state: number): void {
    if (this.stopped) return;
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
        this.onError(err as Error);
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
      const due = this.collectDue();
      if (due.length === 0 || this.stopped) break;
      const ctx = this.begin();
      this.promote(ctx, due);
      await this.finish(ctx).committed;
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
      rows.push({ id: key.join('\u0000'), dbKey: [state, k, seq], update: { key: k, state, source: value.src, text: value.j }, rx: value.rx });
    }
    return rows;
  }

  private earliest(): number | undefined {
    for (const key of this.store.deferred.getKeys({ limit: 1 })) return key[0];
    return undefined;
  }
}
