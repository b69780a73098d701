import { verify as edVerify, type KeyObject } from 'node:crypto';
import { base64urlLength, base64urlProblem, decodeBase64url } from './base64url.js';
import { signingBytes } from './message.js';

export const SIGNATURE_BYTES = 64;
/** 86. */
export const SIGNATURE_CHARS = base64urlLength(SIGNATURE_BYTES);

/** What is wrong with the form of `sig` (not whether it verifies), or undefined. */
export function signatureProblem(sig: unknown): string | undefined {
  if (sig === undefined) return 'is missing';
  const problem = base64urlProblem(sig, SIGNATURE_BYTES);
  return problem === undefined ? undefined : `is malformed: ${problem}`;
}

/**
 * Whether `sig` is a valid signature of the update by `publicKey`. Never throws: a malformed
 * signature, a non-finite state or a key that is not Ed25519 is simply false.
 */
export function verifyUpdate(publicKey: KeyObject, src: string, key: string, state: number, text: string, sig: unknown): boolean {
  const bytes = decodeBase64url(sig, SIGNATURE_BYTES);
  if (bytes === undefined || typeof state !== 'number' || !Number.isFinite(state)) return false;
  try {
    return edVerify(null, signingBytes(src, key, state, text), publicKey, bytes);
  } catch {
    return false;
  }
}
