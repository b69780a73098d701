import type { Store } from '../store/open.js';
import type { HistoryIndexKey } from '../store/rows.js';

/** A history row the per-key index does not hold yet (or not committed): enough to recognise a duplicate. */
export interface PendingRow {
  key: string;
  state: number;
  seq: number;
  src: string;
  j: string;
}

/** Default `maxRows`: a build starts once this many history rows wait for the index. */
export const INDEX_MAX_ROWS = 16_384;
/** Default `intervalMs`. */
export const INDEX_INTERVAL_MS = 1000;

export interface HistoryIndexOptions {
  /** Build the index at the latest this long after a row was written, in ms. Default 1000. */
  intervalMs?: number;
  /** Build it as soon as this many rows wait (the bound on `history-unindexed` and on the rows kept here). Default 16384. */
  maxRows?: number;
}

/**
 * Builds the per-key history index (`historyByKey`) in batches, off the write path.
 *
 * A batch writes each history row with one append to `history-unindexed` (sequence order) and
 * hands it here. Every `intervalMs`, or once `maxRows` wait, the rows whose batch has committed are
 * put into `historyByKey` sorted by [key, state, seq] (so a build touches each index page once,
 * however many updates went to it) and removed from `history-unindexed`, in that order (lmdb-js
 * commits writes in the order they were issued: a crash never leaves a row in neither).
 *
 * Until its index row has committed, a row stays here, per key and state, from the moment it was
 * written: the write path's duplicate check (`has`) looks here and in the committed index. Rows of
 * a batch that failed to commit are dropped (`forget`). On open the rows left in
 * `history-unindexed` (a crash, or an older process) are loaded back and indexed first.
 */
