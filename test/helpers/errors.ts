import assert from 'node:assert/strict';
import { HamsyncError, isHamsyncError, type ErrorCode } from '../../src/errors.js';

/** Asserts that `fn` throws a HamsyncError with `code` (message starting with it), and returns it. */
export function expectHamsyncError(fn: () => unknown, code: ErrorCode, label: string): HamsyncError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `${label}: expected ${code}, but nothing was thrown`);
  assert.ok(caught instanceof HamsyncError, `${label}: expected a HamsyncError, got ${String(caught)}`);
  assert.equal(caught.code, code, `${label}: wrong code (${caught.message})`);
  assert.ok(isHamsyncError(caught, code), `${label}: isHamsyncError(err, ${code}) is false`);
  assert.ok(caught.message.startsWith(`${code}: `), `${label}: message should start with the code: ${caught.message}`);
  return caught;
}
