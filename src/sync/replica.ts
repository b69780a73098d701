import { EventEmitter } from 'node:events';
import { Counters } from '../counters.js';
import { HamsyncError, isHamsyncError } from '../errors.js';
import type { Clock, HighWaterStore } from '../ham/clock.js';
import { WallClock } from '../ham/wall-clock.js';
import type { Decision } from '../ham/decide.js';
import type { Json } from '../ham/lexical.js';
import { resolveLimits, type Limits } from '../model/limits.js';
import { checkBatch, type CheckedUpdate } from '../model/update.js';
import { openStore, type Store } from '../store/open.js';
import { Outbox } from '../store/outbox.js';
import { Retention, type RetentionOptions } from './retention.js';
import {
  readDeferred,
  readHistory,
  readLive,
  readQuarantine,
  readQuarantineLog,
  type DeferredEntry,
  type Entry,
  type HistoryEntry,
  type HistoryRange,
  type QuarantineEntry,
  type QuarantineLogEntry,
} from '../store/read.js';
import { Ledger, QueueAccounts, updateBytes, type SourceQueues } from './accounts.js';
import { admit, type Admission } from './admit.js';
import { DeferredTimer, type DueRow } from './deferred-timer.js';
import { newBatch, Overlay } from './overlay.js';
import { compileSelector, drop, QuarantineLog, release, type DropReport, type QuarantineHost, type QuarantineSelector, type ReleaseReport } from './quarantine.js';
import { resolveQueueLimits, type QueueLimits } from './queue-limits.js';
import { defer, quarantine, settle, type BatchContext, type Change, type Result } from './resolve.js';

export interface ReplicaOptions {
  /** Directory of the LMDB environment (created if missing). Required. */
  dataDir: string;
  /**
   * The machine clock, or a factory given the replica's persisted high-water store.
   * Default: the wall clock with `clockOffsetMs`, its stamps persisted in the store.
   */
  clock?: Clock | ((highWater: HighWaterStore) => Clock);
  /** Offset for the default wall clock, in ms. Default 0. */
  clockOffsetMs?: number;
  /** Rate error of the default wall clock in ppm (simulated drift). Default 0. */
  clockDriftPpm?: number;
  /** Bounds on keys, values and batches (see Limits). */
  limits?: Partial<Limits>;
  /** LMDB map size in bytes. Default 16 GiB. */
  mapSize?: number;
  /** Most deferred updates resolved in one transaction when they fall due. Default 1000. */
  promoteChunk?: number;
  /** Background history pruning (by age and/or size); off unless maxAgeMs or maxBytes is set. */
  retention?: RetentionOptions;
  /**
   * The horizon in ms: an update stamped more than this ahead of the machine state is
   * quarantined (held for an operator, never applied on its own) instead of deferred.
   * Default 30 days (2,592,000,000).
   */
  maxFutureMs?: number;
  /** Most deferred updates per source; a batch that would exceed it is refused whole (HAMSYNC_ERR_DEFERRED_FULL). Default 10,000. */
  deferredMaxPerSource?: number;
  /** Most bytes (UTF-8 key + canonical value text) of deferred updates per source; as above. Default 16 MiB. */
  deferredMaxBytesPerSource?: number;
  /** Most quarantined updates per source; over it, refused whole (HAMSYNC_ERR_QUARANTINE_FULL); 0 refuses them all. Default 1,000. */
  quarantineMaxPerSource?: number;
}

/** Per-source queue sizes and the limits they are held to. */
export interface QueueStatus {
  limits: QueueLimits;
  totals: { deferred: number; quarantined: number };
  sources: Record<string, SourceQueues>;
}

/** What `receive` returns: decisions now, and promises for the commit and for durability. */
export interface Receipt {
  results: Result[];
  /** Resolves when the batch (and everything before it) is committed and visible to readers. */
  committed: Promise<void>;
  /** Resolves when the batch (and everything before it) is flushed to disk: safe to acknowledge. */
  durable: Promise<void>;
}

