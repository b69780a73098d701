import type { EventEmitter } from 'node:events';
import type { Counters } from '../counters.js';
import type { Clock } from '../ham/clock.js';
import { resolveLimits, type Limits } from '../model/limits.js';
import { claimOwner } from '../store/identity.js';
import { lockDataDir, type DataDirLock } from '../store/lock.js';
import { openStore, type Store } from '../store/open.js';
import { ChangeLog } from '../store/change-log.js';
import { assertNoPartialRestore } from '../store/restore-mark.js';
import { QueueAccounts } from './accounts.js';
import { Batches } from './batches.js';
import { changeEvents, type ChangeEvent } from './change-event.js';
import { DeferredTimer } from './deferred-timer.js';
import { HistoryIndex } from './history-index.js';
import { Overlay } from './overlay.js';
import { QuarantineLog } from './quarantine.js';
import { QueueOps } from './queue-ops.js';
import { resolveQueueLimits, type QueueLimits } from './queue-limits.js';
import { replicaClock, type ReplicaOptions } from './replica-options.js';
import type { Change } from './resolve.js';
import { Retention, type RetentionOptions } from './retention.js';
import { WritePath } from './write-path.js';

/** The parts behind a replica's API (src/sync/replica.ts), over one open store. */
export interface ReplicaParts {
  readonly store: Store;
  readonly overlay: Overlay;
  /** Builds the per-key history index in batches. */
  readonly index: HistoryIndex;
  readonly clock: Clock;
  readonly limits: Limits;
  readonly queueLimits: QueueLimits;
  readonly writes: WritePath;
  readonly queueOps: QueueOps;
  readonly timer: DeferredTimer;
  readonly batches: Batches;
  /** The hub's change log, when the replica keeps one (options.changeLog). */
  readonly changeLog: ChangeLog | undefined;
}

/** What the parts need from the replica that owns them. */
export interface ReplicaHooks {
  readonly counters: Counters;
  /** Throws HAMSYNC_ERR_CLOSED once the replica is closed. */
  assertOpen(): void;
  /** A committed batch's changes, to emit as `change` events. */
  announce(changes: Change[]): void;
  /** A background failure (deferred timer, retention), to emit as `error`. */
  onError(err: Error): void;
  /** The change log's head advanced (a batch that logged something committed), to emit as `head`. */
  advanced(head: number): void;
}

/** The events a replica emits. */
export type ReplicaEvents = { change: [ChangeEvent]; error: [Error]; head: [number] };

/** Hooks that emit on `replica`: committed changes as `change` events, background failures as `error` (only when someone listens). */
export function emitterHooks(replica: EventEmitter<ReplicaEvents>, counters: Counters, assertOpen: () => void): ReplicaHooks {
  return {
    counters,
    assertOpen,
    announce: (changes) => {
      if (replica.listenerCount('change') === 0) return;
      for (const e of changeEvents(changes)) replica.emit('change', e);
    },
    onError: (err) => {
      if (replica.listenerCount('error') > 0) replica.emit('error', err);
    },
    advanced: (head) => {
      replica.emit('head', head);
    },
  };
}

/**
 * Takes the data directory's lock (when `options.lock` names a purpose), opens its store, and
 * checks its owner (when `options.owner` is given: no partial restore, the same owner or none).
 * On failure nothing stays open or locked.
 */
export async function openDataDir(options: ReplicaOptions): Promise<{ store: Store; lock: DataDirLock | undefined }> {
  const lock = options.lock === undefined ? undefined : lockDataDir(options.dataDir, options.lock);
  let store: Store | undefined;
  try {
    store = openStore(options.dataDir, { mapSize: options.mapSize });
    if (options.owner) {
      assertNoPartialRestore(store, options.dataDir);
      claimOwner(store, options.owner, options.dataDir);
    }
    return { store, lock };
  } catch (err) {
    await store?.root.close();
    lock?.release();
    throw err;
  }
}

/** Builds a replica's parts over an open store (rebuilding the queue counts from it); the timer is not started yet. */
export function assemble(store: Store, options: ReplicaOptions, hooks: ReplicaHooks): ReplicaParts {
  const limits = resolveLimits(options.limits);
  const queueLimits = resolveQueueLimits(options);
  const accounts = QueueAccounts.rebuild(store);
  const quarantineLog = new QuarantineLog(store);
  const clock = replicaClock(store, options);
  const overlay = new Overlay();
  const index = new HistoryIndex(store, options.historyIndex, (err) => hooks.onError(err));
  const changeLog = options.changeLog ? new ChangeLog(store) : undefined;
  const batches = new Batches(store, overlay, index, accounts, (changes) => hooks.announce(changes), changeLog, (head) => hooks.advanced(head));
  const writes = new WritePath({
    store, overlay, accounts, queueLimits, clock, batches, counters: hooks.counters,
    assertOpen: () => hooks.assertOpen(),
    deferredAt: (state) => timer.consider(state),
  });
  const timer: DeferredTimer = new DeferredTimer(clock, store, options.promoteChunk ?? 1000, {
    begin: () => batches.begin(),
    promote: (ctx, rows) => writes.promote(ctx, rows),
    finish: (ctx) => batches.finish(ctx),
    committed: async () => void (await store.root.committed),
    onError: (err) => hooks.onError(err),
  });
  const queueOps = new QueueOps(
    {
      store, overlay, accounts, limits: queueLimits, log: quarantineLog,
      now: () => clock.now(),
      begin: () => batches.begin(),
      finish: (ctx, results) => batches.finish(ctx, results).durable,
      deferredAt: (state) => timer.consider(state),
    },
    hooks.counters,
    () => hooks.assertOpen(),
  );
  return { store, overlay, index, clock, limits, queueLimits, writes, queueOps, timer, batches, changeLog };
}

/** Starts the background history pruning when the options set maxAgeMs or maxBytes; its failures go to `onError`. */
export function startRetention(parts: ReplicaParts, r: RetentionOptions | undefined, onError: (err: Error) => void): Retention | undefined {
  if (!r || (r.maxAgeMs === undefined && r.maxBytes === undefined)) return undefined;
  // Each run first indexes what waits, so no row it prunes is indexed afterwards.
  const retention = new Retention(parts.store, parts.clock, r, () => parts.index.flush());
  retention.on('error', onError);
  retention.start();
  return retention;
}

/**
 * Resolves once the replica is quiet: no deferred promotion, release or drop running, and every
 * batch written so far committed and announced (its `change` events emitted). Each pass waits
 * for what was running; it ends when a pass found nothing new (at most 100 passes).
 */
export async function quiet(parts: ReplicaParts): Promise<void> {
  for (let pass = 0; pass < 100; pass++) {
    const ops = parts.queueOps.idle();
    const batches = parts.batches.settled();
    await Promise.all([ops, parts.timer.idle(), batches]);
    if (!parts.timer.busy && parts.queueOps.idle() === ops && parts.batches.settled() === batches) return;
  }
}

/** Stops the deferred timer, waits for queue operations, pruning and pending writes, and closes LMDB. */
export async function shutdown(parts: ReplicaParts, retention: Retention | undefined): Promise<void> {
  parts.timer.stop();
  await parts.queueOps.idle();
  await retention?.stop();
  await parts.timer.idle();
  await parts.batches.settled();
  // A build that fails here loses nothing: its rows stay in history-unindexed and are indexed on the next open.
  await parts.index.stop().catch(() => undefined);
  await parts.store.root.flushed;
  await parts.store.root.close();
}
