import { HamsyncError, describe } from '../errors.js';
import { assertState } from '../ham/decide.js';
import { canonical, type Json } from '../ham/lexical.js';
import { signatureProblem } from '../sign/verify.js';
import { assertKey, assertSource } from './keys.js';
import type { Limits } from './limits.js';

/** One state-stamped update of one key, from one source (device). */
export interface Update {
  key: string;
  value: Json;
  state: number;
  source: string;
  /** The source's Ed25519 signature of the update (base64url, 86 characters; wire field "g"), if signed. */
  sig?: string;
}

/** An update that passed validation, with its value's canonical JSON text. */
export interface CheckedUpdate {
  readonly key: string;
  readonly state: number;
  readonly source: string;
  /** Canonical JSON text of the value. */
  readonly text: string;
  /**
   * The signature it came with: well-formed (86 base64url characters) but not verified here;
   * src/sign/policy.ts decides whether it must verify. Absent: unsigned.
   */
  readonly sig?: string;
}

/** Validates one update; throws a coded HamsyncError naming the field at fault. */
export function checkUpdate(input: unknown, limits: Limits, index = 0): CheckedUpdate {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new HamsyncError('HAMSYNC_ERR_UPDATE', `update ${index} must be an object with key, value, state and source, got ${describe(input)}`, { index });
  }
  const u = input as Record<string, unknown>;
  assertKey(u.key, limits);
  assertState(u.state, `update ${index} state`);
  if (u.state <= 0) {
    throw new HamsyncError('HAMSYNC_ERR_STATE', `update ${index} state must be greater than 0 (ms since 1970-01-01), got ${Object.is(u.state, -0) ? '-0' : describe(u.state)}`, { index, key: u.key });
  }
  assertSource(u.source);
  if (!('value' in u)) throw new HamsyncError('HAMSYNC_ERR_VALUE', `update ${index} has no value`, { index });
  const text = canonical(u.value);
  const bytes = text.length > limits.maxValueBytes / 3 ? Buffer.byteLength(text, 'utf8') : text.length;
  if (bytes > limits.maxValueBytes) {
    throw new HamsyncError('HAMSYNC_ERR_VALUE_TOO_LARGE', `update ${index} value is ${bytes} bytes as JSON, the limit is ${limits.maxValueBytes}`, { index, key: u.key });
  }
  // A signature is kept, stored and relayed: only a well-formed one (verifying it is the policy's job).
  const sig = u.sig;
  if (sig !== undefined) {
    const problem = signatureProblem(sig);
    if (problem !== undefined) {
      throw new HamsyncError('HAMSYNC_ERR_SIGNATURE', `update ${index} (key ${describe(u.key)}, source ${describe(u.source)}) signature ${problem}`, { index, key: u.key, source: u.source, reason: 'malformed' });
    }
  }
  return sig === undefined ? { key: u.key, state: u.state, source: u.source, text } : { key: u.key, state: u.state, source: u.source, text, sig: sig as string };
}

/** Validates a whole batch up front: one bad update rejects the batch, so nothing is stored partially. */
export function checkBatch(input: unknown, limits: Limits): CheckedUpdate[] {
  if (!Array.isArray(input)) {
    throw new HamsyncError('HAMSYNC_ERR_BATCH', `a batch must be an array of updates, got ${describe(input)}`);
  }
  if (input.length > limits.maxBatch) {
    throw new HamsyncError('HAMSYNC_ERR_BATCH', `a batch has ${input.length} updates, the limit is ${limits.maxBatch}`);
  }
  // Array.from, not map: a hole (`[, u]`) is an invalid update, not one to skip.
  return Array.from(input, (u: unknown, i) => checkUpdate(u, limits, i));
}
