import { checkPath } from './credentials.js';
import { HamsyncError, describe } from '../errors.js';
import { assertLevel } from '../log.js';
import { checkDriftPpm, parseClockOffset, parseDuration, parseHostPort } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import { assertKeyFilter, assertNamespace } from '../wire/topics.js';

/** Checks one config value; throws a HamsyncError naming `field` and the value it got. */
export type Check = (value: unknown, field: string) => void;

function fail(field: string, want: string, value: unknown): never {
  throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be ${want}, got ${describe(value)}`, { field });
}

const str: Check = (v, f) => {
  if (typeof v !== 'string' || v === '') fail(f, 'a non-empty string', v);
};
const port: Check = (v, f) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) fail(f, 'a port number from 0 to 65535', v);
};
/** A file path; may be ${CREDENTIALS_DIRECTORY}/<id> (src/config/credentials.ts). */
const file: Check = checkPath;
const hostPort: Check = (v, f) => void parseHostPort(v, f);
const level: Check = (v) => assertLevel(v);
const ns: Check = (v) => assertNamespace(v);
const id: Check = (v, f) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(v)) fail(f, '1-64 characters of [A-Za-z0-9_-]', v);
};
const filters: Check = (v, f) => {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) fail(f, 'a key filter or a list of them', v);
  (list as unknown[]).forEach((x) => assertKeyFilter(x));
};
const url: Check = (v, f) => {
  if (typeof v !== 'string' || !/^(mqtts?|wss?):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\/\S*)?$/.test(v)) fail(f, 'a URL like mqtt://host:1883 or mqtts://host:8883', v);
};
const window: Check = (v, f) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) fail(f, 'an integer from 1 to 65535', v);
};
const ppm: Check = (v, f) => void checkDriftPpm(v, f);
const clockOffset: Check = (v, f) => void parseClockOffset(v, f);
const size: Check = (v, f) => void parseSize(v, f);
const age: Check = (v, f) => {
  if (parseDuration(v, f) <= 0) fail(f, 'a positive duration like 30d or 12h', v);
};
const list: Check = (v, f) => {
  if (!Array.isArray(v)) fail(f, 'a list', v);
};
const count = (min: number): Check => (v, f) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(f, `a whole number >= ${min}`, v);
};
const positiveSize: Check = (v, f) => {
  if (parseSize(v, f) < 1) fail(f, 'a size of at least 1 byte, like 16MiB', v);
};
const bool: Check = (v, f) => {
  if (typeof v !== 'boolean') fail(f, 'true or false', v);
};

/** The deferred-queue and quarantine limits, the same for daemon and broker. */
const QUEUE_KEYS: Record<string, Check> = {
  maxFuture: age,
  deferredMax: count(1),
  deferredMaxBytes: positiveSize,
  quarantineMax: count(0),
};

/** Keys a daemon config file may hold; each can also be an env var HAMSYNC_<KEY> or a --flag. */
export const DAEMON_KEYS: Record<string, Check> = {
  id,
  broker: url,
  dataDir: str,
  ns,
  clockOffset,
  clockDriftPpm: ppm,
  subscribe: filters,
  http: hostPort,
  ca: file,
  cert: file,
  key: file,
  username: str,
  password: str,
  window,
  outboxMax: (v, f) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(f, 'a positive whole number of updates', v);
  },
  logLevel: level,
  sources: (v, f) => (typeof v === 'string' ? undefined : list(v, f)),
  profile: str,
  retainHistory: age,
  retainBytes: size,
  ...QUEUE_KEYS,
  /** Signed updates: this device's Ed25519 private key (PKCS#8 PEM); every local put is signed with it. */
  signingKey: file,
  /** Public keys to verify received updates with: a keys file, and/or a users file's `pub` fields. */
  keys: file,
  users: file,
  /** Refuse received updates from sources without a known key. */
  requireSigned: bool,
  /** Also apply the hub's retained state messages (state/<filter>), verified like the rest. */
  followState: bool,
  /** Reconnect backoff: first delay and cap (durations). */
  reconnectMin: age,
  reconnectMax: age,
  /** Clock guard: how far ahead of the hub's / GPS time the clock may run before local stamping stops. */
  maxClockAhead: age,
  /** Sync protocol v2: follow a hub's feed (`hub`), peers' puts (`peer`), or whichever is there (`auto`). */
  sync: (v, f) => {
    if (v !== 'auto' && v !== 'hub' && v !== 'peer') fail(f, 'one of auto, hub, peer', v);
  },
};

/** Keys a broker config file may hold. */
export const BROKER_KEYS: Record<string, Check> = {
  port,
  host: str,
  wsPort: port,
  dataDir: str,
  ns,
  logLevel: level,
  retainHistory: age,
  retainBytes: size,
  users: file,
  tlsCert: file,
  tlsKey: file,
  tlsCa: file,
  allowAnonymous: bool,
  /** The admin HTTP API and dashboard (off unless given); beyond loopback the broker requires TLS and an admin user. */
  http: hostPort,
  ...QUEUE_KEYS,
  /** Per-device put rate (updates/s; 0: off) and burst. */
  rateLimit: count(0),
  rateBurst: count(1),
  maxPacket: positiveSize,
  maxQueued: positiveSize,
  drainTimeout: age,
  maxConnections: count(1),
  /** Change log entries kept for sync v2 followers (older positions get a snapshot). */
  syncLogMax: count(1),
  /** Signed updates: a keys file of devices' public keys (merged with the users file's `pub`), and whether every put must be signed. */
  keys: file,
  requireSigned: bool,
};
