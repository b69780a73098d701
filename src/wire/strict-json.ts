import { HamsyncError } from '../errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/**
 * The first object member name that occurs twice in one object of `text`, or undefined.
 * `text` must already be valid JSON (JSON.parse accepted it): the scan only follows strings and
 * brackets. JSON.parse keeps the last of duplicate names, other parsers the first, so a payload
 * with duplicates can mean different things to different readers (`"src":"b","src":"a"`).
 * Names with escapes are compared decoded (`"\u0073rc"` is `"src"`). One pass; strings are
 * skipped with indexOf; the names of an object are kept in a short list (a Set beyond 8).
 */
export function duplicateKey(text: string): string | undefined {
  // Per open container: undefined for an array, else the names seen so far (a list while short).
  const stack: (string[] | Set<string> | undefined)[] = [];
  let expectName = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      // The closing quote: the next one not escaped by an odd run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return undefined;
        let b = i - 1;
        while (text.charCodeAt(b) === BACKSLASH) b--;
        if ((i - 1 - b) % 2 === 0) break;
      }
      if (!expectName) continue;
      expectName = false;
      const raw = text.slice(start + 1, i);
      const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
      const seen = stack[stack.length - 1];
      if (Array.isArray(seen)) {
        if (seen.includes(name)) return name;
        if (seen.length < 8) seen.push(name);
        else stack[stack.length - 1] = new Set([...seen, name]);
      } else if (seen !== undefined) {
        if (seen.has(name)) return name;
        seen.add(name);
      }
    } else if (c === OPEN_OBJECT) {
      stack.push([]);
      expectName = true;
    } else if (c === OPEN_ARRAY) {
      stack.push(undefined);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      stack.pop();
      expectName = false;
    } else if (c === COMMA) {
      expectName = stack.length > 0 && stack[stack.length - 1] !== undefined;
    }
  }
  return undefined;
}

/** Throws HAMSYNC_ERR_PAYLOAD when an object of `text` (valid JSON) has a member name twice. */
export function assertNoDuplicateKeys(text: string, what: string): void {
  const dup = duplicateKey(text);
  if (dup !== undefined) {
    throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `${what} payload has the member ${JSON.stringify(dup.slice(0, 64))} twice in one object`, { field: dup.slice(0, 64) });
  }
}
