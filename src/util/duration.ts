import { HamsyncError, describe } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^([+-]?)(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

/** Longest duration any option takes: 100 years. */
export const MAX_DURATION_MS = 36_525 * 86_400_000;
/** Largest clock offset (either way) a daemon or an import takes: one year. */
export const MAX_CLOCK_OFFSET_MS = 366 * 86_400_000;
/** Largest simulated clock rate error (either way), in parts per million: 10 %. */
export const MAX_DRIFT_PPM = 100_000;

/**
 * Parses a duration like `5s`, `+5s`, `-2m`, `1.5h` or `250ms` into ms. Text needs a unit
 * (a bare `5` is refused: seconds or ms?), except `0`; a number (from code or a JSON config)
 * is ms. At most MAX_DURATION_MS either way. `field` names the option in the error.
 */
export function parseDuration(input: unknown, field: string): number {
  const ms = typeof input === 'number' ? input : textDuration(input);
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be a duration with a unit like 5s, +5s, -2m, 1h or 250ms, got ${describe(input)}`, { field });
  }
  if (Math.abs(ms) > MAX_DURATION_MS) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be at most 36525d (100 years), got ${describe(input)}`, { field });
  return ms;
}

function textDuration(input: unknown): number | undefined {
  const m = typeof input === 'string' ? DURATION.exec(input.trim()) : null;
  if (!m || (m[3] === undefined && Number(m[2]) !== 0)) return undefined;
  const ms = Number(m[2]) * (UNITS[m[3] ?? 'ms'] as number);
  return m[1] === '-' ? -ms : ms;
}

/** A clock offset: a duration with a unit (a bare number, even in a config file, is refused unless 0), within ±MAX_CLOCK_OFFSET_MS. */
export function parseClockOffset(input: unknown, field: string): number {
  const ms = parseDuration(typeof input === 'number' && input !== 0 ? String(input) : input, field);
  if (Math.abs(ms) > MAX_CLOCK_OFFSET_MS) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be within ±366d, got ${describe(input)}`, { field });
  return ms;
}

/** A simulated clock drift in ppm, within ±MAX_DRIFT_PPM. */
export function checkDriftPpm(input: unknown, field: string): number {
  if (typeof input !== 'number' || !Number.isFinite(input) || Math.abs(input) > MAX_DRIFT_PPM) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be a number of parts per million from -${MAX_DRIFT_PPM} to ${MAX_DRIFT_PPM}, got ${describe(input)}`, { field });
  }
  return input;
}

/** Parses `host:port` (or `[v6]:port`, or just a port) for a listener. */
export function parseHostPort(input: unknown, field: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const s = typeof input === 'number' ? String(input) : input;
  const m = typeof s === 'string' ? /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$|^(\d{1,5})$/.exec(s) : null;
  const port = m ? Number(m[3] ?? m[4]) : NaN;
  if (!m || port > 65535) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be host:port (e.g. 127.0.0.1:7878), got ${describe(input)}`, { field });
  }
  return { host: m[1] ?? (m[2] || defaultHost), port };
}
