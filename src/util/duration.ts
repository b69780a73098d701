import { HamsyncError, describe } from '../errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^([+-]?)(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

/**
 * Parses a duration like `5s`, `+5s`, `-2m`, `1.5h`, `250ms` or a bare number of ms into ms.
 * `field` names the option in the error.
 */
export function parseDuration(input: unknown, field: string): number {
  if (typeof input === 'number' && Number.isFinite(input)) return input;
  const m = typeof input === 'string' ? DURATION.exec(input.trim()) : null;
  if (!m) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be a duration like 5s, +5s, -2m, 1h or 250ms, got ${describe(input)}`, { field });
  }
  const ms = Number(m[2]) * (UNITS[m[3] ?? 'ms'] as number);
  return m[1] === '-' ? -ms : ms;
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
