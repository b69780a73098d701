import { HamsyncError, describe } from '../errors.js';
import { loopbackOnly } from '../admin/http-kit.js';
import { DAEMON, type DaemonInput, type SyncSetting } from '../config/daemon-options.js';
import { withDefaults, type OptionEntry } from '../config/option-table.js';
import { queueOptionsOf, retentionOf, type QueueOptions } from '../config/queues.js';
import { DEFAULT_QUEUE_LIMITS } from '../sync/queue-limits.js';
import { parseClockOffset, parseDuration, parseHostPort } from '../util/duration.js';
import { sourceConfigs } from '../config/sources.js';

export type { DaemonInput, SyncSetting } from '../config/daemon-options.js';

export interface DaemonConfig {
  id: string;
  /** The first of `brokers`. */
  broker: string;
  /** The broker URLs, tried in turn (src/daemon/brokers.ts); duplicates removed. */
  brokers: string[];
  dataDir: string;
  ns: string;
  clockOffsetMs: number;
  clockDriftPpm: number;
  subscribe: string[];
  http: { host: string; port: number };
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
  username: string | undefined;
  password: string | undefined;
  window: number;
  outboxMax: number;
  retention: { maxAgeMs?: number; maxBytes?: number };
  /** Only the queue limits given; the replica fills in its defaults. */
  queues: QueueOptions;
  sources: unknown[];
  signingKey: string | undefined;
  keys: string | undefined;
  users: string | undefined;
  requireSigned: boolean;
  followState: boolean;
  reconnect: { minMs: number; maxMs: number };
  /** The clock guard's threshold in ms. */
  maxClockAheadMs: number;
  sync: SyncSetting;
}

/**
 * Validates once, at start (the same checks as `hamsync config check`), and merges the table's
 * defaults (src/config/daemon-options.ts): errors name the field and the value.
 */
export function daemonConfig(input: DaemonInput): DaemonConfig {
  for (const [key, e] of Object.entries(DAEMON)) {
    if ((e as OptionEntry).required && (input as Record<string, unknown>)[key] === undefined) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${key} is required, got undefined`, { field: key });
  }
  const o = withDefaults(DAEMON, input, (key) => {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `unknown daemon option ${key}`, { field: key });
  });
  const queues = queueOptionsOf(o);
  const brokers = [...new Set(typeof o.broker === 'string' ? [o.broker] : o.broker)];
  const subscribe = typeof o.subscribe === 'string' ? [o.subscribe] : o.subscribe;
  return {
    id: o.id,
    broker: brokers[0] as string,
    brokers,
    dataDir: o.dataDir,
    ns: o.ns,
    clockOffsetMs: parseClockOffset(o.clockOffset, 'clockOffset'),
    clockDriftPpm: o.clockDriftPpm,
    subscribe: subscribe.length > 0 ? subscribe : [...DAEMON.subscribe.default],
    http: loopbackOnly(parseHostPort(o.http, 'http')),
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    username: o.username,
    password: o.password,
    window: o.window,
    outboxMax: o.outboxMax,
    retention: retentionOf(o.retainHistory, o.retainBytes),
    queues,
    sources: sourceConfigs(o.sources, o.profile),
    signingKey: o.signingKey,
    keys: o.keys,
    users: o.users,
    requireSigned: o.requireSigned,
    followState: o.followState,
    reconnect: reconnectOf(o.reconnectMin, o.reconnectMax),
    maxClockAheadMs: o.maxClockAhead === undefined ? (queues.maxFutureMs ?? DEFAULT_QUEUE_LIMITS.maxFutureMs) : positiveDuration(o.maxClockAhead, 'maxClockAhead'),
    sync: o.sync,
  };
}

function positiveDuration(value: unknown, field: string): number {
  const ms = parseDuration(value, field);
  if (!(ms > 0)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be a positive duration like 1s or 30d, got ${describe(value)}`, { field });
  return ms;
}

/** The reconnect backoff: `reconnectMin` [1s] doubling up to `reconnectMax` [60s]; min must not exceed max. */
function reconnectOf(min: unknown, max: unknown): { minMs: number; maxMs: number } {
  const minMs = positiveDuration(min ?? DAEMON.reconnectMin.default, 'reconnectMin');
  const maxMs = max === undefined ? Math.max(parseDuration(DAEMON.reconnectMax.default, 'reconnectMax'), minMs) : positiveDuration(max, 'reconnectMax');
  if (minMs > maxMs) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `reconnectMin (${describe(min)}) must not be more than reconnectMax (${describe(max)})`, { field: 'reconnectMin' });
  return { minMs, maxMs };
}
