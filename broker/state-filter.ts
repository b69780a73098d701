import { matchKey } from '../src/wire/topics.js';

/**
 * Which live keys an MQTT subscription filter selects on `hamsync/<ns>/state/<key>`, as a lookup
 * the live view can answer cheaply: one key (a literal filter), a range of keys by prefix (a
 * literal head before the first wildcard), or, when the filter starts with a wildcard key level,
 * every key (a scan, tested key by key).
 */
export interface StateLookup {
  /** A key to read on its own: the filter is literal, or it is `<exact>/#` (which matches `<exact>` too). */
  exact?: string;
  /** Keys to scan: those starting with it ('' = every key); undefined: none beyond `exact`. */
  prefix?: string;
  /** Whether a key found under `prefix` matches the filter. */
  match(key: string): boolean;
}

const ALL = (): boolean => true;
const FIXED = ['hamsync', undefined, 'state'] as const;

/**
 * The lookup for `filter` on the state topics of namespace `ns`, or undefined when the filter
 * matches none of them (another kind, another namespace, `$share/...`, too short).
 */
export function stateLookup(ns: string, filter: string): StateLookup | undefined {
  const levels = filter.split('/');
  for (let i = 0; i < FIXED.length; i++) {
    const level = levels[i];
    if (level === '#') return { prefix: '', match: ALL };
    if (level === undefined) return undefined;
    if (level !== '+' && level !== (FIXED[i] ?? ns)) return undefined;
  }
  const keyLevels = levels.slice(3);
  if (keyLevels.length === 0) return undefined;
  const keyFilter = keyLevels.join('/');
  if (keyFilter === '#') return { prefix: '', match: ALL };
  const wild = keyLevels.findIndex((l) => l === '+' || l === '#');
  if (wild === -1) return { exact: keyFilter, match: (key) => key === keyFilter };
  const head = keyLevels.slice(0, wild).join('/');
  const match = (key: string): boolean => matchKey(keyFilter, key);
  if (wild === 0) return { prefix: '', match };
  // `a/#` matches `a` itself as well as everything under `a/`.
  if (keyLevels[wild] === '#') return { exact: head, prefix: `${head}/`, match };
  return { prefix: `${head}/`, match };
}

/** Whether `topic` is a state topic of `ns` (`hamsync/<ns>/state/<key>`). */
export function isStateTopic(ns: string, topic: string): boolean {
  const head = `hamsync/${ns}/state/`;
  return topic.length > head.length && topic.startsWith(head);
}
