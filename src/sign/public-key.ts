/**
 * Public keys: raw 32-byte Ed25519 keys, written as 43 characters of base64url (users file
 * field `pub`, keys files, `--pub`). KeyObjects are made through JWK, whose `x` is exactly that.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { HamsyncError, describe } from '../errors.js';
import { base64urlLength, base64urlProblem } from './base64url.js';

export const PUBLIC_KEY_BYTES = 32;
/** 43. */
export const PUBLIC_KEY_CHARS = base64urlLength(PUBLIC_KEY_BYTES);

/** What is wrong with `value` as a public key, or undefined when it is a valid one. */
export function publicKeyProblem(value: unknown): string | undefined {
  const problem = base64urlProblem(value, PUBLIC_KEY_BYTES);
  if (problem !== undefined) return `must be a raw Ed25519 public key as ${PUBLIC_KEY_CHARS} base64url characters: ${problem}${typeof value === 'string' ? ` (${describe(value)})` : ''}`;
  return undefined;
}

/** Checks a public key; `where` names it in the error (e.g. "--pub", "keys.json: key of pi-7"). */
export function assertPublicKey(value: unknown, where: string): asserts value is string {
  const problem = publicKeyProblem(value);
  if (problem !== undefined) throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `${where} ${problem}`, { field: where });
}

/** A KeyObject for a checked base64url public key. */
export function publicKeyObject(pub: string, where = 'public key'): KeyObject {
  assertPublicKey(pub, where);
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub }, format: 'jwk' });
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `${where} is not a usable Ed25519 public key (${(err as Error).message})`, { field: where });
  }
}

/** The base64url raw public key of an Ed25519 KeyObject (public or private). */
export function encodePublicKey(key: KeyObject): string {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `expected an Ed25519 key, got ${describe(key.asymmetricKeyType ?? key.type)}`);
  }
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const { x } = pub.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', 'could not export the Ed25519 public key');
  return x;
}
