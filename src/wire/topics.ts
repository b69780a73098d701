import { HamsyncError, describe } from '../errors.js';

/** Wire protocol version; carried in presence and catch-up messages, documented in docs/PROTOCOL.md. */
export const PROTOCOL_VERSION = 1;

/** A namespace (and device id) name: 1-64 characters of [A-Za-z0-9_-]. */
export const NAMESPACE = /^[A-Za-z0-9_-]{1,64}$/;

export function assertNamespace(ns: unknown): asserts ns is string {
  if (typeof ns !== 'string' || !NAMESPACE.test(ns)) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `ns must be 1-64 characters of [A-Za-z0-9_-], got ${describe(ns)}`, { field: 'ns' });
  }
}

/** Topic names of wire protocol v1, all under `hamsync/<ns>/`. */
export const topics = {
  put: (ns: string, device: string) => `hamsync/${ns}/put/${device}`,
  putAll: (ns: string) => `hamsync/${ns}/put/+`,
  state: (ns: string, key: string) => `hamsync/${ns}/state/${key}`,
  stateFilter: (ns: string, keyFilter: string) => `hamsync/${ns}/state/${keyFilter}`,
  syncRequest: (ns: string, device: string) => `hamsync/${ns}/sync/req/${device}`,
  syncRequestAll: (ns: string) => `hamsync/${ns}/sync/req/+`,
  syncResponse: (ns: string, device: string) => `hamsync/${ns}/sync/res/${device}`,
  /** v2: a device acknowledges a sync page it stored. */
  syncAck: (ns: string, device: string) => `hamsync/${ns}/sync/ack/${device}`,
  /** v2: the hub's retained announcement (identity, epoch). */
  hub: (ns: string) => `hamsync/${ns}/hub`,
  presence: (ns: string, device: string) => `hamsync/${ns}/presence/${device}`,
};

export type TopicKind = 'put' | 'state' | 'sync-req' | 'sync-res' | 'sync-ack' | 'hub' | 'presence' | 'replay' | 'other';

export interface ParsedTopic {
  kind: TopicKind;
  ns: string;
  /** Device id for put, sync and presence topics; the key for state topics. */
  rest: string;
}

/** Classifies a topic under `hamsync/`; undefined for topics outside the protocol. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  if (!topic.startsWith('hamsync/')) return undefined;
  const parts = topic.split('/');
  const ns = parts[1] ?? '';
  const kind = parts[2];
  if (kind === 'put' && parts.length === 4) return { kind: 'put', ns, rest: parts[3] as string };
  if (kind === 'presence' && parts.length === 4) return { kind: 'presence', ns, rest: parts[3] as string };
  if (kind === 'state' && parts.length >= 4) return { kind: 'state', ns, rest: parts.slice(3).join('/') };
  if (kind === 'replay' && parts.length >= 5) return { kind: 'replay', ns, rest: parts.slice(3).join('/') };
  if (kind === 'sync' && parts.length === 5 && (parts[3] === 'req' || parts[3] === 'res' || parts[3] === 'ack')) {
    return { kind: parts[3] === 'req' ? 'sync-req' : parts[3] === 'res' ? 'sync-res' : 'sync-ack', ns, rest: parts[4] as string };
  }
  if (kind === 'hub' && parts.length === 3) return { kind: 'hub', ns, rest: '' };
  return { kind: 'other', ns, rest: parts.slice(2).join('/') };
}

/** MQTT-style match of a key against a filter with `+` (one segment) and `#` (the rest). */
export function matchKey(filter: string, key: string): boolean {
  if (filter === '#') return true;
  const f = filter.split('/');
  const k = key.split('/');
  for (let i = 0; i < f.length; i++) {
    const part = f[i];
    if (part === '#') return true;
    if (i >= k.length) return false;
    if (part !== '+' && part !== k[i]) return false;
  }
  return f.length === k.length;
}

/** Checks a key filter: "/"-separated, `+` whole segments only, `#` only as the last segment. */
export function assertKeyFilter(filter: unknown): asserts filter is string {
  const bad = (): never => {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `subscribe filter must be a key filter like "pi-7/#" or "+/cpu/temp", got ${describe(filter)}`, { field: 'subscribe' });
  };
  if (typeof filter !== 'string' || filter.length === 0 || filter.length > 1024) bad();
  const parts = (filter as string).split('/');
  parts.forEach((p, i) => {
    if (p.length === 0) bad();
    if (p.includes('#') && (p !== '#' || i !== parts.length - 1)) bad();
    if (p.includes('+') && p !== '+') bad();
  });
}

/**
 * Compiles key filters into one fast predicate: literal keys by set lookup, `#` as match-all,
 * wildcard filters as anchored regular expressions. An empty list matches everything.
 */
export function compileKeyFilters(filters: readonly string[]): (key: string) => boolean {
  if (filters.length === 0 || filters.includes('#')) return () => true;
  const literal = new Set(filters.filter((f) => !f.includes('+') && !f.includes('#')));
  const patterns = filters
    .filter((f) => f.includes('+') || f.includes('#'))
    .map((f) => {
      const parts = f.split('/').map((p) => (p === '+' ? '[^/]+' : p === '#' ? null : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      const last = parts[parts.length - 1];
      const body = last === null ? `${parts.slice(0, -1).join('/')}(?:/.*)?` : parts.join('/');
      // `s`: a `#` tail must also match U+2028/U+2029, which keys may contain (as matchKey does).
      return new RegExp(`^${body}$`, 's');
    });
  return (key) => literal.has(key) || patterns.some((r) => r.test(key));
}
