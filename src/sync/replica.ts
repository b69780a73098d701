import { EventEmitter } from 'node:events';
import { Counters } from '../counters.js';
import { HamsyncError } from '../errors.js';
import type { Clock } from '../ham/clock.js';
import type { Decision } from '../ham/decide.js';
import type { Json } from '../ham/lexical.js';
import type { Limits } from '../model/limits.js';
import { checkBatch, type CheckedUpdate } from '../model/update.js';
import type { DataDirLock } from '../store/lock.js';
import type { Store } from '../store/open.js';
import type { ChangeLog } from '../store/change-log.js';
import { Cursors } from '../store/cursor.js';
import { ClusterMarks } from '../store/cluster-marks.js';
import { hubIdentity, type HubIdentity } from '../store/hub-identity.js';
import { Outbox } from '../store/outbox.js';
import { readDeferred, readHistory, readLive, readQuarantine, readQuarantineLog, type DeferredEntry, type Entry, type HistoryEntry, type HistoryRange, type QuarantineEntry, type QuarantineLogEntry } from '../store/read.js';
import type { SourceQueues } from './accounts.js';
import type { Admission } from './admit.js';
import type { Receipt } from './batches.js';
import type { ChangeEvent } from './change-event.js';
import { assemble, emitterHooks, openDataDir, quiet, shutdown, startRetention, type ReplicaEvents, type ReplicaHooks, type ReplicaParts } from './lifecycle.js';
import { compileSelector, type DropReport, type QuarantineSelector, type ReleaseReport } from './quarantine.js';
import type { QueueStatus } from './queue-ops.js';
import { resolveQueueLimits, type QueueLimits } from './queue-limits.js';
import type { ReplicaOptions } from './replica-options.js';
import { resolveRetention, type Retention } from './retention.js';
import type { BatchOptions, Result } from './resolve.js';
import { snapshotPage, type SnapshotBounds, type SnapshotCursor, type SnapshotPage } from './snapshot.js';

export type { Admission, ChangeEvent, DeferredEntry, DropReport, Entry, HistoryEntry, HistoryRange, Decision, QuarantineEntry, QuarantineLogEntry, QuarantineSelector };
export type { BatchOptions, QueueLimits, QueueStatus, Receipt, ReleaseReport, ReplicaOptions, Result, SourceQueues };

/**
 * One replica: a durable LMDB store (live, history, deferred, quarantine) behind GUN's HAM.
 * Emits `change` (ChangeEvent) for every update that changed the live view, after it committed
 * (an equal value from a lexically greater source changes the live view too: its source is credited).
 * This class is the API; its parts do the work (lifecycle.ts builds them): the write path
 * (write-path.ts, batches.ts), the deferred timer, the queue operations (queue-ops.ts).
 */
export class Replica extends EventEmitter<ReplicaEvents> {
  readonly clock: Clock;
  readonly limits: Limits;
  readonly queueLimits: QueueLimits;
  /** Queue events since open: quarantine.added / .released / .dropped, refused.<code>. */
  readonly counters = new Counters();
  /** The background history pruning, when configured (for its `pruned` events). */
  retention: Retention | undefined;
  private readonly parts: ReplicaParts;
  private closed = false;
  private outboxQueue: Outbox | undefined;
  private readonly hooks: ReplicaHooks = emitterHooks(this, this.counters, () => this.assertOpen());

  private constructor(
    private readonly store: Store,
    options: ReplicaOptions,
    private readonly lock: DataDirLock | undefined,
  ) {
    super();
    this.parts = assemble(store, options, this.hooks);
    ({ clock: this.clock, limits: this.limits, queueLimits: this.queueLimits } = this.parts);
  }

  /** Opens the data directory, resolves deferred updates that fell due while closed, and arms the timer. */
  static async open(options: ReplicaOptions): Promise<Replica> {
    // Checked before anything is opened: a bad option names its field and value.
    resolveQueueLimits(options);
    if (options.retention) resolveRetention(options.retention);
    const { store, lock } = await openDataDir(options);
    let replica: Replica;
    try {
      replica = new Replica(store, options, lock);
    } catch (err) {
      await store.root.close();
      lock?.release();
      throw err;
    }
    await replica.parts.timer.start();
    replica.retention = startRetention(replica.parts, options.retention, replica.hooks.onError);
    return replica;
  }