export class HistoryIndex {
  private readonly intervalMs: number;
  private readonly maxRows: number;
  /**
   * key -> its rows not yet committed to the index, in sequence order (one array per key: no
   * allocation per update beyond the row; `has` scans the key's rows, at most `maxRows` and
   * usually a handful).
   */
  private readonly byKey = new Map<string, PendingRow[]>();
  /** Rows not yet handed to a build, in sequence order. */
  private queue: PendingRow[] = [];
  private count = 0;
  /** Every history row with a smaller sequence number has committed. */
  private committedSeq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private building: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    options: HistoryIndexOptions = {},
    private readonly onError: (err: Error) => void = () => undefined,
  ) {
    this.intervalMs = options.intervalMs ?? INDEX_INTERVAL_MS;
    this.maxRows = options.maxRows ?? INDEX_MAX_ROWS;
    this.recover();
  }

  /** Rows written but not indexed yet (committed or not). */
  get size(): number {
    return this.count;
  }

  /** Records a history row just written (with its `history-unindexed` append) by a batch not yet committed. */
  add(row: PendingRow): void {
    const rows = this.byKey.get(row.key);
    if (rows) rows.push(row);
    else this.byKey.set(row.key, [row]);
    this.queue.push(row);
    this.count++;
    // Over maxRows the next commit starts a build (`committed`): only committed rows can be indexed.
    if (this.timer === undefined) this.schedule(this.intervalMs);
  }

  /** Is this exact update (key, state, source, value) a history row not yet in the committed index? */
  has(key: string, state: number, src: string, j: string): boolean {
    const rows = this.byKey.get(key);
    if (!rows) return false;
    for (const r of rows) if (r.state === state && r.src === src && r.j === j) return true;
    return false;
  }

  /** [state, seq] of the key's rows not yet in the committed index (some maybe not committed yet). */
  *waiting(key: string): Generator<[state: number, seq: number]> {
    for (const r of this.byKey.get(key) ?? []) yield [r.state, r.seq];
  }

  /** Every history row with a sequence number below `seq` has committed (called in commit order). */
  committed(seq: number): void {
    if (seq > this.committedSeq) this.committedSeq = seq;
    if (this.count >= this.maxRows) this.schedule(0);
  }

  /** Drops the rows of a batch that failed to commit (they are in neither database). */
  forget(rows: readonly PendingRow[]): void {
    if (rows.length === 0) return;
    const gone = new Set(rows);
    for (const r of rows) this.unlink(r);
    this.queue = this.queue.filter((r) => !gone.has(r));
  }

  /** Builds the index now for every committed row (waits for a build in progress first). */
  async flush(): Promise<void> {
    while (this.building) await this.building;
    await this.build();
  }

  /** Stops the timer and indexes what has committed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private schedule(ms: number): void {
    if (this.stopped || this.building) return;
    if (this.timer) {
      if (ms > 0 || this.timerMs === 0) return;
      clearTimeout(this.timer);
    }
    this.timerMs = ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch((err: unknown) => this.onError(err instanceof Error ? err : new Error(String(err))));
    }, ms);
    this.timer.unref();
  }

  private build(): Promise<void> {
    const { historyByKey, historyUnindexed } = this.store;
    let n = 0;
    while (n < this.queue.length && (this.queue[n] as PendingRow).seq < this.committedSeq) n++;
    if (n === 0 || !historyUnindexed) {
      // Nothing committed yet: look again later (an empty queue needs no timer).
      if (this.queue.length > 0) this.schedule(this.intervalMs);
      return Promise.resolve();
    }
    const rows = this.queue.slice(0, n);
    this.queue = this.queue.slice(n);
    const keys: HistoryIndexKey[] = rows.map((r) => [r.key, r.state, r.seq]);
    keys.sort(compareIndexKeys);
    let last: Promise<unknown> = Promise.resolve();
    for (const k of keys) last = historyByKey.put(k, true);
    for (const r of rows) last = historyUnindexed.remove(r.seq);
    const done = (last as Promise<unknown>).then(
      () => this.unlinkBuilt(rows),
      (err: unknown) => {
        // Not indexed: put them back in front, to try again.
        this.queue = rows.concat(this.queue);
        throw err;
      },
    );
    this.building = done.finally(() => {
      this.building = undefined;
      if (this.queue.length > 0) this.schedule(this.count >= this.maxRows ? 0 : this.intervalMs);
    });
    return this.building;
  }

  private unlink(r: PendingRow): void {
    const rows = this.byKey.get(r.key);
    const i = rows ? rows.indexOf(r) : -1;
    if (!rows || i < 0) return;
    this.count--;
    if (rows.length === 1) this.byKey.delete(r.key);
    else rows.splice(i, 1);
  }

  /**
   * Drops the rows of a build once indexed. A build takes the head of the queue (sequence order)
   * and each key's rows are in sequence order too, so its rows are the first ones of each key.
   */
  private unlinkBuilt(built: readonly PendingRow[]): void {
    const first = new Map<string, [row: PendingRow, n: number]>();
    for (const r of built) {
      const f = first.get(r.key);
      if (f) f[1]++;
      else first.set(r.key, [r, 1]);
    }
    for (const [key, [row, n]] of first) {
      const rows = this.byKey.get(key);
      if (!rows) continue;
      if (rows[0] !== row) {
        // Not the expected prefix (cannot happen): remove them one by one.
        for (const r of built) if (r.key === key) this.unlink(r);
        continue;
      }
      this.count -= Math.min(n, rows.length);
      if (n >= rows.length) this.byKey.delete(key);
      else rows.splice(0, n);
    }
  }

  /** Loads the rows `history-unindexed` still holds (left by a crash): committed, so indexed at the next build. */
  private recover(): void {
    const { history, historyUnindexed } = this.store;
    if (!historyUnindexed) return;
    let max = 0;
    for (const { key: seq, value } of historyUnindexed.getRange({})) {
      const [key, state] = value;
      const row = history.get([state, seq]);
      max = seq + 1;
      // A row pruned meanwhile (retention) leaves nothing to index.
      if (row) this.add({ key, state, seq, src: row.src, j: row.j });
      else void historyUnindexed.remove(seq);
    }
    this.committed(max);
  }
}

/** Orders index keys [key, state, seq] for a build (close to LMDB's order; only locality depends on it). */
function compareIndexKeys(a: HistoryIndexKey, b: HistoryIndexKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] - b[1] || a[2] - b[2];
}