export interface ChangeEvent {
  readonly key: string;
  readonly value: Json;
  /** The value's canonical JSON text. */
  text: string;
  state: number;
  source: string;
  deferred: boolean;
  /** The source's signature of the update (base64url), when it came signed. */
  sig?: string;
}

export type { Admission, DeferredEntry, DropReport, Entry, HistoryEntry, HistoryRange, Decision, QuarantineEntry, QuarantineLogEntry, QuarantineSelector, QueueLimits, ReleaseReport, Result, SourceQueues };

/**
 * One replica: a durable LMDB store (live, history, deferred, quarantine) behind GUN's HAM.
 * Emits `change` (ChangeEvent) for every update that changed the live view, after it committed.
 */
export class Replica extends EventEmitter<{ change: [ChangeEvent]; error: [Error] }> {
  readonly clock: Clock;
  readonly limits: Limits;
  readonly queueLimits: QueueLimits;
  /** Queue events since open: quarantine.added / .released / .dropped, refused.<code>. */
  readonly counters = new Counters();
  private readonly store: Store;
  private readonly accounts: QueueAccounts;
  private readonly quarantineLog: QuarantineLog;
  /** Release and drop run one at a time. */
  private quarantineOps: Promise<unknown> = Promise.resolve();
  private readonly overlay = new Overlay();
  private readonly timer: DeferredTimer;
  private seq: number;
  private closed = false;
  private outboxQueue: Outbox | undefined;
  private lastCommitted: Promise<unknown> = Promise.resolve();
  private lastDurable: Promise<unknown> = Promise.resolve();

