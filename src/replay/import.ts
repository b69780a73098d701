import { HamsyncError, isHamsyncError } from '../errors.js';
import type { Clock } from '../ham/clock.js';
import { resolveLimits, type Limits } from '../model/limits.js';
import { lockDataDir } from '../store/lock.js';
import { openStore } from '../store/open.js';
import { Replica } from '../sync/replica.js';
import type { ExportCounts } from './export.js';
import type { ImportOptions, ImportReport, ValidatedExport } from './import-types.js';
import { checkNumber, POSITIVE_INT } from '../util/check.js';
import { readChunks, verifyRows, type SignedRow, type SignatureCheck } from './import-chunks.js';
import { maxLineBytes, readLines, parseHeader, parseRow, checkCounts, lineError, withoutCode, fileIdentity } from './import-lines.js';
import { emptyReport, isEmpty, restoreChecked } from './restore.js';
export type { RowKind } from './import-lines.js';

export type { ImportOptions, ImportReport, ValidatedExport } from './import-types.js';

/**
 * Pass 1: reads the whole file and checks every line (UTF-8, JSON, shape, and each row's key,
 * state, source and value under `limits`), and that the rows match the header's counts.
 * Throws the FIRST problem as a HamsyncError whose message starts `FILE:LINE: `, with code
 * HAMSYNC_ERR_PAYLOAD (not JSON, wrong shape, counts off) or the validation code
 * (HAMSYNC_ERR_KEY, _STATE, _SOURCE, _VALUE, _VALUE_TOO_LARGE; _SIGNATURE for a malformed
 * signature, or one refused when `signatures` are checked); HAMSYNC_ERR_FILE when the file
 * cannot be read. `details` has `file` and `line`.
 */
export async function validateExport(file: string, limits: Limits, signatures?: SignatureCheck, stopped?: () => boolean): Promise<ValidatedExport> {
  const seen: ExportCounts = { live: 0, history: 0, deferred: 0 };
  let header: ExportCounts | undefined;
  let lines = 0;
  for await (const batch of readLines(file, maxLineBytes(limits))) {
    const rows: SignedRow[] = [];
    for (const line of batch) {
      lines = line.number;
      if (header === undefined) {
        header = parseHeader(file, line);
        continue;
      }
      const row = parseRow(file, line, limits);
      seen[row.kind]++;
      if (signatures) rows.push({ checked: row.checked, line: line.number });
    }
    if (signatures) await verifyRows(file, rows, signatures);
    if (stopped?.() === true) throw new Stopped();
  }
  if (header === undefined) throw lineError('HAMSYNC_ERR_PAYLOAD', file, 1, 'the file is empty: not a hamsync export');
  checkCounts(file, lines, header, seen);
  return { file, lines, counts: header };
}

/**
 * Imports an export file into `replica` through HAM, with the replica's own clock: exact
 * duplicates add nothing, rows older than the replica's live values go to history, rows from
 * its future are deferred. Idempotent: an interrupted import can simply be run again.
 *
 * Pass 1 validates the whole file (see `validateExport`); if anything is wrong nothing is
 * imported and the error names the line. Pass 2 reads it again and hands the rows to
 * `replica.receive` in chunks (one transaction each, waiting for each commit), then waits until
 * everything is flushed to disk. Rows are imported in file order: live, history, deferred.
 */
export async function importExport(replica: Replica, file: string, options: ImportOptions = {}): Promise<ImportReport> {
  const chunkSize = chunkFor(options, replica.limits);
  const valid = await checkBeforeImport(file, replica.limits, options.signatures, options.stopped);
  if (valid === undefined) return { ...emptyReport({ file, lines: 0, counts: { live: 0, history: 0, deferred: 0 } }, 'merge'), interrupted: 'check' };
  return importChecked(replica, valid, chunkSize, options);
}

/** Pass 1 was stopped (`ImportOptions.stopped`). */
class Stopped extends Error {}

