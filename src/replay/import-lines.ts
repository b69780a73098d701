import fs from 'node:fs';
import { HamsyncError, describe, isHamsyncError, type ErrorCode } from '../errors.js';
import { assertState } from '../ham/decide.js';
import type { Json } from '../ham/lexical.js';
import { type Limits } from '../model/limits.js';
import { checkUpdate, type CheckedUpdate, type Update } from '../model/update.js';
import type { Outcome } from '../store/rows.js';
import { EXPORT_FORMAT, fileError, type ExportCounts } from './export.js';


// Reading and checking the lines of an export file (see import.ts for the two passes).

export type RowKind = keyof ExportCounts;
export const OUTCOMES: ReadonlySet<Outcome> = new Set<Outcome>(['applied', 'historical', 'tie-lost', 'same']);
export const KINDS: ReadonlySet<string> = new Set<RowKind>(['live', 'history', 'deferred']);
export const READ_CHUNK = 256 * 1024;

export interface Line {
  /** 1-based. */
  number: number;
  text: string;
  /** False for a last line with no "\n" after it (a file cut short, perhaps). */
  terminated: boolean;
}

/** Longest line accepted: generous room for a maximal key and value, escaped, plus the fields. */
export function maxLineBytes(limits: Limits): number {
  return 8 * (limits.maxValueBytes + limits.maxKeyBytes) + 4096;
}

/** Streams `file` as lines (split on "\n", a trailing "\r" dropped), strictly UTF-8, in batches. */
export async function* readLines(file: string, maxBytes: number): AsyncGenerator<Line[]> {
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

export function parseHeader(file: string, line: Line): ExportCounts {
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

/** One row of an export, checked: the update, and what a history or deferred row records about it. */
export interface ParsedRow {
  kind: RowKind;
  update: Update;
  checked: CheckedUpdate;
  /** History rows: the outcome and deferred flag recorded when it was resolved. */
  outcome?: Outcome;
  deferred?: boolean;
  /** History and deferred rows: when the exporting replica received it. */
  rx?: number;
}

export function parseRow(file: string, line: Line, limits: Limits): ParsedRow {
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
  // A signature is carried through (its form checked by checkUpdate; verified only with keys: import.ts).
  if (Object.hasOwn(o, 'g')) update.sig = o.g as string;
  let checked: CheckedUpdate;
  try {
    assertState(o.s, '"s" (state)');
    checked = checkUpdate(update, limits, line.number);
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
  if (kind === 'live') return { kind, update, checked };
  const rx = o.rx as number;
  return kind === 'history' ? { kind, update, checked, outcome: o.outcome as Outcome, deferred: o.deferred as boolean, rx } : { kind, update, checked, rx };
}

export function parseObject(file: string, line: Line): Record<string, unknown> {
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

export function checkCounts(file: string, lines: number, header: ExportCounts, seen: ExportCounts): void {
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

export function lineError(code: ErrorCode, file: string, line: number, message: string, details: Readonly<Record<string, unknown>> = {}): HamsyncError {
  return new HamsyncError(code, `${file}:${line}: ${message}`, { ...details, file, line });
}

/** A HamsyncError's message without its "CODE: " prefix. */
export function withoutCode(err: HamsyncError): string {
  const prefix = `${err.code}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

export async function fileIdentity(file: string): Promise<string> {
  try {
    const s = await fs.promises.stat(file);
    if (!s.isFile()) throw Object.assign(new Error('not a regular file (an import reads the file twice)'), { code: 'EINVAL' });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch (err) {
    throw fileError(file, 'read', err);
  }
}
