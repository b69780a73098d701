import { HamsyncError, describe } from '../errors.js';

/** A value hamsync can store: plain JSON. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_DEPTH = 64;

/**
 * The canonical JSON text of a value: JSON with object keys sorted (by UTF-16
 * code units, recursively) and no whitespace. For null, booleans, finite
 * numbers and strings this is exactly `JSON.stringify`, i.e. GUN's `Lexical`.
 * Throws HAMSYNC_ERR_VALUE for anything that is not plain JSON.
 */
export function canonical(value: unknown): string {
  // Fast pass without paths; only a value that fails is walked again to name the place.
  const text = fast(value, 0);
  return text ?? encode(value, 0, '$');
}

/** True when `value` is plain JSON (the same rules as `canonical`), without building any text. */
export function isJson(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isJson(value[i], depth + 1)) return false;
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) if (Object.hasOwn(value, key) && !isJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

/** `canonical` without error paths: undefined when the value is not plain JSON. */
function fast(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'object': {
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) return undefined;
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item = fast(value[i], depth + 1);
          if (item === undefined) return undefined;
          out += i > 0 ? `,${item}` : item;
        }
        return `${out}]`;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const item = fast(record[key], depth + 1);
        if (item === undefined) return undefined;
        out += `${i > 0 ? ',' : ''}${JSON.stringify(key)}:${item}`;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

function encode(value: unknown, depth: number, path: string): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) fail(path, value);
      return JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH) {
        throw new HamsyncError('HAMSYNC_ERR_VALUE', `value at ${path} nests deeper than ${MAX_DEPTH} levels (or is cyclic)`, { path });
      }
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += encode(value[i], depth + 1, `${path}[${i}]`);
        }
        return `${out}]`;
      }
      return encodeObject(value, depth, path);
    default:
      return fail(path, value);
  }
}

function encodeObject(value: object, depth: number, path: string): string {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new HamsyncError('HAMSYNC_ERR_VALUE', `value at ${path} is not a plain object`, { path });
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (i > 0) out += ',';
    out += `${JSON.stringify(key)}:${encode(record[key], depth + 1, `${path}.${key}`)}`;
  }
  return `${out}}`;
}

function fail(path: string, value: unknown): never {
  throw new HamsyncError('HAMSYNC_ERR_VALUE', `value at ${path} is not JSON: got ${describe(value)}`, { path });
}

/** -1, 0 or 1: the lexical order HAM uses to break ties (compares canonical texts). */
export function compareLexical(a: string, b: string): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}
