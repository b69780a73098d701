import type { Limits } from '../model/limits.js';
import type { Store } from '../store/open.js';
import { RESTORE_MARK, restoreMark, type RestoreMark } from '../store/restore-mark.js';
import type { HistoryRow, LiveRow } from '../store/rows.js';
import { readChunks } from './import-chunks.js';
import type { ParsedRow } from './import-lines.js';
import type { ImportOptions, ImportReport, ValidatedExport } from './import-types.js';

/** A report with nothing done yet. */
export function emptyReport(valid: ValidatedExport, mode: ImportReport['mode']): ImportReport {
  return { file: valid.file, lines: 0, counts: { ...valid.counts }, updates: 0, imported: 0, duplicates: 0, applied: 0, deferred: 0, chunks: 0, mode };
}

/**
 * Whether an import into `store` is a restore: it has no live, history, deferred, quarantined
 * or queued (outbox) rows, or it holds a partial restore (which is started over).
 */
export function isEmpty(store: Store): boolean {
  if (restoreMark(store) !== undefined) return true;
  const dbs = [store.live, store.history, store.deferred, store.outbox, store.quarantine];
  return dbs.every((db) => db === undefined || db.getKeysCount({ limit: 1 }) === 0);
}

/**
 * Pass 2 of an import into an empty data directory: writes every row as exported (live rows
 * as they were; history rows with their outcome, deferred flag and receive time, in file order,
 * which is the export's state order; deferred rows with their receive time), in transactions
 * of `chunkSize` rows. The rows are not resolved again: the export is the replica it came from.
 *
 * A mark in `meta` covers the whole restore: a daemon or broker refuses a directory that has it,
 * and an import into it starts the restore over (clearing the partial rows first), so an
 * interrupted restore is finished by running the same import again. The mark goes, with the
 * sequence counter, in the transaction after the last row, once the rows matched the header.
 */
export async function restoreChecked(store: Store, valid: ValidatedExport, limits: Limits, chunkSize: number, options: ImportOptions): Promise<ImportReport> {
  const report = emptyReport(valid, 'restore');
  if (restoreMark(store) !== undefined) {
    await Promise.all([store.live, store.history, store.historyByKey, store.historyUnindexed, store.deferred].map((db) => db?.clearAsync()));
  } else {
    const mark: RestoreMark = { file: valid.file, started: new Date().toISOString() };
    await store.meta.put(RESTORE_MARK, mark);
  }
  let seq = (store.meta.get('seq') as number | undefined) ?? 0;
  for await (const chunk of readChunks(valid.file, limits, chunkSize, valid.counts, options.signatures)) {
    await store.root.transaction(() => {
      for (const row of chunk.rows) seq = write(store, row, seq);
    });
    report.lines = chunk.lines;
    report.chunks++;
    report.updates += chunk.rows.length;
    report.imported += chunk.rows.length;
    for (const row of chunk.rows) {
      if (row.kind === 'live') report.applied++;
      else if (row.kind === 'deferred') report.deferred++;
    }
    options.onProgress?.({ ...report, counts: { ...report.counts } });
    if (options.stopped?.() === true) {
      report.interrupted = 'import';
      await store.root.flushed;
      return report;
    }
  }
  await store.root.transaction(() => {
    store.meta.putSync('seq', seq);
    store.meta.removeSync(RESTORE_MARK);
  });
  await store.root.flushed;
  report.lines = valid.lines;
  return report;
}

/** Writes one row as exported; returns the next sequence number. */
function write(store: Store, row: ParsedRow, seq: number): number {
  const u = row.checked;
  const sig = u.sig === undefined ? {} : { g: u.sig };
  if (row.kind === 'live') {
    const live: LiveRow = { s: u.state, src: u.source, j: u.text, ...sig };
    store.live.putSync(u.key, live);
    return seq;
  }
  if (row.kind === 'history') {
    const h: HistoryRow = { k: u.key, src: u.source, j: u.text, o: row.outcome ?? 'applied', d: row.deferred === true, rx: row.rx ?? 0, ...sig };
    store.history.putSync([u.state, seq], h);
    store.historyByKey.putSync([u.key, u.state, seq], true);
    return seq + 1;
  }
  store.deferred.putSync([u.state, u.key, seq], { src: u.source, j: u.text, rx: row.rx ?? 0, ...sig });
  return seq + 1;
}
