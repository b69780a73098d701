import { HamsyncError, describe } from '../errors.js';
import { loopbackOnly } from '../admin/http-kit.js';
import { DAEMON_KEYS } from '../config/schema.js';
import { queueOptionsOf, retentionOf, type QueueOptions } from '../config/queues.js';
import { DEFAULT_QUEUE_LIMITS } from '../sync/queue-limits.js';
import { parseClockOffset, parseDuration, parseHostPort } from '../util/duration.js';
import { sourceConfigs } from '../config/sources.js';

/** Options of `hamsync daemon`, as given (CLI, env, config file or code). Defaults in brackets. */
export interface DaemonInput {
  /** Device id, 1-64 of [A-Za-z0-9_-]. Required. */
  id: string;
  /** Broker URL: mqtt://host:port, mqtts://host:port, ws:// or wss://. [mqtt://127.0.0.1:1883] */
  broker?: string;
  /** Data directory of the device's replica. Required. */
  dataDir: string;
  /** Namespace. [default] */
  ns?: string;
  /** Clock offset, a duration with a unit (+5s, -2m), within ±366d. [0] */
  clockOffset?: string | number;
  /** Clock rate error in parts per million, to simulate a drifting clock; within ±100000. [0] */
  clockDriftPpm?: number;
  /** Key filters (MQTT-style + and #) this device replicates. [["#"]] */
  subscribe?: string[];
  /** Local HTTP API address, host:port. [127.0.0.1:7878] */
  http?: string;
  /** CA certificate file for mqtts:// / wss://. */
  ca?: string;
  /** Client certificate and key (PEM) for a broker that requires mutual TLS; the CN is the device id. */
  cert?: string;
  key?: string;
  /** MQTT username and password, if the broker asks for them. */
  username?: string;
  password?: string;
  /** Put messages in flight to the broker at once. [64] */
  window?: number;
  /** Most updates the outbox may hold while the broker is unreachable; further local puts are refused. [1000000] */
  outboxMax?: number;
  /** Telemetry sources feeding the replica (see devices/); a list, or JSON text. [none] */
  sources?: unknown;
  /** A device profile whose sources are used when `sources` is not given. */
  profile?: string;
  /** Prune history rows whose state is older than this duration (e.g. 30d). [keep all] */
  retainHistory?: string | number;
  /** Prune the oldest history rows while history takes more than this (e.g. 500MB). [no cap] */
  retainBytes?: string | number;
  /** The horizon: updates stamped further ahead than this are quarantined, not deferred (a duration). [30d] */
  maxFuture?: string | number;
  /** Most deferred updates per source. [10000] */
  deferredMax?: number;
  /** Most bytes of deferred updates per source (key + value text), a size like 16MiB. [16MiB] */
  deferredMaxBytes?: string | number;
  /** Most quarantined updates per source (0: refuse them). [1000] */
  quarantineMax?: number;
  /** This device's Ed25519 private key (PKCS#8 PEM, `hamsync key generate`): every local put is signed with it. [unsigned] */
  signingKey?: string;
  /** A keys file of devices' public keys: updates received from those devices must carry their valid signatures. [none] */
  keys?: string;
  /** A users file whose `pub` fields are used as public keys too (merged with `keys`). [none] */
  users?: string;
  /** Refuse received updates from sources without a known public key. [false] */
  requireSigned?: boolean;
  /** Also subscribe to the hub's retained state topics and apply them (verified like puts and catch-up). [false] */
  followState?: boolean;
  /** First delay before reconnecting to the broker after a failure (a refused login included), a duration. [1s] */
  reconnectMin?: string | number;
  /** Most delay between reconnect attempts: the delay doubles up to it, with ±20 % jitter. [60s] */
  reconnectMax?: string | number;
  /**
   * Clock guard: how far ahead of the reference time (the hub's clock, GPS time) the clock may
   * run before the daemon refuses to stamp local puts with it (HAMSYNC_ERR_CLOCK). [maxFuture, 30d]
   */
  maxClockAhead?: string | number;
  /**
   * Sync protocol v2 mode: `hub` follows a hub's feed (no put/+), `peer` takes peers' puts from
   * put/+ (a plain broker, no hub), `auto` follows a hub when one announces itself. [auto]
   */
  sync?: SyncSetting;
}

/** The daemon's `--sync` setting. */
export type SyncSetting = 'auto' | 'hub' | 'peer';

export interface DaemonConfig {
  id: string;
  broker: string;
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

/** Validates once, at start (the same checks as `hamsync config check`): errors name the field and the value. */
export function daemonConfig(input: DaemonInput): DaemonConfig {
  if (input.id === undefined) throw new HamsyncError('HAMSYNC_ERR_CONFIG', 'id is required', { field: 'id' });
  if (input.dataDir === undefined) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `dataDir is required, got ${describe(input.dataDir)}`, { field: 'dataDir' });
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const check = DAEMON_KEYS[key];
    if (!check) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `unknown daemon option ${key}`, { field: key });
    check(value, key);
  }
  const queues = queueOptionsOf(input);
  return {
    id: input.id,
    broker: input.broker ?? 'mqtt://127.0.0.1:1883',
    dataDir: input.dataDir,
    ns: input.ns ?? 'default',
    clockOffsetMs: parseClockOffset(input.clockOffset ?? 0, 'clockOffset'),
    clockDriftPpm: input.clockDriftPpm ?? 0,
    subscribe: input.subscribe && input.subscribe.length > 0 ? input.subscribe : ['#'],
    http: loopbackOnly(parseHostPort(input.http ?? '127.0.0.1:7878', 'http')),
    ca: input.ca,
    cert: input.cert,
    key: input.key,
    username: input.username,
    password: input.password,
    window: input.window ?? 64,
    outboxMax: input.outboxMax ?? 1_000_000,
    retention: retentionOf(input.retainHistory, input.retainBytes),
    queues,
    sources: sourceConfigs(input.sources, input.profile),
    signingKey: input.signingKey,
    keys: input.keys,
    users: input.users,
    requireSigned: input.requireSigned ?? false,
    followState: input.followState ?? false,
    reconnect: reconnectOf(input.reconnectMin, input.reconnectMax),
    maxClockAheadMs: input.maxClockAhead === undefined ? (queues.maxFutureMs ?? DEFAULT_QUEUE_LIMITS.maxFutureMs) : positiveDuration(input.maxClockAhead, 'maxClockAhead'),
    sync: input.sync ?? 'auto',
  };
}

function positiveDuration(value: unknown, field: string): number {
  const ms = parseDuration(value, field);
  if (!(ms > 0)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be a positive duration like 1s or 30d, got ${describe(value)}`, { field });
  return ms;
}

/** The reconnect backoff: `reconnectMin` [1s] doubling up to `reconnectMax` [60s]; min must not exceed max. */
function reconnectOf(min: unknown, max: unknown): { minMs: number; maxMs: number } {
  const minMs = min === undefined ? 1000 : positiveDuration(min, 'reconnectMin');
  const maxMs = max === undefined ? Math.max(60_000, minMs) : positiveDuration(max, 'reconnectMax');
  if (minMs > maxMs) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `reconnectMin (${describe(min)}) must not be more than reconnectMax (${describe(max)})`, { field: 'reconnectMin' });
  return { minMs, maxMs };
}
