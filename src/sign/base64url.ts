/**
 * Strict base64url: only [A-Za-z0-9_-], no padding, exactly the length `bytes` encodes to, and
 * canonical (Node's decoder ignores the unused low bits of the last character, so "...w" and
 * "...x" can decode alike; we accept only the one spelling `toString('base64url')` gives).
 */
const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** Characters of unpadded base64url for `bytes` bytes. */
export function base64urlLength(bytes: number): number {
  return Math.ceil((bytes * 4) / 3);
}

/** What is wrong with `value` as base64url of exactly `bytes` bytes, or undefined when nothing. */
export function base64urlProblem(value: unknown, bytes: number): string | undefined {
  const chars = base64urlLength(bytes);
  if (typeof value !== 'string') return `must be a string of ${chars} base64url characters, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
  if (value.length !== chars) return `must be ${chars} base64url characters, got ${value.length}`;
  if (!ALPHABET.test(value)) return `must be ${chars} base64url characters ([A-Za-z0-9_-], no padding), got other characters`;
  if (Buffer.from(value, 'base64url').toString('base64url') !== value) return 'is not canonical base64url (its last character has stray low bits)';
  return undefined;
}

/** The bytes of strict base64url `value`, or undefined when it is not exactly `bytes` bytes' worth. */
export function decodeBase64url(value: unknown, bytes: number): Buffer | undefined {
  // The checks of base64urlProblem, decoding once (this runs for every signed update at the hub).
  if (typeof value !== 'string' || value.length !== base64urlLength(bytes) || !ALPHABET.test(value)) return undefined;
  const out = Buffer.from(value, 'base64url');
  return out.toString('base64url') === value ? out : undefined;
}
