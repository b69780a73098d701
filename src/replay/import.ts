import fs from 'node:fs';
import { HamsyncError, describe, isHamsyncError, type ErrorCode } from '../errors.js';
import type { Clock } from '../ham/clock.js';
import { assertState } from '../ham/decide.js';
import type { Json } from '../ham/lexical.js';
import { resolveLimits, type Limits } from '../model/limits.js';
import { checkUpdate, type Update } from '../model/update.js';
import type { Outcome } from '../store/rows.js';
import { Replica } from '../sync/replica.js';
import { EXPORT_FORMAT, fileError, type ExportCounts } from './export.js';

export type RowKind = keyof ExportCounts;

export interface ImportOptions {
  /** Most updates handed to the replica in one `receive` (one transaction). Default 5000, capped at the replica's maxBatch. */
  chunk?: number;
  /** Called after each chunk is committed, with the totals so far. */
  onProgress?: (progress: ImportReport) => void;
}

/** What an import did. */
export interface ImportReport {
  file: string;
  /** Lines read, the header included. */
  lines: number;
  /** The header's counts (equal to the rows in the file: checked). */
  counts: ExportCounts;
  /** Rows handed to HAM. */
  updates: number;
  /** Rows that were new to the replica: written to history (and live, when they won) or to the deferred queue. */
  imported: number;
  /** Rows the replica already had exactly (same key, state, source and value): nothing written. */
  duplicates: number;
  /** New rows that changed the live view. */
  applied: number;
  /** New rows from the replica's future: waiting in its deferred queue. */
  deferred: number;
  /** Transactions (receive calls). */
  chunks: number;
}

/** Pass 1's result: the file is a complete, valid export. */
export interface ValidatedExport {
  file: string;
  lines: number;
  counts: ExportCounts;
}

const OUTCOMES: ReadonlySet<Outcome> = new Set<Outcome>(['applied', 'historical', 'tie-lost', 'same']);
const KINDS: ReadonlySet<string> = new Set<RowKind>(['live', 'history', 'deferred']);
/** A chunk is also cut when its lines add up to this many characters (bounds memory with large values). */
const CHUNK_CHARS = 16 * 1024 * 1024;
const READ_CHUNK = 256 * 1024;

/**
 * Pass 1: reads the whole file and checks every line (UTF-8, JSON, shape, and each row's key,
 * state, source and value under `limits`), and that the rows match the header's counts.
 * Throws the FIRST problem as a HamsyncError whose message starts `FILE:LINE: `, with code
 * HAMSYNC_ERR_PAYLOAD (not JSON, wrong shape, counts off) or the validation code
 * (HAMSYNC_ERR_KEY, _STATE, _SOURCE, _VALUE, _VALUE_TOO_LARGE); HAMSYNC_ERR_FILE when the file
 * cannot be read. `details` has `file` and `line`.
 */
