/**
 * Signed updates on a device: its own key (every local put is signed right after stamping) and
 * the keyring it verifies received updates with (src/daemon/verifier.ts).
 */
import type { KeyObject } from 'node:crypto';
import { HamsyncError } from '../errors.js';
import { canonical } from '../ham/lexical.js';
import type { Logger } from '../log.js';
import type { CheckedUpdate } from '../model/update.js';
import { loadPrivateKey } from '../sign/key-file.js';
import { Keyring, loadKeyring } from '../sign/keyring.js';
import { encodePublicKey } from '../sign/public-key.js';
import { sign } from '../sign/sign.js';
import type { Outbox } from '../store/outbox.js';
import { decodePut, encodePut } from '../wire/codec.js';
import type { DaemonConfig } from './options.js';

export interface Signer {
  readonly privateKey: KeyObject;
  /** Its public key, base64url. */
  readonly pub: string;
}

export interface DaemonSigning {
  /** This device's key; undefined: local puts go unsigned. */
  readonly signer: Signer | undefined;
  /** Public keys to verify received updates with (empty: nothing to verify). */
  readonly keyring: Keyring;
  readonly requireSigned: boolean;
}

/**
 * Reads the daemon's signing key and keyring (files checked now: a bad one fails the start).
 * A keyring that knows this device under another key than its signing key is refused: its own
 * updates would be refused by every peer holding the same keys.
 */
export function loadSigning(config: Pick<DaemonConfig, 'id' | 'signingKey' | 'keys' | 'users' | 'requireSigned'>): DaemonSigning {
  let signer: Signer | undefined;
  if (config.signingKey !== undefined) {
    const privateKey = loadPrivateKey(config.signingKey);
    signer = { privateKey, pub: encodePublicKey(privateKey) };
  }
  const keyring = config.keys !== undefined || config.users !== undefined ? loadKeyring({ keys: config.keys, users: config.users }) : new Keyring();
  const known = keyring.pub(config.id);
  if (signer && known !== undefined && known !== signer.pub) {
    throw new HamsyncError(
      'HAMSYNC_ERR_SIGNING_KEY',
      `signingKey ${config.signingKey ?? ''} has public key ${signer.pub}, but the keys given (keys, users) have ${known} for ${config.id}: peers would refuse its updates`,
      { field: 'signingKey' },
    );
  }
  return { signer, keyring, requireSigned: config.requireSigned };
}

/** The updates, each signed by `signer` (over its source, key, state and canonical value text). */
export function signAll(signer: Signer, updates: readonly CheckedUpdate[]): CheckedUpdate[] {
  return updates.map((u) => ({ key: u.key, state: u.state, source: u.source, text: u.text, sig: sign(signer.privateKey, u.source, u.key, u.state, u.text) }));
}

/** Outbox messages re-signed per transaction (bounds memory on a large outbox). */
const RESIGN_CHUNK = 1000;

/**
 * Makes every message waiting in the outbox carry signatures by `signer` (or records that they
 * need not). Messages queued before a signing key was configured, or signed with a previous key,
 * would be refused by a hub that knows the current key, and would block the outbox forever (the
 * hub disconnects instead of acknowledging them). Re-signing them is sound: they are this
 * device's own updates. The outbox remembers its signer, so this costs nothing when unchanged.
 * Returns the number of messages re-signed.
 */
export async function resignOutbox(outbox: Outbox, id: string, signer: Signer | undefined, log: Logger): Promise<number> {
  const wanted = signer?.pub;
  if (outbox.signer === wanted) return 0;
  let done = 0;
  if (signer) {
    let chunk: { seq: number; payload: string }[] = [];
    for (const e of outbox.entries()) {
      // Our own encodePut output: values are canonical JSON text, so canonical(parse(text)) is the text.
      const { updates } = decodePut(e.payload, id, { maxPayloadBytes: Number.MAX_SAFE_INTEGER });
      const wire = updates.map((u) => {
        const key = u.key as string;
        const state = u.state as number;
        const text = canonical(u.value);
        return { key, state, text, sig: sign(signer.privateKey, id, key, state, text) };
      });
      chunk.push({ seq: e.seq, payload: encodePut(id, wire) });
      if (chunk.length >= RESIGN_CHUNK) {
        await outbox.replace(chunk);
        done += chunk.length;
        chunk = [];
      }
    }
    await outbox.replace(chunk);
    done += chunk.length;
  }
  await outbox.setSigner(wanted);
  if (done > 0) log.info('outbox re-signed with the signing key', { messages: done, pub: wanted });
  return done;
}
