/**
 * What a verification worker does with one packed job (verify-pack.ts): one byte per item, 1
 * when the signature verifies with the item's public key. Public keys are parsed once and
 * cached (bounded); a key that does not parse verifies nothing.
 */
import { verify, type KeyObject } from 'node:crypto';
import { forEachPacked, type PackedJob } from './verify-pack.js';
import { publicKeyObject } from './public-key.js';

/** The answer to a job: one byte per item, in order (1 verified, 0 not). */
export interface VerifyAnswer {
  id: number;
  ok: Uint8Array<ArrayBuffer>;
}

const MAX_KEYS = 10_000;
const keys = new Map<string, KeyObject | null>();

function keyOf(pub: string): KeyObject | null {
  let key = keys.get(pub);
  if (key !== undefined) return key;
  try {
    key = publicKeyObject(pub);
  } catch {
    key = null;
  }
  if (keys.size >= MAX_KEYS) keys.clear();
  keys.set(pub, key);
  return key;
}

export function verifyJob(job: PackedJob): VerifyAnswer {
  const ok = new Uint8Array(new Uint32Array(job.buf, 0, 1)[0] as number);
  forEachPacked(job, (pub, data, sig, i) => {
    const key = keyOf(pub);
    try {
      ok[i] = key !== null && verify(null, data, key, sig) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
  });
  return { id: job.id, ok };
}
