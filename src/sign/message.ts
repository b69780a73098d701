/**
 * The bytes a signature covers: the UTF-8 of
 *   JSON.stringify(["hamsync-sig/1", src, key, state, text])
 * with `text` the canonical JSON text of the value (src/ham/lexical.ts) and `state` a number.
 * A JSON array keeps the fields apart (no concatenation ambiguity); the tag binds the format
 * version, so a signature can never be taken for one over some other hamsync message.
 */
export const SIGNATURE_CONTEXT = 'hamsync-sig/1';

export function signingBytes(src: string, key: string, state: number, text: string): Buffer {
  return Buffer.from(JSON.stringify([SIGNATURE_CONTEXT, src, key, state, text]), 'utf8');
}
