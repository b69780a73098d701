/**
 * A verification worker (see verify-pool.ts): receives batches of (public key, signed bytes,
 * signature) and answers one byte per item, 1 when the signature verifies. Public keys are
 * parsed once and cached (bounded).
 */
import { verify, type KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { publicKeyObject } from './public-key.js';
import type { VerifyJob, VerifyResult } from './verify-pool.js';

const MAX_KEYS = 10_000;
const keys = new Map<string, KeyObject>();

function keyOf(pub: string): KeyObject | undefined {
  let key = keys.get(pub);
  if (key) return key;
  try {
    key = publicKeyObject(pub);
  } catch {
    return undefined;
  }
  if (keys.size >= MAX_KEYS) keys.clear();
  keys.set(pub, key);
  return key;
}

parentPort?.on('message', (job: VerifyJob) => {
  const ok = new Uint8Array(job.items.length);
  job.items.forEach((item, i) => {
    const key = keyOf(item.pub);
    try {
      ok[i] = key !== undefined && verify(null, item.data, key, item.sig) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
  });
  const result: VerifyResult = { id: job.id, ok };
  parentPort?.postMessage(result, [ok.buffer]);
});
