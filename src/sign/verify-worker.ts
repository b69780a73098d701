/**
 * A verification worker (see verify-pool.ts): receives packed jobs (verify-pack.ts: public keys,
 * signed bytes and signatures in one transferred buffer) and answers one byte per item, 1 when
 * the signature verifies. Public keys are parsed once and cached (bounded).
 */
import { verify, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { forEachPacked, type PackedJob } from './verify-pack.js';
import { publicKeyObject } from './public-key.js';

/** The worker's answer to a job: one byte per item, in order (1 verified, 0 not). */
export interface VerifyAnswer {
  id: number;
  ok: Uint8Array;
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

parentPort?.on('message', (job: PackedJob) => {
  const count = new Uint32Array(job.buf, 0, 1)[0] as number;
  const ok = new Uint8Array(count);
  forEachPacked(job, (pub, data, sig, i) => {
    const key = keyOf(pub);
    try {
      ok[i] = key !== null && verify(null, data, key, sig) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
  });
  const answer: VerifyAnswer = { id: job.id, ok };
  parentPort?.postMessage(answer, [ok.buffer]);
});