/** Pass 1, for an import: the file must not change while it is checked; errors say nothing was imported. Undefined: stopped. */
async function checkBeforeImport(file: string, limits: Limits, signatures?: SignatureCheck, stopped?: () => boolean): Promise<ValidatedExport | undefined> {
  const before = await fileIdentity(file);
  let valid: ValidatedExport;
  try {
    valid = await validateExport(file, limits, signatures, stopped);
  } catch (err) {
    if (err instanceof Stopped) return undefined;
    if (isHamsyncError(err) && err.code !== 'HAMSYNC_ERR_FILE') throw new HamsyncError(err.code, `${withoutCode(err)}; nothing was imported`, err.details);
    throw err;
  }
  const after = await fileIdentity(file);
  if (before !== after) throw new HamsyncError('HAMSYNC_ERR_FILE', `${file} changed while it was being checked; nothing was imported`, { file });
  return valid;
}

function chunkFor(options: ImportOptions, limits: Limits): number {
  return Math.min(checkNumber(options.chunk ?? 5000, 'chunk', POSITIVE_INT), limits.maxBatch);
}

/** Pass 2, merging through HAM. */
async function importChecked(replica: Replica, valid: ValidatedExport, chunkSize: number, options: ImportOptions): Promise<ImportReport> {
  const report = emptyReport(valid, 'merge');
  let durable: Promise<void> = Promise.resolve();
  for await (const chunk of readChunks(valid.file, replica.limits, chunkSize, valid.counts, options.signatures)) {
    const receipt = replica.receive(chunk.rows.map((r) => r.update));
    report.lines = chunk.lines;
    report.chunks++;
    report.updates += chunk.rows.length;
    for (const r of receipt.results) {
      if (r.duplicate) {
        report.duplicates++;
        continue;
      }
      report.imported++;
      if (r.decision === 'apply') report.applied++;
      else if (r.decision === 'defer') report.deferred++;
    }
    durable = receipt.durable;
    await receipt.committed;
    options.onProgress?.({ ...report, counts: { ...report.counts } });
    if (options.stopped?.() === true) {
      report.interrupted = 'import';
      break;
    }
  }
  await durable;
  await replica.flushed();
  if (report.interrupted === undefined) report.lines = valid.lines;
  return report;
}

export interface ImportFileOptions extends ImportOptions {
  /** The importing replica's data directory (created if missing). Must not be in use by a running daemon. */
  dataDir: string;
  /** The importing replica's clock. Default: the wall clock with `clockOffsetMs`, as the daemon uses. */
  clock?: Clock;
  /** Offset for the default wall clock, in ms (use the daemon's --clock-offset). Default 0. */
  clockOffsetMs?: number;
  /** Rate error of the default wall clock in ppm (use the daemon's clockDriftPpm). Default 0. */
  clockDriftPpm?: number;
  /** Bounds on keys, values and batches; default the replica's defaults. */
  limits?: Partial<Limits>;
}

/**
 * Checks `file` (pass 1: on any problem nothing is imported and the data dir is not even
 * created), then takes the data directory's lock (HAMSYNC_ERR_LOCKED while a daemon, broker or
 * another import uses it) and imports the file (pass 2):
 * - into an EMPTY data directory (no live, history, deferred, quarantined or queued rows) as a
 *   restore: every row is written as exported, so `hamsync replay` gives the same rows, outcomes,
 *   deferred flags and receive times (src/replay/restore.ts);
 * - into one that has data, as a merge through HAM with its own clock (see `importExport`).
 * Either way an interrupted import can be run again; see docs/data-dir.md.
 */
export async function importFile(file: string, options: ImportFileOptions): Promise<ImportReport> {
  const limits = resolveLimits(options.limits);
  const chunkSize = chunkFor(options, limits);
  const valid = await checkBeforeImport(file, limits, options.signatures, options.stopped);
  if (valid === undefined) return { ...emptyReport({ file, lines: 0, counts: { live: 0, history: 0, deferred: 0 } }, 'merge'), interrupted: 'check' };
  const lock = lockDataDir(options.dataDir, 'import');
  try {
    const store = openStore(options.dataDir, {});
    try {
      if (isEmpty(store)) return await restoreChecked(store, valid, limits, chunkSize, options);
    } finally {
      await store.root.close();
    }
    const replica = await Replica.open({
      dataDir: options.dataDir,
      limits,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.clockOffsetMs === undefined ? {} : { clockOffsetMs: options.clockOffsetMs }),
      ...(options.clockDriftPpm === undefined ? {} : { clockDriftPpm: options.clockDriftPpm }),
    });
    try {
      return await importChecked(replica, valid, chunkSize, options);
    } finally {
      await replica.close();
    }
  } finally {
    lock.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Lines