  private constructor(store: Store, options: ReplicaOptions) {
    super();
    this.store = store;
    this.limits = resolveLimits(options.limits);
    this.queueLimits = resolveQueueLimits(options);
    this.accounts = QueueAccounts.rebuild(store);
    this.quarantineLog = new QuarantineLog(store);
    const highWater: HighWaterStore = {
      load: () => store.meta.get('clock.hw') as number | undefined,
      save: (stamp) => void store.meta.put('clock.hw', stamp),
    };
    const clock = options.clock ?? ((hw: HighWaterStore) => new WallClock({ offsetMs: options.clockOffsetMs ?? 0, driftPpm: options.clockDriftPpm ?? 0, highWater: hw }));
    this.clock = typeof clock === 'function' ? clock(highWater) : clock;
    this.seq = (store.meta.get('seq') as number | undefined) ?? 0;
    this.timer = new DeferredTimer(this.clock, store, options.promoteChunk ?? 1000, {
      begin: () => this.newContext(),
      promote: (ctx, rows) => this.promote(ctx, rows),
      finish: (ctx) => this.finish(ctx),
      committed: async () => void (await store.root.committed),
      onError: (err) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
      },
    });
  }

  /** Opens the data directory, resolves deferred updates that fell due while closed, and arms the timer. */
  static async open(options: ReplicaOptions): Promise<Replica> {
    // Checked before anything is opened: a bad option names its field and value.
    resolveQueueLimits(options);
    const store = openStore(options.dataDir, { mapSize: options.mapSize });
    let replica: Replica;
    try {
      replica = new Replica(store, options);
    } catch (err) {
      await store.root.close();
      throw err;
    }
    await replica.timer.start();
    const r = options.retention;
    if (r && (r.maxAgeMs !== undefined || r.maxBytes !== undefined)) {
      replica.retention = new Retention(replica.store, replica.clock, r);
      replica.retention.on('error', (err) => {
        if (replica.listenerCount('error') > 0) replica.emit('error', err);
      });
      replica.retention.start();
    }
    return replica;
  }

  /** The background history pruning, when configured (for its `pruned` events). */
  retention: Retention | undefined;

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
   */
  receiveChecked(checked: readonly CheckedUpdate[]): Receipt {
    return this.receiveAdmitted([this.admit(checked)]);
  }

  /**
   * Checks and reserves, synchronously, the room validated updates need in the deferred and
   * quarantine queues (per source). Over a cap the whole batch is refused with
   * HAMSYNC_ERR_DEFERRED_FULL or HAMSYNC_ERR_QUARANTINE_FULL and nothing is reserved. Lets a
   * caller refuse one message alone and write the admitted ones together (`receiveAdmitted`);
   * `cancel` returns the room of an admission that will not be written.
   */
  admit(checked: readonly CheckedUpdate[]): Admission {
    this.assertOpen();
    try {
      return admit({ store: this.store, overlay: this.overlay }, this.accounts, this.queueLimits, checked, this.clock.now());
    } catch (err) {
      if (isHamsyncError(err)) this.counters.inc(`refused.${err.code}`);
      throw err;
    }
  }

  /** Returns an admission's reserved room without writing it. Idempotent. */
  cancel(admission: Admission): void {
    if (admission.done) return;
    admission.done = true;
    this.accounts.unreserve(admission.needs);
  }

  /**
   * Writes admitted batches as one transaction: updates beyond the horizon (when admitted) go
   * to quarantine, the others are resolved with HAM (deferred when still ahead of the clock).
   * Every admission's reservation is returned, whether this succeeds or throws.
   */
  receiveAdmitted(admissions: readonly Admission[]): Receipt {
    try {
      this.assertOpen();
      if (admissions.some((a) => a.done)) throw new Error('an admission was already written or cancelled');
      const ctx = this.newContext();
      const machine = this.clock.now();
      const results: Result[] = [];
      let quarantined = 0;
      for (const a of admissions) {
        a.updates.forEach((u, i) => {
          const r = a.beyond[i] ? quarantine(ctx, u, machine) : this.resolveOne(ctx, u, machine);
          if (r.decision === 'quarantine' && !r.duplicate) quarantined++;
          results.push(r);
        });
      }
      if (quarantined > 0) this.counters.inc('quarantine.added', quarantined);
      return this.finish(ctx, results);
    } finally {
      for (const a of admissions) this.cancel(a);
    }
  }

  private resolveOne(ctx: BatchContext, u: CheckedUpdate, machine: number): Result {
    if (u.state > machine) {
      const result = defer(ctx, u, machine);
      if (!result.duplicate) this.timer.consider(u.state);
      return result;
    }
    return settle(ctx, u, machine, machine, false);
  }

  private promote(ctx: BatchContext, chunk: DueRow[]): void {
    const machine = this.clock.now();
    for (const row of chunk) {
      void this.store.deferred.remove(row.dbKey);
      this.overlay.removeDeferred(row.id, ctx.batch);
      ctx.ledger.add(row.update.source, 'deferred', -1, -updateBytes(row.update.key, row.update.text));
      settle(ctx, row.update, machine, row.rx, true);
    }
  }

  private newContext(): BatchContext {
    return { store: this.store, overlay: this.overlay, batch: newBatch(), changes: [], seq: this.seq, ledger: new Ledger(this.accounts) };
  }

  private finish(ctx: BatchContext, results: Result[] = []): Receipt {
    if (ctx.seq !== this.seq) {
      this.seq = ctx.seq;
      void this.store.meta.put('seq', ctx.seq);
    }
    const root = this.store.root;
    // Both are lazy thenables over "everything written so far": take them now, in this turn.
    const committed = new Promise<void>((resolve, reject) => root.committed.then(() => resolve(), reject));
    const flushed = new Promise<void>((resolve, reject) => root.flushed.then(() => resolve(), reject));
    // Chained, so receipts settle in the order their batches were written.
    const settled = Promise.all([this.lastCommitted, committed]).then(
      () => {
        this.overlay.settle(ctx.batch);
        if (this.listenerCount('change') === 0) return;
        for (const c of lastPerKey(ctx.changes)) this.emit('change', new AppliedChange(c));
      },
      (err: unknown) => {
        this.overlay.settle(ctx.batch, false);
        ctx.ledger.revert();
        throw new HamsyncError('HAMSYNC_ERR_STORE', `commit failed: ${(err as Error).message}`);
      },
    );
    const durable = Promise.all([this.lastDurable, settled, flushed]).then(() => undefined);
    this.lastCommitted = settled.catch(() => undefined);
    this.lastDurable = durable.catch(() => undefined);
    settled.catch(() => undefined);
    durable.catch(() => undefined);
    return { results, committed: settled, durable };
  }

  /** The live value of a key, or undefined. Sees writes not yet committed. */
  get(key: string): Entry | undefined {
    this.assertOpen();
    const row = this.overlay.getLive(key) ?? this.store.live.get(key);
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

  /** Updates waiting for the clock, earliest first (committed data). */
  deferred(limit = Infinity): DeferredEntry[] {
    this.assertOpen();
    return readDeferred(this.store, limit);
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
    return this.quarantineOp(async (host) => {
      const report = await release(host, selector);
      this.counters.inc('quarantine.released', report.released);
      return report;
    });
  }

  /** Deletes the quarantined updates a selector names (required); each is recorded in the audit trail. */
  dropQuarantined(selector: QuarantineSelector): Promise<DropReport> {
    return this.quarantineOp(async (host) => {
      const report = await drop(host, selector);
      this.counters.inc('quarantine.dropped', report.dropped);
      return report;
    });
  }

  /** The audit trail of quarantine releases and drops, newest first (at most 100,000 kept). */
  quarantineLogEntries(limit = Infinity): QuarantineLogEntry[] {
    this.assertOpen();
    return readQuarantineLog(this.store, limit);
  }

  /** Per-source sizes of the deferred and quarantine queues (exact, in memory) and their limits. */
  queues(): QueueStatus {
    return { limits: { ...this.queueLimits }, totals: this.accounts.totals(), sources: this.accounts.snapshot() };
  }

  private quarantineOp<T>(op: (host: QuarantineHost) => Promise<T>): Promise<T> {
    const run = this.quarantineOps.then(async () => {
      this.assertOpen();
      // Selection reads committed rows: let every earlier write commit first.
      await this.store.root.committed;
      this.assertOpen();
      return op({
        store: this.store,
        overlay: this.overlay,
        accounts: this.accounts,
        limits: this.queueLimits,
        log: this.quarantineLog,
        now: () => this.clock.now(),
        begin: () => this.newContext(),
        finish: (ctx, results) => this.finish(ctx, results).durable,
        deferredAt: (state) => this.timer.consider(state),
      });
    });
    this.quarantineOps = run.catch(() => undefined);
    return run;
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

  /** Stops the deferred timer, waits for pending writes, and closes LMDB. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer.stop();
    await this.quarantineOps;
    await this.retention?.stop();
    await this.timer.idle();
    await this.store.root.flushed;
    await this.store.root.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new HamsyncError('HAMSYNC_ERR_CLOSED', 'the replica is closed');
  }
}

/** Within one batch only a key's final change is announced (an update and its tie-breaker, say). */
function lastPerKey(changes: Change[]): Change[] {
  if (changes.length < 2) return changes;
  const last = new Map<string, Change>();
  for (const c of changes) {
    last.delete(c.key);
    last.set(c.key, c);
  }
  return [...last.values()];
}

/** A change event whose value is parsed only if someone reads it (the hub needs just the text). */
class AppliedChange implements ChangeEvent {
  readonly key: string;
  readonly text: string;
  readonly state: number;
  readonly source: string;
  readonly deferred: boolean;
  readonly sig?: string;

  constructor(c: Change) {
    this.key = c.key;
    this.text = c.text;
    this.state = c.state;
    this.source = c.source;
    this.deferred = c.deferred;
    if (c.sig !== undefined) this.sig = c.sig;
  }

  get value(): Json {
    return JSON.parse(this.text) as Json;
  }
}
