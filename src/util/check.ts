/**
 * The one validation helper for options: config file keys, env vars, flags, library options
 * and the per-source options of devices/. Every failure is HAMSYNC_ERR_CONFIG with the message
 * `<field> must be <what it must be>, got <the value>` and `details.field`; a config file adds
 * its name and line in front (src/config/load.ts).
 */
import { HamsyncError, describe } from '../errors.js';

/** Checks one value; throws (via `fail`) naming `field` and the value it got. */
export type Check = (value: unknown, field: string) => void;

/** Throws HAMSYNC_ERR_CONFIG: `<field> must be <want>, got <value>`. */
export function fail(field: string, want: string, value: unknown): never {
  throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be ${want}, got ${describe(value)}`, { field });
}

/** What a numeric option must satisfy, and how an error describes it ("a positive integer"). */
export type NumberRule = readonly [ok: (n: number) => boolean, want: string];

export const POSITIVE_INT: NumberRule = [(n) => Number.isSafeInteger(n) && n >= 1, 'a positive integer'];

export function wholeAtLeast(min: number): NumberRule {
  return [(n) => Number.isSafeInteger(n) && n >= min, `a whole number >= ${min}`];
}

export function integerFrom(min: number, max: number): NumberRule {
  return [(n) => Number.isInteger(n) && n >= min && n <= max, `an integer from ${min} to ${max}`];
}

/** `value` if it is a number satisfying `rule`; otherwise HAMSYNC_ERR_CONFIG naming `field` and the value it got. */
export function checkNumber(value: unknown, field: string, [ok, want]: NumberRule): number {
  if (typeof value !== 'number' || !ok(value)) fail(field, want, value);
  return value;
}

/** A Check from a NumberRule. */
export const numberCheck =
  (rule: NumberRule): Check =>
  (v, f) =>
    void checkNumber(v, f, rule);

/** One of `values`; `show` renders each in the message (as is by default). */
export function oneOf<T extends string>(values: readonly T[], show: (v: T) => string = (v) => v): Check {
  return (v, f) => {
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(f, `one of ${values.map(show).join(', ')}`, v);
  };
}
