import { HamsyncError, describe } from '../errors.js';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/**
 * Parses a size into bytes: a bare number of bytes (`1048576`, or a number), or a number with a
 * unit: `B`, `KB`/`MB`/`GB`/`TB` (powers of 1000) or `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024),
 * case-insensitive, e.g. `500MB`, `1GiB`, `1.5 GiB`. Fractions are rounded to the nearest byte;
 * a bare byte count must be a whole number. `field` names the option in the error
 * (HAMSYNC_ERR_CONFIG).
 */
export function parseSize(input: unknown, field: string): number {
  const fail = (): never => {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be a size in bytes like 1048576, 500MB or 1GiB, got ${describe(input)}`, { field });
  };
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) fail();
    return input;
  }
  const m = typeof input === 'string' ? SIZE.exec(input.trim()) : null;
  if (!m) return fail();
  const unit = (m[2] as string).toLowerCase();
  const factor = unit === '' ? 1 : UNITS[unit];
  if (factor === undefined) return fail();
  const amount = Number(m[1]);
  if (factor === 1 && !Number.isInteger(amount)) return fail();
  const bytes = Math.round(amount * factor);
  if (!Number.isSafeInteger(bytes)) return fail();
  return bytes;
}
