import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { HamsyncError, describe } from '../errors.js';
import type { ChangeRow, DeferredKey, DeferredRow, HistoryIndexKey, HistoryKey, HistoryRow, LiveRow, OutboxRow, QuarantineKey, QuarantineLogRow, QuarantineRow, UnindexedRow } from './rows.js';

/** The LMDB environment of one data directory and its named databases. */
export interface Store {
  readonly root: RootDatabase;
  readonly live: Database<LiveRow, string>;
  readonly history: Database<HistoryRow, HistoryKey>;
  /** The per-key index into history, built in batches off the hot path (src/sync/history-index.ts): it lags `historyUnindexed`. */
  readonly historyByKey: Database<true, HistoryIndexKey>;
  /**
   * Format 3: history rows not yet in `historyByKey`, appended in sequence order as they are
   * written; emptied by the index builder. Absent from a read-only open of an older directory
   * (where the index is complete).
   */
  readonly historyUnindexed?: Database<UnindexedRow, number>;
  readonly deferred: Database<DeferredRow, DeferredKey>;
  /** Device side: encoded put messages not yet acknowledged by the broker, in order. */
  readonly outbox: Database<OutboxRow, number>;
  /** Small bookkeeping values: format version, sequence counter, clock high-water mark. */
  readonly meta: Database<unknown, string>;
  /**
   * Updates from beyond the horizon, held for an operator, and the audit trail of what was
   * released or dropped. Added after format 1 shipped: a read-only open of an older data
   * directory has neither (a writable open creates them), hence optional.
   */
  readonly quarantine?: Database<QuarantineRow, QuarantineKey>;
  readonly quarantineLog?: Database<QuarantineLogRow, number>;
  /** The hub's change log (format 2; src/store/change-log.ts). Absent from a read-only open of a format-1 directory. */
  readonly changes?: Database<ChangeRow, number>;
  /** Set when this open migrated the directory from an older store format (the caller logs it). */
  readonly migratedFrom?: number;
}

/**
 * Store format written by this hamsync. 2 (protocol v2) added the hub's change log and identity
 * and the daemon's sync cursors. 3 builds the per-key history index in batches (rows not yet
 * indexed wait in `history-unindexed`) and writes the hot rows (live, history, deferred, changes)
 * with msgpack structures shared per database. Format 1 and 2 directories are migrated in place on
 * the first writable open, and nothing is rewritten: the new databases start empty, the old index
 * is complete, and rows written with inline records still decode. Read-only opens read all three.
 */
export const STORE_FORMAT = 3;
const READABLE_FORMATS = [1, 2, 3];

/**
 * Where a database keeps its shared msgpack structures (lmdb-js `sharedStructuresKey`: a symbol
 * key, outside every range scan and count). Every open of the hot databases must pass the same
 * options, or rows written with shared structures do not decode (src/store/open.ts is the one place).
 */
export const SHARED_STRUCTURES = Symbol.for('hamsync.structures');
/** Databases whose rows use shared structures (format 3). */
export const SHARED_DBS: readonly string[] = ['live', 'history', 'deferred', 'changes'];

/** The lmdb-js options of the named database (shared structures for the hot ones). */
export function dbOptions(name: string): { name: string; sharedStructuresKey?: symbol } {
  return SHARED_DBS.includes(name) ? { name, sharedStructuresKey: SHARED_STRUCTURES } : { name };
}

export interface StoreOptions {
  /** Initial LMDB map size in bytes. Default lmdb-js' own, which grows the map as data grows (fits 32-bit Pis). */
  mapSize?: number;
  /** Open an existing store for reading only (replay and export work beside a running daemon). */
  readOnly?: boolean;
}

/** Opens (creating if needed) the LMDB environment in `dir`. Throws HAMSYNC_ERR_STORE with the reason. */
export function openStore(dir: string, options: StoreOptions = {}): Store {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `dataDir must be a non-empty path, got ${describe(dir)}`, { field: 'dataDir' });
  }
  const readOnly = options.readOnly === true;
  try {
    if (readOnly && !existsSync(join(dir, 'data.mdb'))) throw new Error('no hamsync data there (no data.mdb)');
    if (!readOnly) mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_STORE', `cannot use data directory ${dir}: ${(err as Error).message}`, { dir });
  }
  let root: RootDatabase;
  try {
    root = open({ path: dir, noSubdir: false, maxDbs: 16, readOnly, ...(options.mapSize === undefined ? {} : { mapSize: options.mapSize }) });
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_STORE', `cannot open LMDB in ${dir}: ${(err as Error).message}`, { dir });
  }
  const store: { -readonly [K in keyof Store]: Store[K] } = {
    root,
    live: root.openDB<LiveRow, string>(dbOptions('live')),
    history: root.openDB<HistoryRow, HistoryKey>(dbOptions('history')),
    historyByKey: root.openDB<true, HistoryIndexKey>(dbOptions('history-by-key')),
    historyUnindexed: root.openDB<UnindexedRow, number>(dbOptions('history-unindexed')) as Database<UnindexedRow, number> | undefined,
    deferred: root.openDB<DeferredRow, DeferredKey>(dbOptions('deferred')),
    outbox: root.openDB<OutboxRow, number>(dbOptions('outbox')),
    meta: root.openDB<unknown, string>(dbOptions('meta')),
    // lmdb-js gives undefined for a named database that a read-only open cannot create.
    quarantine: root.openDB<QuarantineRow, QuarantineKey>(dbOptions('quarantine')) as Database<QuarantineRow, QuarantineKey> | undefined,
    quarantineLog: root.openDB<QuarantineLogRow, number>(dbOptions('quarantine-log')) as Database<QuarantineLogRow, number> | undefined,
    changes: root.openDB<ChangeRow, number>(dbOptions('changes')) as Database<ChangeRow, number> | undefined,
  };
  const format = store.meta.get('format');
  if (format === undefined && !readOnly) {
    store.meta.putSync('format', STORE_FORMAT);
  } else if (!READABLE_FORMATS.includes(format as number) && format !== undefined) {
    void root.close();
    throw new HamsyncError('HAMSYNC_ERR_STORE', `data directory ${dir} has store format ${describe(format)}, this hamsync reads ${READABLE_FORMATS.join(' and ')}`, { dir });
  } else if (format !== STORE_FORMAT && !readOnly) {
    // Format 1 or 2 -> 3: the new databases were created above and old rows read as they are; record the format once.
    store.meta.putSync('format', STORE_FORMAT);
    store.migratedFrom = format as number;
  }
  return store;
}
