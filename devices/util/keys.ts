/** Key helpers for sources: joining a prefix with a suffix, and making a key segment out of outside text. */

// Characters a key segment may not hold, plus whitespace (kept out for readability).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0020\u007f+#/]+/g;

/** `<prefix>/<suffix>`. */
export function joinKey(prefix: string, suffix: string): string {
  return `${prefix}/${suffix}`;
}

/**
 * A key segment from untrusted text (e.g. a thermal zone's `type` file): unsafe characters and
 * whitespace become `_`, at most `maxChars` characters, never empty (`fallback`).
 */
export function safeSegment(text: string, fallback: string, maxChars = 48): string {
  const cleaned = text.trim().replace(UNSAFE, '_').slice(0, maxChars).toWellFormed();
  return cleaned.length > 0 ? cleaned : fallback;
}
