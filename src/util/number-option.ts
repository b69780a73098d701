import { HamsyncError, describe } from '../errors.js';

/** What a numeric option must satisfy, and how an error describes it ("a positive integer"). */
export type NumberRule = readonly [ok: (n: number) => boolean, want: string];

export const POSITIVE_INT: NumberRule = [(n) => Number.isSafeInteger(n) && n >= 1, 'a positive integer'];

export function wholeAtLeast(min: number): NumberRule {
  return [(n) => Number.isSafeInteger(n) && n >= min, `a whole number >= ${min}`];
}

/** `value` if it is a number satisfying `rule`; otherwise HAMSYNC_ERR_CONFIG naming `field` and the value it got. */
export function checkNumber(value: unknown, field: string, [ok, want]: NumberRule): number {
  if (typeof value !== 'number' || !ok(value)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be ${want}, got ${describe(value)}`, { field });
  return value;
}
