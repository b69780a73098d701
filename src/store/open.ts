import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { HamsyncError, describe } from '../errors.js';
import type { ChangeRow, DeferredKey, DeferredRow, HistoryIndexKey, HistoryKey, HistoryRow, LiveRow, OutboxRow, QuarantineKey, QuarantineLogRow, QuarantineRow } from './rows.js';

/** The LMDB environment of one data directory and its named databases. */
export interface Store {
  readonly root: RootDatabase;
  readonly live: Database<LiveRow, string>;
  readonly history: Database<HistoryRow, HistoryKey>;
  readonly historyByKey: Database<true, HistoryIndexKey>;
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
 * and the daemon's sync cursors; format 1 directories (hamsync 0.1) are migrated in place on the
 * first writable open (nothing is rewritten: the new databases start empty). Read-only opens read both.
 */
export const STORE_FORMAT = 2;
const READABLE_FORMATS = [1, 2];

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
    live: root.openDB<LiveRow, string>({ name: 'live' }),
    history: root.openDB<HistoryRow, HistoryKey>({ name: 'history' }),
    historyByKey: root.openDB<true, HistoryIndexKey>({ name: 'history-by-key' }),
    deferred: root.openDB<DeferredRow, DeferredKey>({ name: 'deferred' }),
    outbox: root.openDB<OutboxRow, number>({ name: 'outbox' }),
    meta: root.openDB<unknown, string>({ name: 'meta' }),
    // lmdb-js gives undefined for a named database that a read-only open cannot create.
    quarantine: root.openDB<QuarantineRow, QuarantineKey>({ name: 'quarantine' }) as Database<QuarantineRow, QuarantineKey> | undefined,
    quarantineLog: root.openDB<QuarantineLogRow, number>({ name: 'quarantine-log' }) as Database<QuarantineLogRow, number> | undefined,
    changes: root.openDB<ChangeRow, number>({ name: 'changes' }) as Database<ChangeRow, number> | undefined,
  };
  const format = store.meta.get('format');
  if (format === undefined && !readOnly) {
    store.meta.putSync('format', STORE_FORMAT);
  } else if (!READABLE_FORMATS.includes(format as number) && format !== undefined) {
    void root.close();
    throw new HamsyncError('HAMSYNC_ERR_STORE', `data directory ${dir} has store format ${describe(format)}, this hamsync reads ${READABLE_FORMATS.join(' and ')}`, { dir });
  } else if (format !== STORE_FORMAT && !readOnly) {
    // Format 1 -> 2: the new databases were created above; record the format once.
    store.meta.putSync('format', STORE_FORMAT);
    store.migratedFrom = format as number;
  }
  return store;
}
