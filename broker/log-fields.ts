/**
 * Every field the broker logs from a client (client id, user, topic, filter, error text) is
 * bounded, so one client cannot make one log line large: longer text is cut with a marker
 * that says how much was left out.
 */
export const MAX_LOGGED_FIELD = 200;

/**
 * `s` cut to `max` characters, with `…[+N chars]` saying how many were cut; undefined and null
 * (Aedes' client id before CONNECT, whatever its types say) stay undefined.
 */
export function clip(s: string, max?: number): string;
export function clip(s: string | null | undefined, max?: number): string | undefined;
export function clip(s: string | null | undefined, max = MAX_LOGGED_FIELD): string | undefined {
  if (s === undefined || s === null) return undefined;
  if (s.length <= max) return s;
  return `${s.slice(0, max)}…[+${s.length - max} chars]`;
}
