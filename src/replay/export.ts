import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { HamsyncError } from '../errors.js';
import { openStore, type Store } from '../store/open.js';

/**
 * The portable export format (NDJSON, UTF-8, one JSON object per line, "\n" after every line):
 *
 *     {"hamsync":"export","format":1,"created":"<ISO time>","counts":{"live":N,"history":N,"deferred":N}}
 *     {"t":"live","k":KEY,"v":VALUE,"s":STATE,"src":SOURCE}                                  (live rows, in key order)
 *     {"t":"history","k":..,"v":..,"s":..,"src":..,"outcome":O,"deferred":BOOL,"rx":MS}     (history, oldest state first)
 *     {"t":"deferred","k":..,"v":..,"s":..,"src":..,"rx":MS}                                 (deferred, earliest first)
 *
 * Each row also has `"g"` (after its other fields) when the update was stored with a signature
 * (its source's Ed25519 signature, src/sign): an import keeps it, so peers can still verify it.
 *
 * `v` is the value's stored canonical JSON text, written as is. The header's counts are exactly
 * the number of lines of each kind that follow: an import checks them, so a file cut short at a
 * line boundary is refused too.
 */
export const EXPORT_FORMAT = 1;

export interface ExportCounts {
  live: number;
  history: number;
  deferred: number;
}

export interface ExportHeader {
  hamsync: 'export';
  format: typeof EXPORT_FORMAT;
  created: string;
  counts: ExportCounts;
}

export interface ExportOptions {
  /** The header's `created` time. Default: now. */
  created?: Date;
  /** Bytes gathered before one write to the output. Default 64 KiB. */
  writeChunk?: number;
}

/**
 * Writes every live, history and deferred row of `store` to `out`, from one consistent
 * snapshot (an LMDB read transaction, held until the end), waiting for `out` to drain whenever
 * it asks to (nothing is buffered beyond one write chunk). Does not end `out`.
 * Rejects with HAMSYNC_ERR_FILE when `out` fails (disk full, broken pipe).
 */
export async function exportStore(store: Store, out: Writable, options: ExportOptions = {}): Promise<ExportCounts> {
  const writer = new LineWriter(out, options.writeChunk ?? 64 * 1024);
  const transaction = store.root.useReadTransaction();
  try {
    const counts: ExportCounts = {
      live: store.live.getCount({ transaction }),
      history: store.history.getCount({ transaction }),
      deferred: store.deferred.getCount({ transaction }),
    };
    const header: ExportHeader = { hamsync: 'export', format: EXPORT_FORMAT, created: (options.created ?? new Date()).toISOString(), counts };
    await writer.line(JSON.stringify(header));
    const seen: ExportCounts = { live: 0, history: 0, deferred: 0 };
    for (const { key, value } of store.live.getRange({ transaction })) {
      seen.live++;
      await writer.line(`{"t":"live","k":${JSON.stringify(key)},"v":${value.j},"s":${num(value.s)},"src":${JSON.stringify(value.src)}${g(value.g)}}`);
    }
    for (const { key, value } of store.history.getRange({ transaction })) {
      seen.history++;
      await writer.line(
        `{"t":"history","k":${JSON.stringify(value.k)},"v":${value.j},"s":${num(key[0])},"src":${JSON.stringify(value.src)},"outcome":${JSON.stringify(value.o)},"deferred":${value.d === true},"rx":${num(value.rx)}${g(value.g)}}`,
      );
    }
    for (const { key, value } of store.deferred.getRange({ transaction })) {
      seen.deferred++;
      await writer.line(`{"t":"deferred","k":${JSON.stringify(key[1])},"v":${value.j},"s":${num(key[0])},"src":${JSON.stringify(value.src)},"rx":${num(value.rx)}${g(value.g)}}`);
    }
    await writer.flush();
    if (seen.live !== counts.live || seen.history !== counts.history || seen.deferred !== counts.deferred) {
      // Cannot happen within one read transaction; if it does, the file's header would lie.
      throw new HamsyncError('HAMSYNC_ERR_STORE', `the store changed under the export snapshot (counted ${JSON.stringify(counts)}, read ${JSON.stringify(seen)})`);
    }
    return counts;
  } finally {
    transaction.done();
    writer.release();
  }
}

