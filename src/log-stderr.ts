import { writeSync } from 'node:fs';
import { pino } from 'pino';

/** Most bytes of log lines waiting for stderr; past it, lines are dropped (and counted) rather than held. */
export const STDERR_BUFFER_BYTES = 8 * 1024 * 1024;

export interface StderrSink {
  write(line: string): void;
  /** Lines dropped because stderr did not keep up and the buffer was full. */
  readonly dropped: number;
}

let shared: StderrSink | undefined;

/**
 * The one asynchronous stderr destination of the process (pino's sonic-boom, `sync: false`):
 * a log call queues its line and returns, the write happens off the event loop. At most
 * STDERR_BUFFER_BYTES wait; past that lines are dropped and, once stderr drains, counted in a
 * warning line. pino registers
 * the destination for a synchronous flush on process exit (`process.exit`, the end of the event
 * loop, an uncaught exception), so the lines logged just before a stop are written. Once the
 * destination has ended (at `beforeExit`), later lines are written synchronously.
 */
export function stderrSink(): StderrSink {
  if (shared) return shared;
  const dest = pino.destination({ dest: 2, sync: false, maxLength: STDERR_BUFFER_BYTES });
  let dropped = 0;
  let reported = 0;
  dest.on('drop', () => {
    dropped++;
  });
  // Once stderr has caught up, one line says how many lines it lost.
  dest.on('drain', () => {
    if (dropped === reported) return;
    const lost = dropped - reported;
    reported = dropped;
    dest.write(`${JSON.stringify({ level: 'warn', time: new Date().toISOString(), msg: 'log lines dropped: stderr did not keep up', dropped: lost })}\n`);
  });
  shared = {
    write(line) {
      try {
        dest.write(line);
      } catch {
        writeSync(2, line); // the destination has ended (a line logged after beforeExit)
      }
    },
    get dropped() {
      return dropped;
    },
  };
  return shared;
}
