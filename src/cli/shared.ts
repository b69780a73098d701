import type { Argv } from 'yargs';
import { loadConfigFile } from '../config/load.js';
import { checksOf, envOf, yargsOptions, type Merged, type OptionTable } from '../config/option-table.js';
import { assertLevel, createLogger, flushLogs, type Logger } from '../log.js';

export { defaultDataDir } from '../config/shared-options.js';

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
 * A server command's options from its table (src/config/*-options.ts): the flags, `--config
 * FILE` (YAML or JSON) checked against the table, and env vars `HAMSYNC_<KEY>`.
 * Precedence: command line > environment > config file > defaults.
 */
export function withOptions<T, O extends OptionTable>(y: Argv<T>, table: O): Argv<T & Merged<O>> {
  // yargs would take every HAMSYNC_* variable as an option (and strict mode would refuse the
  // unknown ones, e.g. another command's): keep only this command's.
  const known = new Set(['config', ...Object.keys(table)].map(envOf));
  for (const name of Object.keys(process.env)) if (name.startsWith('HAMSYNC_') && !known.has(name)) delete process.env[name];
  const { 'log-level': logLevel, ...rest } = yargsOptions(table);
  return (logLevel ? y.option('log-level', logLevel) : y)
    .config('config', 'YAML or JSON config file (see docs/configuration.md); flags and HAMSYNC_* env vars override it', (path: string) => loadConfigFile(path, checksOf(table)))
    .env('HAMSYNC')
    .options(rest) as unknown as Argv<T & Merged<O>>;
}