export async function validateExport(file: string, limits: Limits): Promise<ValidatedExport> {
  const seen: ExportCounts = { live: 0, history: 0, deferred: 0 };
  let header: ExportCounts | undefined;
  let lines = 0;
  for await (const batch of readLines(file, maxLineBytes(limits))) {
    for (const line of batch) {
      lines = line.number;
      if (header === undefined) {
        header = parseHeader(file, line);
        continue;
      }
      const row = parseRow(file, line, limits);
      seen[row.kind]++;
    }
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
  const valid = await checkBeforeImport(file, replica.limits);
  return importChecked(replica, valid, chunkSize, options);
}

/** Pass 1, for an import: the file must not change while it is checked; errors say nothing was imported. */
async function checkBeforeImport(file: string, limits: Limits): Promise<ValidatedExport> {
  const before = await fileIdentity(file);
  let valid: ValidatedExport;
  try {
    valid = await validateExport(file, limits);
  } catch (err) {
    if (isHamsyncError(err) && err.code !== 'HAMSYNC_ERR_FILE') throw new HamsyncError(err.code, `${withoutCode(err)}; nothing was imported`, err.details);
    throw err;
  }
  const after = await fileIdentity(file);
  if (before !== after) throw new HamsyncError('HAMSYNC_ERR_FILE', `${file} changed while it was being checked; nothing was imported`, { file });
  return valid;
}

function chunkFor(options: ImportOptions, limits: Limits): number {
  return Math.min(positiveInt(options.chunk ?? 5000, 'chunk'), limits.maxBatch);
}

/** Pass 2. */
async function importChecked(replica: Replica, valid: ValidatedExport, chunkSize: number, options: ImportOptions): Promise<ImportReport> {
  const file = valid.file;
  const report: ImportReport = { file, lines: 0, counts: valid.counts, updates: 0, imported: 0, duplicates: 0, applied: 0, deferred: 0, chunks: 0 };
  const seen: ExportCounts = { live: 0, history: 0, deferred: 0 };
  let chunk: Update[] = [];
  let chars = 0;
  let durable: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const updates = chunk;
    chunk = [];
    chars = 0;
    const receipt = replica.receive(updates);
    report.chunks++;
    report.updates += updates.length;
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
  };

  let first = true;
  for await (const batch of readLines(file, maxLineBytes(replica.limits))) {
    for (const line of batch) {
      report.lines = line.number;
      if (first) {
        parseHeader(file, line);
        first = false;
        continue;
      }
      // Validated in pass 1; parsed again (and checked again by receive) in case the file changed.
      const row = parseRow(file, line, replica.limits);
      seen[row.kind]++;
      chunk.push(row.update);
      chars += line.text.length;
      if (chunk.length >= chunkSize || chars >= CHUNK_CHARS) await flush();
    }
  }
  await flush();
  await durable;
  await replica.flushed();
  checkCounts(file, report.lines, valid.counts, seen);
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
 * created), then opens the replica in `options.dataDir`, imports the file (pass 2, see
 * `importExport`) and closes the replica.
 */
export async function importFile(file: string, options: ImportFileOptions): Promise<ImportReport> {
  const limits = resolveLimits(options.limits);
  const chunkSize = chunkFor(options, limits);
  const valid = await checkBeforeImport(file, limits);
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
}

// ---------------------------------------------------------------------------------------------
// Lines

interface Line {
  /** 1-based. */
  number: number;
  text: string;
  /** False for a last line with no "\n" after it (a file cut short, perhaps). */
  terminated: boolean;
}

/** Longest line accepted: generous room for a maximal key and value, escaped, plus the fields. */
function maxLineBytes(limits: Limits): number {
  return 8 * (limits.maxValueBytes + limits.maxKeyBytes) + 4096;
}

/** Streams `file` as lines (split on "\n", a trailing "\r" dropped), strictly UTF-8, in batches. */
async function* readLines(file: string, maxBytes: number): AsyncGenerator<Line[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let parts: Buffer[] = [];
  let partBytes = 0;
  let number = 0;
  const decode = (buf: Buffer, terminated: boolean): Line => {
    number++;
    let end = buf.length;
    if (terminated && end > 0 && buf[end - 1] === 0x0d) end--;
    let text: string;
    try {
      text = decoder.decode(buf.subarray(0, end));
    } catch {
      throw lineError('HAMSYNC_ERR_PAYLOAD', file, number, 'not valid UTF-8');
    }
    return { number, text, terminated };
  };
  const tooLong = (): HamsyncError => lineError('HAMSYNC_ERR_PAYLOAD', file, number + 1, `line is longer than ${maxBytes} bytes: not a hamsync export, or corrupt`);
  let stream: fs.ReadStream;
  try {
    const handle = await fs.promises.open(file, 'r');
    stream = handle.createReadStream({ highWaterMark: READ_CHUNK });
  } catch (err) {
    throw fileError(file, 'read', err);
  }
  try {
    const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await iterator.next();
      } catch (err) {
        throw fileError(file, 'read', err);
      }
      if (next.done) break;
      const chunk = next.value;
      const out: Line[] = [];
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        if (partBytes + (nl - start) > maxBytes) throw tooLong();
        const piece = chunk.subarray(start, nl);
        const buf = partBytes === 0 ? piece : Buffer.concat([...parts, piece]);
        parts = [];
        partBytes = 0;
        out.push(decode(buf, true));
        start = nl + 1;
      }
      if (start < chunk.length) {
        if (partBytes + (chunk.length - start) > maxBytes) throw tooLong();
        // Copy: the stream may reuse its buffer.
        parts.push(Buffer.from(chunk.subarray(start)));
        partBytes += chunk.length - start;
      }
      if (out.length > 0) yield out;
    }
    if (partBytes > 0) yield [decode(Buffer.concat(parts), false)];
  } finally {
    stream.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Rows

function parseHeader(file: string, line: Line): ExportCounts {
  const h = parseObject(file, line);
  if (h.hamsync !== 'export') throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, 'not a hamsync export: the first line must be the header {"hamsync":"export",...}');
  if (h.format !== EXPORT_FORMAT) {
    throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `export format ${describe(h.format)} is not supported; this hamsync reads format ${EXPORT_FORMAT}`);
  }
  const c = h.counts as Record<string, unknown> | null | undefined;
  const counts = { live: c?.live, history: c?.history, deferred: c?.deferred };
  for (const [name, n] of Object.entries(counts)) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `header counts.${name} must be a whole number, got ${describe(n)}`);
    }
  }
  return counts as ExportCounts;
}