/** Opens `dataDir` read-only (fine beside a running daemon), exports it to `out` (not ended), closes it. */
export async function exportDataDir(dataDir: string, out: Writable, options: ExportOptions = {}): Promise<ExportCounts> {
  const store = openStore(dataDir, { readOnly: true });
  try {
    return await exportStore(store, out, options);
  } finally {
    await store.root.close();
  }
}

/**
 * Exports `dataDir` to `file`: written to a temporary file beside it, synced, then renamed over
 * `file`, so `file` is either the previous content or a complete export, never a partial one.
 */
export async function exportToFile(dataDir: string, file: string, options: ExportOptions = {}): Promise<ExportCounts> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.partial`);
  let stream: fs.WriteStream;
  try {
    stream = fs.createWriteStream(tmp, { flags: 'wx' });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (err) {
    throw fileError(file, 'write', err);
  }
  try {
    const counts = await exportDataDir(dataDir, stream, options);
    stream.end();
    await finished(stream);
    const fh = await fs.promises.open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
    return counts;
  } catch (err) {
    stream.destroy();
    await fs.promises.rm(tmp, { force: true });
    throw err instanceof HamsyncError ? err : fileError(file, 'write', err);
  }
}

export function fileError(file: string, verb: 'read' | 'write', err: unknown): HamsyncError {
  const e = err as NodeJS.ErrnoException;
  return new HamsyncError('HAMSYNC_ERR_FILE', `cannot ${verb} ${file}: ${errnoText(e)}`, { file, errno: e.code });
}

/** "ENOSPC: no space left on device", without repeating a code the message already has. */
function errnoText(e: NodeJS.ErrnoException): string {
  return e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
}

/** `,"g":…` for a signed row, else nothing. */
function g(sig: string | undefined): string {
  return sig === undefined ? '' : `,"g":${JSON.stringify(sig)}`;
}

function num(n: number): string {
  // Stored states and receive times are finite; JSON.stringify gives the shortest exact form.
  return JSON.stringify(n === 0 ? 0 : n);
}

/**
 * Gathers lines into chunks of about `chunk` bytes and writes them, waiting for 'drain' when the
 * stream's buffer is full. An error the stream emits at any time fails the next write.
 */
class LineWriter {
  private buf = '';
  private failure: Error | undefined;
  private readonly onError = (err: Error): void => {
    this.failure ??= err;
  };

  constructor(
    private readonly out: Writable,
    private readonly chunk: number,
  ) {
    out.on('error', this.onError);
  }

  async line(text: string): Promise<void> {
    this.buf += `${text}\n`;
    if (this.buf.length >= this.chunk) await this.flush();
  }

  async flush(): Promise<void> {
    this.check();
    if (this.buf.length === 0) return;
    const data = this.buf;
    this.buf = '';
    if (this.out.destroyed || this.out.writableEnded) throw this.outputError(new Error('the output was closed'));
    if (!this.out.write(data)) await this.drain();
    this.check();
  }

  release(): void {
    this.out.off('error', this.onError);
  }

  private drain(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        this.out.off('drain', onDrain);
        this.out.off('error', onFail);
        this.out.off('close', onClose);
        if (err) reject(this.outputError(err));
        else resolve();
      };
      const onDrain = (): void => done();
      const onFail = (err: Error): void => done(err);
      const onClose = (): void => done(this.failure ?? new Error('the output was closed'));
      this.out.on('drain', onDrain);
      this.out.on('error', onFail);
      this.out.on('close', onClose);
    });
  }

  private check(): void {
    if (this.failure) throw this.outputError(this.failure);
  }

  private outputError(err: Error): HamsyncError {
    const e = err as NodeJS.ErrnoException;
    return new HamsyncError('HAMSYNC_ERR_FILE', `cannot write the export: ${errnoText(e)}`, { errno: e.code });
  }
}
