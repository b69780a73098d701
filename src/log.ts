import { pino, type Logger as Pino } from 'pino';
import { HamsyncError, describe } from './errors.js';
import { stderrSink, stderrStarted } from './log-stderr.js';

export type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error', 'silent'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function assertLevel(level: unknown): asserts level is Level {
  if (typeof level !== 'string' || !(LEVELS as readonly string[]).includes(level)) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `logLevel must be one of ${LEVELS.join(', ')}, got ${describe(level)}`, { field: 'logLevel' });
  }
}

/**
 * Fields whose values never reach a log line (written as "[Redacted]"): the MQTT password,
 * a users file's salts and hashes, private keys and signing key settings, a TLS key, HTTP
 * credentials; at the top level of a line's fields and in the objects hamsync names so.
 * `key` alone is not among them: in hamsync it names a state key. Explicit paths only:
 * pino's wildcard paths (`*.password`) cost about 8x on every line.
 */
export const REDACTED_FIELDS: readonly string[] = [
  'password', 'passphrase', 'secret', 'token', 'privateKey', 'signingKey', 'tlsKey', 'authorization', 'cookie', 'salt', 'hash',
  'options.password', 'config.password', 'auth.password', 'tls.key', 'signing.privateKey', 'user.salt', 'user.hash',
  'headers.authorization', 'headers.cookie', 'req.headers.authorization', 'req.headers.cookie',
];

/** Fields holding Error objects become `{ type, message, stack, code, ... }` (JSON would give `{}`). */
function errorsToObjects(fields: Record<string, unknown>): Record<string, unknown> {
  for (const name in fields) {
    const value = fields[name];
    if (value instanceof Error) fields[name] = pino.stdSerializers.err(value);
  }
  return fields;
}

function pinoLogger(level: Level, base: Record<string, unknown>, write: (line: string) => void): Pino {
  return pino(
    {
      level,
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: errorsToObjects },
      // errorsToObjects already did `err`; pino's own err serializer would serialize it twice.
      serializers: { err: (value: unknown) => value },
      redact: { paths: [...REDACTED_FIELDS] },
    },
    { write },
  );
}

function noop(): void {}

function wrap(p: Pino): Logger {
  // The message goes first among the fields, so a line reads `level, time, context, msg, fields`
  // (pino would put it last). Disabled levels are no-ops that build nothing.
  const at = (lvl: 'debug' | 'info' | 'warn' | 'error') => (p.isLevelEnabled(lvl) ? (msg: string, fields?: Record<string, unknown>) => p[lvl]({ msg, ...fields }) : noop);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (fields) => wrap(p.child(fields)) };
}

/**
 * Structured logs on pino: one JSON object per line, `level` as its name ("info"), `time` in
 * ISO 8601, the logger's context (`base`, then each child's fields), `msg`, then the call's
 * fields; journald keeps it as is and `jq` reads it. Errors keep their stack and code, secret
 * fields are redacted (REDACTED_FIELDS). Writes to stderr asynchronously, flushed on exit,
 * unless `write` is given: then each line is handed to it at once.
 */
export function createLogger(level: Level = 'info', base: Record<string, unknown> = {}, write?: (line: string) => void): Logger {
  const sink = write ?? ((line: string) => stderrSink().write(line));
  return wrap(pinoLogger(level, base, sink));
}

export const silentLogger: Logger = createLogger('silent');

/**
 * Waits (at most `timeoutMs`) until the default logger's lines are written to stderr. Call it
 * before `process.exit`: pino's own flush on exit cannot wait for a write already under way.
 */
export async function flushLogs(timeoutMs = 2000): Promise<void> {
  if (stderrStarted()) await stderrSink().drained(timeoutMs);
}
