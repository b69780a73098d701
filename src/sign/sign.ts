import { sign as edSign, type KeyObject } from 'node:crypto';
import { HamsyncError, describe } from '../errors.js';
import { signingBytes } from './message.js';

/**
 * The base64url Ed25519 signature (86 characters) of one update: `src` its source (device id),
 * `key`, `state`, and `text` the canonical JSON text of its value.
 */
export function sign(privateKey: KeyObject, src: string, key: string, state: number, text: string): string {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `signing needs an Ed25519 private key, got a ${privateKey.type} ${describe(privateKey.asymmetricKeyType ?? 'secret')} key`);
  }
  if (typeof state !== 'number' || !Number.isFinite(state)) {
    throw new HamsyncError('HAMSYNC_ERR_STATE', `cannot sign an update whose state is ${describe(state)}`, { key });
  }
  return edSign(null, signingBytes(src, key, state, text), privateKey).toString('base64url');
}
