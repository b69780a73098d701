/**
 * Validation of one `sources[i]` entry, with the one option helper (src/util/check.ts): every
 * error is HAMSYNC_ERR_CONFIG and names the field and the value it got, e.g.
 * `sources[0].interval must be ..., got "-5s"`.
 */
import { HamsyncError, describe, isHamsyncError } from '../src/errors.js';
import { checkNumber, fail, integerFrom, oneOf } from '../src/util/check.js';
import { assertKey } from '../src/model/keys.js';
import { DEFAULT_LIMITS } from '../src/model/limits.js';
import { parseDuration } from '../src/util/duration.js';

/** Room left in a key after the prefix, for the longest suffix a source appends (`thermal/<zone type>`). */
const SUFFIX_BYTES = 80;
const SUFFIX_SEGMENTS = 3;

/** Reads and checks the options of one source config; `path` is how errors name it (`sources[0]`). */
export class Options {
  constructor(
    private readonly config: Readonly<Record<string, unknown>>,
    readonly path: string,
  ) {}

  /** The field name errors use: `sources[0].interval`. */
  field(name: string): string {
    return `${this.path}.${name}`;
  }

  /** Throws HAMSYNC_ERR_CONFIG: `<field> must be <expected>, got <value>`. */
  fail(name: string, expected: string, value: unknown = this.config[name]): never {
    return fail(this.field(name), expected, value);
  }

  /** Rejects any option not in `known` (catches typos such as `intervall`). */
  onlyKnown(known: readonly string[]): void {
    for (const name of Object.keys(this.config)) {
      if (!known.includes(name)) {
        const field = this.field(name);
        throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} is not an option of a ${describe(this.config.type)} source (known: ${known.join(', ')})`, { field });
      }
    }
  }

  /** A duration option in ms, within [minMs, maxMs]. */
  duration(name: string, fallback: number, minMs: number, maxMs: number): number {
    const raw = this.config[name];
    if (raw === undefined) return fallback;
    const expected = `a duration from ${minMs}ms to ${maxMs / 1000}s (e.g. 10s or 500ms)`;
    if (typeof raw !== 'string' && typeof raw !== 'number') this.fail(name, expected);
    let ms: number;
    try {
      ms = parseDuration(raw, this.field(name));
    } catch (err) {
      if (isHamsyncError(err, 'HAMSYNC_ERR_CONFIG')) this.fail(name, expected);
      throw err;
    }
    if (!(ms >= minMs && ms <= maxMs)) this.fail(name, expected);
    return ms;
  }

  /** A non-empty string option without control characters. */
  string(name: string, fallback: string): string {
    const raw = this.config[name];
    if (raw === undefined) return fallback;
    // eslint-disable-next-line no-control-regex
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > 4096 || /[\u0000-\u001f]/.test(raw)) {
      this.fail(name, 'a non-empty string');
    }
    return raw;
  }

  /** An integer option within [min, max]. */
  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.config[name];
    if (raw === undefined) return fallback;
    return checkNumber(raw, this.field(name), integerFrom(min, max));
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = this.config[name];
    if (raw === undefined) return fallback;
    oneOf(values, (v) => JSON.stringify(v))(raw, this.field(name));
    return raw as T;
  }

  /**
   * The key prefix: valid by the key rules, with room left for the source's own segments
   * (at most 256 - 80 bytes and 16 - 3 segments). Default the device id.
   */
  prefix(deviceId: string): string {
    const raw = this.config.prefix;
    const prefix = raw === undefined ? deviceId : raw;
    const expected = `a key prefix of "/"-separated non-empty segments without +, # or control characters, at most ${
      DEFAULT_LIMITS.maxKeyBytes - SUFFIX_BYTES
    } bytes and ${DEFAULT_LIMITS.maxKeyDepth - SUFFIX_SEGMENTS} segments`;
    try {
      assertKey(prefix, { maxKeyBytes: DEFAULT_LIMITS.maxKeyBytes - SUFFIX_BYTES, maxKeyDepth: DEFAULT_LIMITS.maxKeyDepth - SUFFIX_SEGMENTS });
    } catch (err) {
      if (isHamsyncError(err, 'HAMSYNC_ERR_KEY')) this.fail('prefix', expected, prefix);
      throw err;
    }
    return prefix;
  }
}
