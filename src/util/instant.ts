import { HamsyncError, describe } from '../errors.js';

/**
 * A point in state/time: a raw state (a number, e.g. epoch ms) or an ISO 8601 time
 * (`2026-11-25T14:02:00Z`; without a zone it is read as UTC), as epoch milliseconds.
 */
export function parseInstant(input: unknown, field: string): number {
  if (typeof input === 'number' && Number.isFinite(input)) return input;
  if (typeof input === 'string') {
    const s = input.trim();
    if (/^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(s)) {
      const n = Number(s);
      if (Number.isFinite(n)) return n;
    }
    if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
      const zoned = /([zZ]|[+-]\d{2}:?\d{2})$/.test(s) || !s.includes('T') ? s : `${s}Z`;
      const ms = Date.parse(zoned);
      if (Number.isFinite(ms)) return ms;
    }
  }
  throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be an ISO 8601 time (2026-11-25T14:02:00Z) or a raw state number, got ${describe(input)}`, { field });
}

/** A state as a person reads it: the ISO time and the number when it looks like epoch ms (2000..2100), else the number. */
export function showInstant(s: unknown): string {
  return typeof s === 'number' && s > 946684800000 && s < 4102444800000 ? `${new Date(s).toISOString()} (${s})` : String(s);
}
