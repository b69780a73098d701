/**
 * The signature policy, applied to a whole batch before HAM sees it:
 * - the keyring has a key for the update's source: it must carry a valid signature;
 * - it has none: accepted unsigned (a signature it carries cannot be checked here and is left for
 *   peers that know the key), unless `requireSigned`.
 * One bad update refuses the batch (HAMSYNC_ERR_SIGNATURE naming its index, key and source).
 */
import { verify as edVerify, type KeyObject } from 'node:crypto';
import { HamsyncError, describe } from '../errors.js';
import { decodeBase64url } from './base64url.js';
import type { Keyring } from './keyring.js';
import { signingBytes } from './message.js';
import { SIGNATURE_BYTES, signatureProblem } from './verify.js';
import { verifyPool, type VerifyItem, type VerifyPool } from './verify-pool.js';

/** An update as checked (src/model/update.ts CheckedUpdate) plus the signature it came with. */
export interface SignedUpdate {
  readonly source: string;
  readonly key: string;
  readonly state: number;
  /** Canonical JSON text of the value. */
  readonly text: string;
  /** base64url Ed25519 signature (wire field "g"); anything else counts as malformed. */
  readonly sig?: unknown;
}

export interface SignaturePolicy {
  /** Refuse updates from sources without a known key too. Default false. */
  requireSigned?: boolean;
}

/** Why an update was refused (`details.reason` of the error; also for counters). */
export type SignatureReason = 'missing' | 'malformed' | 'invalid' | 'unknown-source';

export interface SignatureTally {
  /** Updates whose signature was verified. */
  verified: number;
  /** Updates accepted without verification (no key known for their source). */
  unchecked: number;
}

type Plan = { verify: KeyObject; pub: string; bytes: Buffer; data: Buffer } | { skip: true } | { reason: SignatureReason; message: string };

function plan(u: SignedUpdate, keyring: Keyring, requireSigned: boolean): Plan {
  const key = keyring.keyObject(u.source);
  if (key === undefined) {
    if (!requireSigned) return { skip: true };
    return { reason: 'unknown-source', message: `no public key is known for source ${describe(u.source)} and signatures are required` };
  }
  const bytes = decodeBase64url(u.sig, SIGNATURE_BYTES);
  if (bytes === undefined) {
    return u.sig === undefined
      ? { reason: 'missing', message: `has no signature, but source ${describe(u.source)} has a public key` }
      : { reason: 'malformed', message: `signature ${signatureProblem(u.sig) ?? 'is malformed'}` };
  }
  if (typeof u.state !== 'number' || !Number.isFinite(u.state)) return { reason: 'invalid', message: `state ${describe(u.state)} is not a finite number` };
  return { verify: key, pub: keyring.pub(u.source) as string, bytes, data: signingBytes(u.source, u.key, u.state, u.text) };
}

function refuse(batch: readonly SignedUpdate[], index: number, reason: SignatureReason, message: string): never {
  throw refusal(batch, index, reason, message);
}

function refusal(batch: readonly SignedUpdate[], index: number, reason: SignatureReason, message: string): HamsyncError {
  const u = batch[index] as SignedUpdate;
  return new HamsyncError('HAMSYNC_ERR_SIGNATURE', `update ${index} (key ${describe(u.key)}, source ${describe(u.source)}) ${message}; the batch of ${batch.length} is refused`, {
    index,
    key: u.key,
    source: u.source,
    reason,
  });
}

const INVALID = (u: SignedUpdate): string => `signature does not verify with the public key of ${describe(u.source)}`;

/** Applies the policy to `batch` (synchronously); throws HAMSYNC_ERR_SIGNATURE for the first bad update. */
export function checkSignatures(batch: readonly SignedUpdate[], keyring: Keyring, policy: SignaturePolicy = {}): SignatureTally {
  const requireSigned = policy.requireSigned ?? false;
  const tally: SignatureTally = { verified: 0, unchecked: 0 };
  for (let i = 0; i < batch.length; i++) {
    const u = batch[i] as SignedUpdate;
    const p = plan(u, keyring, requireSigned);
    if ('skip' in p) tally.unchecked++;
    else if ('reason' in p) refuse(batch, i, p.reason, p.message);
    else if (edVerify(null, p.data, p.verify, p.bytes)) tally.verified++;
    else refuse(batch, i, 'invalid', INVALID(u));
  }
  return tally;
}

/**
 * The same policy, verifying on worker threads (verify-pool.ts, the process's pool unless `pool`):
 * the event loop stays free, a batch is verified on every core, and concurrent batches share
 * worker round trips. The error names the first bad update, as
 * `checkSignatures` does.
 */
export async function checkSignaturesAsync(batch: readonly SignedUpdate[], keyring: Keyring, policy: SignaturePolicy = {}, pool: VerifyPool = verifyPool): Promise<SignatureTally> {
  const requireSigned = policy.requireSigned ?? false;
  const plans = batch.map((u) => plan(u, keyring, requireSigned));
  const firstRefused = plans.findIndex((p) => 'reason' in p);
  const end = firstRefused < 0 ? plans.length : firstRefused;
  const results = await verifyPlans(plans.slice(0, end), pool);
  const tally: SignatureTally = { verified: 0, unchecked: 0 };
  for (let i = 0; i < end; i++) {
    if (!results[i]) refuse(batch, i, 'invalid', INVALID(batch[i] as SignedUpdate));
    if ('verify' in (plans[i] as Plan)) tally.verified++;
    else tally.unchecked++;
  }
  if (firstRefused >= 0) {
    const p = plans[firstRefused] as { reason: SignatureReason; message: string };
    refuse(batch, firstRefused, p.reason, p.message);
  }
  return tally;
}

/** One update's verdict under the policy: passed (verified or unchecked), or its refusal. */
export type SignatureVerdict = { verified: boolean } | HamsyncError;

/**
 * The policy applied to each update on its own (for a message that gathers many sources'
 * updates, such as a catch-up answer): one verdict per update, in order; a refusal is the
 * HAMSYNC_ERR_SIGNATURE error `checkSignatures([u])` would throw.
 */
export async function checkEachAsync(batch: readonly SignedUpdate[], keyring: Keyring, policy: SignaturePolicy = {}, pool: VerifyPool = verifyPool): Promise<SignatureVerdict[]> {
  const requireSigned = policy.requireSigned ?? false;
  const plans = batch.map((u) => plan(u, keyring, requireSigned));
  const results = await verifyPlans(plans, pool);
  return plans.map((p, i) => {
    const u = batch[i] as SignedUpdate;
    if ('reason' in p) return refusal([u], 0, p.reason, p.message);
    if (!results[i]) return refusal([u], 0, 'invalid', INVALID(u));
    return { verified: 'verify' in p };
  });
}

/** Verifies the plans that need it, on the pool; true for the others (skipped, or refused before verifying). */
async function verifyPlans(plans: readonly Plan[], pool: VerifyPool): Promise<boolean[]> {
  const items: VerifyItem[] = [];
  const at: number[] = [];
  plans.forEach((p, i) => {
    if (!('verify' in p)) return;
    items.push({ pub: p.pub, data: p.data, sig: p.bytes });
    at.push(i);
  });
  const out = plans.map(() => true);
  if (items.length === 0) return out;
  const ok = await pool.verify(items);
  at.forEach((i, j) => (out[i] = ok[j] === true));
  return out;
}
