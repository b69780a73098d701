import type { Argv } from 'yargs';
import { loadConfigFile } from '../config/load.js';
import type { Check } from '../config/schema.js';
import { assertLevel, createLogger, flushLogs, type Logger } from '../log.js';

/** Where data lives when --data-dir is not given: systemd's StateDirectory, else ./hamsync-data. */
export function defaultDataDir(): string {
  return process.env.STATE_DIRECTORY?.split(':')[0] ?? './hamsync-data';
}

export function withLogLevel<T>(y: Argv<T>) {
  return y.option('log-level', { type: 'string', default: process.env.HAMSYNC_LOG_LEVEL ?? 'info', describe: 'debug, info, warn, error or silent (JSON lines on stderr)' });
}

export function loggerFor(level: unknown, base: Record<string, unknown>): Logger {
  assertLevel(level);
  return createLogger(level, base);
}

/** Exits once the log lines are written (at most 2 s later). */
function exitAfterLogs(code: number): void {
  void flushLogs().finally(() => process.exit(code));
}

/** Runs until SIGTERM or SIGINT, then stops cleanly and exits 0 (1 if stopping failed or took over 10 s). */
export function stopOnSignal(stop: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const onSignal = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('signal received, stopping', { signal });
    const force = setTimeout(() => {
      log.error('stop took over 10 s; exiting');
      exitAfterLogs(1);
    }, 10_000);
    force.unref();
    stop().then(
      () => exitAfterLogs(0),
      (err: Error) => {
        log.error('stop failed', { err });
        exitAfterLogs(1);
      },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

/**
 * `--config FILE` (YAML or JSON) and env vars `HAMSYNC_<KEY>` for a server command.
 * Precedence: command line > environment > config file > defaults.
 */
export function withConfig<T>(y: Argv<T>, schema: Record<string, Check>) {
  // yargs would take every HAMSYNC_* variable as an option (and strict mode would refuse the
  // unknown ones, e.g. another command's): keep only this command's.
  const known = new Set(['config', ...Object.keys(schema)].map((k) => `HAMSYNC_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`));
  for (const name of Object.keys(process.env)) if (name.startsWith('HAMSYNC_') && !known.has(name)) delete process.env[name];
  return y
    .config('config', 'YAML or JSON config file (see README "Configuration"); flags and HAMSYNC_* env vars override it', (path: string) => loadConfigFile(path, schema))
    .env('HAMSYNC');
}
