/**
 * Topic access rules of an authenticating broker: pure functions of who is asking (role, user
 * id, namespaces) and the topic (publish) or topic filter (subscribe). See docs/security.md.
 *
 * - device:   publishes only its own `put/<id>`, `sync/req/<id>`, `sync/ack/<id>` and
 *             `presence/<id>`; subscribes to put, state and presence topics of its namespaces,
 *             the hub announcement `hamsync/<ns>/hub` and its own `sync/res/<id>`.
 * - observer: publishes nothing; subscribes to state, presence and replay topics.
 * - admin:    everything, except publishing on `$SYS/...`.
 * - node:     a cluster node taking peer snapshots (broker/cluster/peer-snapshot.ts): publishes
 *             only its own `sync/req/<id>` and `sync/ack/<id>`; subscribes only to the hub
 *             announcement and its own `sync/res/<id>`. It reads every key through its feed and
 *             writes nothing.
 *
 * A subscription is allowed only if every topic its filter can match is allowed; wildcards are
 * accepted only where that holds (`+` in the namespace level only for users of every namespace).
 */
import type { Role } from '../src/auth/users.js';
import { NAMESPACE } from '../src/wire/topics.js';

export interface Principal {
  role: Role;
  /** User id ("anonymous" for an anonymous observer). */
  id: string;
  /** Namespaces the user may use; undefined: all. */
  ns?: ReadonlySet<string>;
}

export type Decision = { allow: true } | { allow: false; reason: string };

const ALLOW: Decision = { allow: true };
const deny = (reason: string): Decision => ({ allow: false, reason });

/** Whether a literal namespace level (or `+`, for subscriptions) is a namespace name, and one of the user's. */
function nsAllowed(p: Principal, level: string | undefined): boolean {
  if (level === undefined || level === '' || level === '#') return false;
  if (level === '+') return p.ns === undefined;
  if (!NAMESPACE.test(level)) return false;
  return p.ns === undefined || p.ns.has(level);
}

const literal = (level: string | undefined): level is string => level !== undefined && level !== '' && !level.includes('+') && !level.includes('#');

/** May this principal publish on this topic? (Publish topics never hold wildcards; Aedes refuses them before.) */
export function canPublish(p: Principal, topic: string): Decision {
  if (topic.startsWith('$')) return deny('$-topics are reserved for the broker');
  if (p.role === 'admin') return ALLOW;
  if (p.role === 'observer') return deny('observers may not publish');
  const parts = topic.split('/');
  if (parts[0] !== 'hamsync' || !nsAllowed(p, parts[1]) || parts[1] === '+') return deny('devices publish only on hamsync topics of their namespaces');
  const kind = parts[2];
  const own = (i: number): boolean => parts.length === i + 1 && parts[i] === p.id;
  if (kind === 'sync' && (parts[3] === 'req' || parts[3] === 'ack') && own(4)) return ALLOW;
  if (p.role === 'node') return deny('cluster nodes publish only their own sync/req and sync/ack topics');
  if ((kind === 'put' || kind === 'presence') && own(3)) return ALLOW;
  return deny('devices publish only on their own put, sync/req, sync/ack and presence topics');
}

/** May this principal subscribe with this topic filter? */
export function canSubscribe(p: Principal, filter: string): Decision {
  if (p.role === 'admin') return ALLOW;
  const parts = filter.split('/');
  if (parts[0] !== 'hamsync') return deny(`${p.role}s subscribe only to hamsync topics`);
  if (!nsAllowed(p, parts[1])) return deny('not one of the user\'s namespaces');
  const kind = parts[2];
  const rest = parts.slice(3);
  // Exactly one more level, a literal or `+` (put and presence topics are hamsync/<ns>/<kind>/<device>).
  const oneDevice = rest.length === 1 && (rest[0] === '+' || literal(rest[0]));
  // Anything at or under the level (every such topic is of this kind): a valid MQTT filter tail.
  const anyBelow = rest.length >= 1 && rest.every((l, i) => l === '+' || (l === '#' && i === rest.length - 1) || literal(l));
  const ownSyncRes = kind === 'sync' && rest.length === 2 && rest[0] === 'res' && rest[1] === p.id;
  if (p.role === 'node') {
    if (ownSyncRes || (kind === 'hub' && rest.length === 0)) return ALLOW;
    return deny('cluster nodes subscribe only to the hub announcement and their own sync/res topic');
  }
  if (p.role === 'device') {
    if (kind === 'put' && oneDevice) return ALLOW;
    if (kind === 'presence' && oneDevice) return ALLOW;
    if (kind === 'state' && anyBelow) return ALLOW;
    if (ownSyncRes) return ALLOW;
    if (kind === 'hub' && rest.length === 0) return ALLOW;
    return deny('devices subscribe only to put, state and presence topics, the hub announcement and their own sync/res topic');
  }
  // observer
  if (kind === 'presence' && oneDevice) return ALLOW;
  if ((kind === 'state' || kind === 'replay') && anyBelow) return ALLOW;
  return deny('observers subscribe only to state, presence and replay topics');
}

/**
 * Client ids of the form `hamsync-<user>` or `hamsync-<user>.<anything>` are reserved for that
 * user (the daemon uses `hamsync-<id>`), so no one can take over another user's session.
 * A device or node must use one of its own; observers and admins may also use ids outside `hamsync-`;
 * anonymous clients only ids outside `hamsync-`.
 */
export function canUseClientId(p: Principal, clientId: string, anonymous = false): Decision {
  const m = /^hamsync-([^.]*)(?:\.|$)/.exec(clientId);
  if (m) {
    if (!anonymous && m[1] === p.id) return ALLOW;
    return deny(`client id ${JSON.stringify(clientId.slice(0, 80))} is reserved for user ${JSON.stringify((m[1] ?? '').slice(0, 64))}`);
  }
  if (p.role === 'device' || p.role === 'node') return deny(`a ${p.role} must use the client id hamsync-${p.id} (or hamsync-${p.id}.<suffix>)`);
  return ALLOW;
}