  /** The machine state now (HAM's upper boundary). */
  now(): number {
    return this.clock.now();
  }

  /** A fresh, strictly increasing local stamp. */
  stamp(): number {
    return this.clock.stamp();
  }

  /**
   * Validates the whole batch (any invalid update throws a coded HamsyncError and nothing is
   * written), checks the per-source queue caps (over one: HAMSYNC_ERR_DEFERRED_FULL or
   * HAMSYNC_ERR_QUARANTINE_FULL, nothing written), then resolves every update with HAM (or
   * quarantines it, beyond the horizon) and writes the outcome in one transaction. An update's
   * `sig` (its source's signature) is checked for form only and stored with it; verifying it is
   * the caller's policy (src/sign: the hub and the daemon verify before calling this).
   */
  receive(updates: readonly unknown[]): Receipt {
    this.assertOpen();
    return this.receiveChecked(checkBatch(updates, this.limits));
  }

  /**
   * `receive` for updates already validated with `checkBatch` against this replica's limits
   * (lets a caller validate many messages one by one, then commit them as one transaction).
   * `options.external`: the updates came from the hub cluster (their change log rows are marked).
   */
  receiveChecked(checked: readonly CheckedUpdate[], options: BatchOptions = {}): Receipt {
    return this.receiveAdmitted([this.admit(checked)], options);
  }

  /**
   * Checks and reserves, synchronously, the room validated updates need in the deferred and
   * quarantine queues (per source). Over a cap the whole batch is refused with
   * HAMSYNC_ERR_DEFERRED_FULL or HAMSYNC_ERR_QUARANTINE_FULL and nothing is reserved. Lets a
   * caller refuse one message alone and write the admitted ones together (`receiveAdmitted`);
   * `cancel` returns the room of an admission that will not be written.
   */
  admit(checked: readonly CheckedUpdate[]): Admission {
    return this.parts.writes.admit(checked);
  }

  /** Returns an admission's reserved room without writing it. Idempotent. */
  cancel(admission: Admission): void {
    this.parts.writes.cancel(admission);
  }

  /**
   * Writes admitted batches as one transaction: updates beyond the horizon (when admitted) go
   * to quarantine, the others are resolved with HAM (deferred when still ahead of the clock).
   * Every admission's reservation is returned, whether this succeeds or throws.
   */
  receiveAdmitted(admissions: readonly Admission[], options: BatchOptions = {}): Receipt {
    return this.parts.writes.receiveAdmitted(admissions, options);
  }

  /** The live value of a key, or undefined. Sees writes not yet committed. */
  get(key: string): Entry | undefined {
    this.assertOpen();
    const row = this.parts.overlay.getLive(key) ?? this.store.live.get(key);
    if (!row) return undefined;
    const entry: Entry = { key, value: JSON.parse(row.j) as Json, state: row.s, source: row.src };
    if (row.g !== undefined) entry.sig = row.g;
    return entry;
  }

  /** Every live entry in key order, optionally only keys starting with `prefix` (committed data). */
  live(prefix = ''): Iterable<Entry> {
    this.assertOpen();
    return readLive(this.store, prefix);
  }

  /** History rows of one key in state order (committed data), within `range`. */
  history(key: string, range: HistoryRange = {}): HistoryEntry[] {
    this.assertOpen();
    return readHistory(this.store, key, range);
  }

  /** The hub's change log, when this replica keeps one (ReplicaOptions.changeLog). */
  get changeLog(): ChangeLog | undefined {
    return this.parts.changeLog;
  }

  /** The store format this open migrated the data directory from (e.g. 1), if it did. */
  get migratedFrom(): number | undefined {
    return this.store.migratedFrom;
  }

  /** This data directory's hub identity (made the first time it is asked for). */
  hubIdentity(): HubIdentity {
    this.assertOpen();
    return hubIdentity(this.store);
  }

  /** The follower's sync positions (protocol v2), kept in this store. */
  cursors(): Cursors {
    this.assertOpen();
    return new Cursors(this.store);
  }

  /** The hub cluster's durable marks (stream position, pushed position, generation), kept in this store. */
  clusterMarks(): ClusterMarks {
    this.assertOpen();
    return new ClusterMarks(this.store);
  }

