import { HamsyncError, describe } from '../errors.js';
import { MAX_STORABLE_KEY_BYTES, type Limits } from './limits.js';

// A segment: anything printable except the separator and MQTT's wildcards. Control characters
// (C0 and C1) and Unicode non-characters are out too: MQTT says topics should not hold them, and
// Mosquitto and its clients drop the connection over one (a retained state topic would loop them).
const BAD_SEGMENT_CHAR = /[\p{Cc}\p{Noncharacter_Code_Point}+#/]/u;
const SOURCE = /^[A-Za-z0-9_-]{1,64}$/;
export { MAX_STORABLE_KEY_BYTES };

/**
 * Checks a key: non-empty "/"-separated segments, none of them "." or "..", no `+`, `#`, control
 * characters or non-characters,
 * at most `maxKeyBytes` (and never over MAX_STORABLE_KEY_BYTES) UTF-8 bytes and `maxKeyDepth` segments.
 * Keys map 1:1 onto MQTT topics.
 */
export function assertKey(key: unknown, limits: Pick<Limits, 'maxKeyBytes' | 'maxKeyDepth'>): asserts key is string {
  // Telemetry repeats its keys: remember the ones already found valid under these limits.
  let known = recent.get(limits);
  if (typeof key === 'string' && known?.has(key)) return;
  checkKey(key, limits);
  if (!known) recent.set(limits, (known = new Set()));
  if (known.size >= 10_000) known.clear();
  known.add(key as string);
}

const recent = new WeakMap<object, Set<string>>();

function checkKey(key: unknown, limits: Pick<Limits, 'maxKeyBytes' | 'maxKeyDepth'>): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new HamsyncError('HAMSYNC_ERR_KEY', `key must be a non-empty string, got ${describe(key)}`, { key });
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  const max = Math.min(limits.maxKeyBytes, MAX_STORABLE_KEY_BYTES);
  if (bytes > max) {
    throw new HamsyncError('HAMSYNC_ERR_KEY', `key is ${bytes} bytes, the limit is ${max}`, { key: key.slice(0, 64) });
  }
  const segments = key.split('/');
  if (segments.length > limits.maxKeyDepth) {
    throw new HamsyncError('HAMSYNC_ERR_KEY', `key has ${segments.length} segments, the limit is ${limits.maxKeyDepth}: ${describe(key)}`, { key });
  }
  for (const segment of segments) {
    if (segment.length === 0 || BAD_SEGMENT_CHAR.test(segment)) {
      throw new HamsyncError('HAMSYNC_ERR_KEY', `key ${describe(key)} has an empty segment or a +, #, control character or Unicode non-character`, { key });
    }
    // Tools map keys to paths (export trees, MQTT bridges to files): "." and ".." would climb.
    if (segment === '.' || segment === '..') {
      throw new HamsyncError('HAMSYNC_ERR_KEY', `key ${describe(key)} has a "${segment}" segment (keys map to paths; "." and ".." are refused)`, { key });
    }
  }
  if (key.toWellFormed() !== key) {
    throw new HamsyncError('HAMSYNC_ERR_KEY', `key ${describe(key)} is not well-formed Unicode (lone surrogate)`, { key });
  }
}

/** A source is a device id: 1 to 64 of [A-Za-z0-9_-]. */
export function assertSource(source: unknown): asserts source is string {
  if (typeof source !== 'string' || !SOURCE.test(source)) {
    throw new HamsyncError('HAMSYNC_ERR_SOURCE', `source must be 1-64 characters of [A-Za-z0-9_-], got ${describe(source)}`, { source });
  }
}
