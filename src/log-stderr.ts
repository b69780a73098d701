import { writeSync } from 'node:fs';
import { pino } from 'pino';

/** Most bytes of log lines waiting for stderr; past it, lines are dropped (and counted) rather than held. */
export const STDERR_BUFFER_BYTES = 8 * 1024 * 1024;
/**
 * Most bytes handed to one write(2), so that a burst drains in a few turns of the event loop
 * (sonic-boom's default, 16 KiB, drops lines after bursts of a thousand). Buffer mode: in text
 * mode sonic-boom measures the pending string on every line, which grows with this bound.
 */
const WRITE_BYTES = 1024 * 1024;

export interface StderrSink {
  write(line: string): void;
  /** Lines dropped because stderr did not keep up and the buffer was full. */
  readonly dropped: number;
  /** Writes that found stderr full (EAGAIN) and were retried after a pause. */
  readonly retried: number;
  /** Resolves true once every line handed over is written, false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean>;
}

/**
 * A pipe or socket on stderr (a test's pipe; systemd's journal stream once Node has touched it)
 * may be non-blocking: a write to it when full fails with EAGAIN, which sonic-boom retries only
 * after 100 ms, so a pipe drained at once would still move 64 KiB per 100 ms. Made blocking, the
 * write waits in libuv's thread pool instead, off the event loop. (`setBlocking` is what Node
 * itself uses for its stdio handles; a file on stderr has no handle and needs nothing.)
 */
function blockingStderr(): void {
  const handle = (process.stderr as unknown as { _handle?: { setBlocking?: (on: boolean) => number } })._handle;
  handle?.setBlocking?.(true);
}

let shared: StderrSink | undefined;

/** Whether the stderr destination exists (a logger has written to it). */
export function stderrStarted(): boolean {
  return shared !== undefined;
}

/**
 * The one asynchronous stderr destination of the process (pino's sonic-boom, `sync: false`):
 * a log call queues its line and returns, the write happens off the event loop. At most
 * STDERR_BUFFER_BYTES wait; past that lines are dropped and, once stderr drains, counted in a
 * warning line. pino registers the destination for a synchronous flush on process exit
 * (`process.exit`, the end of the event loop, an uncaught exception), so the lines logged just
 * before a stop are written. That flush cannot wait for a write already under way in the thread
 * pool: a chunk of it may be lost or cut in two, which is why our own exits first wait for
 * `drained` (flushLogs in log.ts). Once the
 * destination has ended (at `beforeExit`), later lines are written synchronously.
 */
export function stderrSink(): StderrSink {
  if (shared) return shared;
  blockingStderr();
  let retried = 0;
  const dest = pino.destination({
    dest: 2, sync: false, contentMode: 'buffer', maxLength: STDERR_BUFFER_BYTES, maxWrite: WRITE_BYTES,
    retryEAGAIN: () => {
      retried++;
      return true;
    },
  });
  let pending = 0; // bytes handed over and not yet written
  const waiters = new Set<() => void>();
  // In buffer mode sonic-boom takes Buffers (its types say strings).
  const put = (text: string): void => {
    const bytes = Buffer.from(text);
    pending += bytes.length;
    (dest as unknown as { write(b: Buffer): boolean }).write(bytes);
  };
  let dropped = 0;
  let reported = 0;
  dest.on('drop', (bytes: Buffer) => {
    dropped++;
    pending -= bytes.length;
  });
  dest.on('write', (n: number) => {
    pending -= n;
    if (pending <= 0) for (const wake of waiters) wake();
  });
  // Once stderr has caught up, one line says how many lines it lost.
  dest.on('drain', () => {
    if (dropped === reported) return;
    const lost = dropped - reported;
    reported = dropped;
    put(`${JSON.stringify({ level: 'warn', time: new Date().toISOString(), msg: 'log lines dropped: stderr did not keep up', dropped: lost })}\n`);
  });
  shared = {
    write(line) {
      try {
        put(line);
      } catch {
        writeSync(2, line); // the destination has ended (a line logged after beforeExit)
      }
    },
    get dropped() {
      return dropped;
    },
    get retried() {
      return retried;
    },
    drained(timeoutMs) {
      if (pending <= 0) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean): void => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(ok);
        };
        const wake = (): void => done(true);
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(wake);
      });
    },
  };
  return shared;
}