  /** One page of a snapshot of the live view and deferred queue under `wanted` keys (src/sync/snapshot.ts). */
  snapshotPage(from: SnapshotCursor, wanted: (key: string) => boolean, bounds: SnapshotBounds): SnapshotPage {
    this.assertOpen();
    return snapshotPage(this.store, from, wanted, bounds);
  }

  /** Updates waiting for the clock, earliest first (committed data). */
  deferred(limit = Infinity): DeferredEntry[] {
    this.assertOpen();
    return readDeferred(this.store, limit);
  }

  /**
   * What waits for a key that has no live value yet: its deferred and quarantined updates
   * (committed data) and the earliest state among them. A scan of the deferred queue's keys.
   */
  waiting(key: string): { deferred: number; quarantined: number; earliest?: number } {
    this.assertOpen();
    let deferred = 0;
    let earliest: number | undefined;
    for (const [state, k] of this.store.deferred.getKeys()) {
      if (k !== key) continue;
      deferred++;
      earliest = Math.min(earliest ?? state, state);
    }
    const held = readQuarantine(this.store, compileSelector({ keys: [key] }, false), Infinity);
    for (const e of held) earliest = Math.min(earliest ?? e.state, e.state);
    return { deferred, quarantined: held.length, ...(earliest === undefined ? {} : { earliest }) };
  }

  /** Updates held in quarantine (committed data), by source, key and state; optionally only those a selector names. */
  quarantined(selector?: QuarantineSelector, limit = Infinity): QuarantineEntry[] {
    this.assertOpen();
    return readQuarantine(this.store, compileSelector(selector, false), limit);
  }

  /**
   * Releases the quarantined updates a selector names (required: `all`, `sources` or `keys`)
   * into the normal path: due ones are resolved now, the rest deferred (the horizon is
   * bypassed, the per-source deferred cap is not: over it nothing is released). Audited.
   */
  releaseQuarantined(selector: QuarantineSelector): Promise<ReleaseReport> {
    return this.parts.queueOps.release(selector);
  }

  /** Deletes the quarantined updates a selector names (required); each is recorded in the audit trail. */
  dropQuarantined(selector: QuarantineSelector): Promise<DropReport> {
    return this.parts.queueOps.drop(selector);
  }

  /** The audit trail of quarantine releases and drops, newest first (at most 100,000 kept). */
  quarantineLogEntries(limit = Infinity): QuarantineLogEntry[] {
    this.assertOpen();
    return readQuarantineLog(this.store, limit);
  }

  /** Per-source sizes of the deferred and quarantine queues (exact, in memory) and their limits. */
  queues(): QueueStatus {
    return this.parts.queueOps.status();
  }

  /**
   * Sizes from LMDB's own statistics (committed data, no scan): live keys, history rows, and the
   * bytes the data file uses (its last page times the page size).
   */
  storeStats(): { liveKeys: number; historyRows: number; bytes: number } {
    this.assertOpen();
    const env = this.store.root.getStats() as { pageSize: number; lastPageNumber: number };
    const count = (db: { getStats(): unknown }): number => (db.getStats() as { entryCount: number }).entryCount;
    return { liveKeys: count(this.store.live), historyRows: count(this.store.history), bytes: (env.lastPageNumber + 1) * env.pageSize };
  }

  /** Resolves once a small write (a `health` marker in the store's meta) has committed; throws when closed or not writable. */
  async probeWrite(): Promise<void> {
    this.assertOpen();
    await this.store.meta.put('health', Date.now());
  }

  /** The store-and-forward outbox kept in this replica's LMDB environment (device side). */
  outbox(): Outbox {
    this.assertOpen();
    this.outboxQueue ??= new Outbox(this.store);
    return this.outboxQueue;
  }

  /** Resolves once every write so far is flushed to disk. */
  async flushed(): Promise<void> {
    await this.store.root.flushed;
  }

  /** Resolves once no promotion, release or drop runs and every batch so far is committed and announced. */
  idle(): Promise<void> {
    return quiet(this.parts);
  }

  /** Stops the deferred timer, waits for pending writes, and closes LMDB. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await shutdown(this.parts, this.retention);
    } finally {
      this.lock?.release();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new HamsyncError('HAMSYNC_ERR_CLOSED', 'the replica is closed');
  }
}