function parseRow(file: string, line: Line, limits: Limits): { kind: RowKind; update: Update } {
  const o = parseObject(file, line);
  const t = o.t;
  if (typeof t !== 'string' || !KINDS.has(t)) {
    throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `"t" must be "live", "history" or "deferred", got ${describe(t)}`);
  }
  const kind = t as RowKind;
  for (const field of ['k', 'v', 's', 'src']) {
    if (!(field in o)) throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `${kind} row has no "${field}"`);
  }
  const update: Update = { key: o.k as string, value: o.v as Json, state: o.s as number, source: o.src as string };
  try {
    assertState(o.s, '"s" (state)');
    checkUpdate(update, limits, line.number);
  } catch (err) {
    if (isHamsyncError(err)) throw lineError(err.code, file, line.number, withoutCode(err), err.details);
    throw err;
  }
  if (kind === 'history') {
    if (typeof o.outcome !== 'string' || !OUTCOMES.has(o.outcome as Outcome)) {
      throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `history row "outcome" must be applied, historical, tie-lost or same, got ${describe(o.outcome)}`);
    }
    if (typeof o.deferred !== 'boolean') throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `history row "deferred" must be true or false, got ${describe(o.deferred)}`);
  }
  if (kind !== 'live' && (typeof o.rx !== 'number' || !Number.isFinite(o.rx))) {
    throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `${kind} row "rx" must be a finite number, got ${describe(o.rx)}`);
  }
  return { kind, update };
}

function parseObject(file: string, line: Line): Record<string, unknown> {
  if (line.text.trim() === '') throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, 'empty line');
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch (err) {
    const cut = line.terminated ? '' : ' (the file ends inside this line: cut short?)';
    throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `not valid JSON: ${(err as Error).message}${cut}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw lineError('HAMSYNC_ERR_PAYLOAD', file, line.number, `each line must be a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function checkCounts(file: string, lines: number, header: ExportCounts, seen: ExportCounts): void {
  if (seen.live === header.live && seen.history === header.history && seen.deferred === header.deferred) return;
  const fmt = (c: ExportCounts): string => `${c.live} live, ${c.history} history, ${c.deferred} deferred`;
  const short = seen.live + seen.history + seen.deferred < header.live + header.history + header.deferred;
  throw lineError(
    'HAMSYNC_ERR_PAYLOAD',
    file,
    lines + 1,
    `the header promises ${fmt(header)} rows, the file has ${fmt(seen)}${short ? ': the file was cut short' : ': the file was edited'}`,
  );
}

function lineError(code: ErrorCode, file: string, line: number, message: string, details: Readonly<Record<string, unknown>> = {}): HamsyncError {
  return new HamsyncError(code, `${file}:${line}: ${message}`, { ...details, file, line });
}

/** A HamsyncError's message without its "CODE: " prefix. */
function withoutCode(err: HamsyncError): string {
  const prefix = `${err.code}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

function positiveInt(n: unknown, field: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be a positive integer, got ${describe(n)}`, { field });
  return n;
}

async function fileIdentity(file: string): Promise<string> {
  try {
    const s = await fs.promises.stat(file);
    if (!s.isFile()) throw Object.assign(new Error('not a regular file (an import reads the file twice)'), { code: 'EINVAL' });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch (err) {
    throw fileError(file, 'read', err);
  }
}
