import { readFileSync } from 'node:fs';
import type { Logger } from '../log.js';

/** hamsync's version (package.json; this file runs from dist/src/admin/). */
export const VERSION = ((): string => {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/** The last error a program logged: its message, code (when the log line has one) and time (ms). */
export interface LastError {
  message: string;
  code: string | null;
  at: number;
}

/**
 * What every status shows about the process: version, uptime, the last error logged. `track`
 * wraps a logger (and its children) so that its `error` lines are remembered.
 */
export class ProcessInfo {
  private last: LastError | null = null;
  private readonly started = Date.now();

  track(log: Logger): Logger {
    return {
      debug: (m, f) => log.debug(m, f),
      info: (m, f) => log.info(m, f),
      warn: (m, f) => log.warn(m, f),
      error: (m, f) => {
        const err = typeof f?.err === 'string' ? `: ${f.err}` : '';
        this.last = { message: `${m}${err}`.slice(0, 500), code: typeof f?.code === 'string' ? f.code : null, at: Date.now() };
        log.error(m, f);
      },
      child: (fields) => this.track(log.child(fields)),
    };
  }

  status(): { version: string; uptimeS: number; lastError: LastError | null } {
    return { version: VERSION, uptimeS: Math.round((Date.now() - this.started) / 1000), lastError: this.last };
  }
}
