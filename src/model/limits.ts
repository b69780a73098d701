import { HamsyncError } from '../errors.js';
import { checkNumber, POSITIVE_INT } from '../util/check.js';

/** Longest key LMDB can index whatever `maxKeyBytes` says (its keys hold the key plus state and seq; ~1950 bytes fit). */
export const MAX_STORABLE_KEY_BYTES = 1024;

/** Bounds on what one update may carry. Every field is documented in docs/security.md "Limits". */
export interface Limits {
  /** Longest key, in UTF-8 bytes. Default 256; at most MAX_STORABLE_KEY_BYTES (1024). */
  maxKeyBytes: number;
  /** Most "/"-separated segments in a key. Default 16. */
  maxKeyDepth: number;
  /** Longest value, as canonical JSON in UTF-8 bytes. Default 65536 (64 KiB). */
  maxValueBytes: number;
  /** Most updates in one batch. Default 10000. */
  maxBatch: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxKeyBytes: 256,
  maxKeyDepth: 16,
  maxValueBytes: 65536,
  maxBatch: 10000,
});

/** Merges user limits over the defaults, checking each (errors name the field and the value). */
export function resolveLimits(partial: Partial<Limits> = {}, prefix = 'limits'): Limits {
  const out: Limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(partial) as [keyof Limits, unknown][]) {
    if (!(name in DEFAULT_LIMITS)) {
      throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${prefix}.${String(name)} is not a known option`, { field: `${prefix}.${String(name)}` });
    }
    if (value === undefined) continue;
    out[name] = checkNumber(value, `${prefix}.${name}`, POSITIVE_INT);
  }
  // LMDB keys (history index, deferred) hold the key text; past this they cannot be stored at all.
  if (out.maxKeyBytes > MAX_STORABLE_KEY_BYTES) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${prefix}.maxKeyBytes must be at most ${MAX_STORABLE_KEY_BYTES}, got ${out.maxKeyBytes}`, { field: `${prefix}.maxKeyBytes` });
  }
  return out;
}
