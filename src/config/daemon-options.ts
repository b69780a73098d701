/**
 * The options of `hamsync daemon`, one entry each: its config file key (camelCase), flag
 * (kebab-case), env var (HAMSYNC_SNAKE_CASE), type, default, unit, description and check.
 * The CLI, `hamsync config check`, `DaemonInput` and docs/configuration.md are made from it.
 */
import { age, bool, brokerUrls, clockOffset, deviceId, file, filters, hostPort, integer, listOrText, ns, ppm, size, str } from './checks.js';
import { numberCheck, oneOf } from '../util/check.js';
import { optionTable, type OptionsOf } from './option-table.js';
import { defaultDataDir, LOG_LEVEL, queueOptions } from './shared-options.js';

export const SYNC_SETTINGS = ['auto', 'hub', 'peer'] as const;

export const DAEMON = optionTable({
  ...LOG_LEVEL,
  id: { type: 'string', required: true, check: deviceId, describe: 'device id, 1-64 of [A-Za-z0-9_-]' },
  broker: { type: 'list', default: ['mqtt://127.0.0.1:1883'], check: brokerUrls, describe: 'broker URL (mqtt://, mqtts://, ws://, wss://); repeatable: the nodes of a hub cluster, tried in turn when the current one is unreachable' },
  dataDir: { type: 'string', required: true, default: defaultDataDir, defaultText: '$STATE_DIRECTORY or ./hamsync-data', check: str, describe: 'replica directory (LMDB)' },
  ns: { type: 'string', default: 'default', check: ns, describe: 'namespace' },
  clockOffset: { type: 'duration', unit: 'ms', default: '0', check: clockOffset, describe: 'added to the wall clock: +5s, -2m, 250ms (simulate or correct drift)' },
  subscribe: { type: 'list', default: ['#'], check: filters, describe: 'key filter to replicate (MQTT-style + and #); repeatable' },
  http: { type: 'string', default: '127.0.0.1:7878', check: hostPort, describe: 'local HTTP API address' },
  ca: { type: 'string', check: file, describe: 'CA certificate file for mqtts:// or wss://' },
  cert: { type: 'string', check: file, describe: 'client certificate (PEM) for a broker requiring mutual TLS' },
  key: { type: 'string', check: file, describe: 'private key (PEM) for --cert' },
  username: { type: 'string', check: str, describe: 'MQTT username' },
  profile: { type: 'string', check: str, describe: 'device profile for telemetry sources: raspberry-pi, gps-unit, simulated, or a JSON file' },
  sources: { type: 'json', check: listOrText, describe: 'telemetry sources as JSON (overrides the profile), e.g. \'[{"type":"simulated","interval":"1s"}]\'' },
  clockDriftPpm: { type: 'number', unit: 'ppm', defaultBy: 'merge', default: 0, check: ppm, describe: 'simulate a clock running this many parts per million fast (negative: slow)' },
  window: { type: 'number', unit: 'messages', default: 64, check: integer(1, 65535), describe: 'put messages in flight to the broker at once' },
  outboxMax: { type: 'number', unit: 'updates', default: 1_000_000, check: numberCheck([(n) => Number.isSafeInteger(n) && n >= 1, 'a positive whole number of updates']), describe: 'most updates waiting for the broker; further local puts are refused (HTTP 503)' },
  retainHistory: { type: 'duration', unit: 'ms', defaultText: 'keep all', check: age, describe: 'prune history older than this (by state), e.g. 30d; default: keep all' },
  retainBytes: { type: 'size', unit: 'bytes', defaultText: 'no cap', check: size, describe: 'prune the oldest history while it takes more than this, e.g. 500MB' },
  ...queueOptions('a batch'),
  password: { type: 'string', check: str, describe: 'MQTT password (or env HAMSYNC_PASSWORD)' },
  signingKey: { type: 'string', defaultText: 'unsigned', check: file, describe: 'this device\'s Ed25519 private key (`hamsync key generate`): every local put is signed with it' },
  keys: { type: 'string', check: file, describe: 'keys file of devices\' public keys (`hamsync key list --json`): updates received from them must carry their valid signatures' },
  users: { type: 'string', check: file, describe: 'a users file whose `pub` fields are public keys to verify with too' },
  requireSigned: { type: 'boolean', default: false, check: bool, describe: 'refuse received updates from sources without a known public key' },
  reconnectMin: { type: 'duration', unit: 'ms', defaultBy: 'program', default: '1s', check: age, describe: 'first delay before reconnecting to the broker after a failure or a refused login' },
  reconnectMax: { type: 'duration', unit: 'ms', defaultBy: 'program', default: '60s', check: age, describe: 'cap of the reconnect delay, which doubles with ±20 % jitter' },
  maxClockAhead: { type: 'duration', unit: 'ms', defaultText: 'maxFuture (30d)', check: age, describe: 'clock guard: refuse to stamp local puts (HAMSYNC_ERR_CLOCK) while the clock is this far ahead of the hub\'s or GPS time (default: --max-future, 30d)' },
  followState: { type: 'boolean', default: false, check: bool, describe: 'also apply the hub\'s retained state messages for the --subscribe filters (verified like the rest)' },
  sync: { type: 'string', choices: SYNC_SETTINGS, default: 'auto', check: oneOf(SYNC_SETTINGS), describe: 'sync protocol v2: hub (follow the hub\'s feed), peer (peers\' puts through a plain broker), auto (hub when one announces itself)' },
});

/** Options of `hamsync daemon`, as given (CLI, env, config file or code). */
export type DaemonInput = OptionsOf<typeof DAEMON>;

/** The daemon's `--sync` setting. */
export type SyncSetting = (typeof SYNC_SETTINGS)[number];
