import { HamsyncError, describe } from '../errors.js';
import { assertState } from '../ham/decide.js';
import { canonical, type Json } from '../ham/lexical.js';
import { assertKey, assertSource } from './keys.js';
import type { Limits } from './limits.js';

/** One state-stamped update of one key, from one source (device). */
export interface Update {
  key: string;
  value: Json;
  state: number;
  source: string;
}

/** An update that passed validation, with its value's canonical JSON text. */
export interface CheckedUpdate {
  readonly key: string;
  readonly state: number;
  readonly source: string;
  /** Canonical JSON text of the value. */
  readonly text: string;
}

/** Validates one update; throws a coded HamsyncError naming the field at fault. */
export function checkUpdate(input: unknown, limits: Limits, index = 0): CheckedUpdate {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new HamsyncError('HAMSYNC_ERR_UPDATE', `update ${index} must be an object with key, value, state and source, got ${describe(input)}`, { index });
  }
  const u = input as Record<string, unknown>;
  assertKey(u.key, limits);
  assertState(u.state, `update ${index} state`);
  assertSource(u.source);
  if (!('value' in u)) throw new HamsyncError('HAMSYNC_ERR_VALUE', `update ${index} has no value`, { index });
  const text = canonical(u.value);
  const bytes = text.length > limits.maxValueBytes / 3 ? Buffer.byteLength(text, 'utf8') : text.length;
  if (bytes > limits.maxValueBytes) {
    throw new HamsyncError('HAMSYNC_ERR_VALUE_TOO_LARGE', `update ${index} value is ${bytes} bytes as JSON, the limit is ${limits.maxValueBytes}`, { index, key: u.key });
  }
  // -0 and 0 are one state (as in HAM's comparisons); store it one way.
  return { key: u.key, state: u.state === 0 ? 0 : u.state, source: u.source, text };
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
