/**
 * The options of `hamsync broker`, one entry each (see daemon-options.ts), and the broker's
 * defaults, which broker/server.ts applies.
 */
import { DEFAULT_WIRE_LIMITS } from '../wire/codec.js';
import { age, bool, brokerUrl, count, file, hostPort, nodeId, ns, port, positiveSize, redisUrl, size, str } from './checks.js';
import { bytesText, msText, optionTable, type OptionsOf } from './option-table.js';
import { defaultDataDir, LOG_LEVEL, queueOptions } from './shared-options.js';

/** The broker's limits when not given (broker/server.ts, broker/rate-limit.ts, broker/feed/log-retention.ts). */
export const BROKER_DEFAULTS = Object.freeze({
  /** Largest MQTT packet: the largest payload plus this, room for the topic and header. */
  packetHeadroomBytes: 64 * 1024,
  maxQueuedBytes: 32 * 1024 * 1024,
  drainTimeoutMs: 30_000,
  maxConnections: 10_000,
  syncLogMax: 1_000_000,
  rateLimit: Object.freeze({ perSecond: 2000, burst: 100_000 }),
});

export const BROKER = optionTable({
  ...LOG_LEVEL,
  port: { type: 'number', default: 1883, check: port, describe: 'MQTT TCP port (0: any free port)' },
  host: { type: 'string', default: '0.0.0.0', check: str, describe: 'address to listen on' },
  wsPort: { type: 'number', defaultText: 'off', check: port, describe: 'also serve MQTT over WebSocket on this port' },
  dataDir: { type: 'string', default: defaultDataDir, defaultText: '$STATE_DIRECTORY or ./hamsync-data', check: str, describe: 'hub replica directory (LMDB)' },
  ns: { type: 'string', default: 'default', check: ns, describe: 'namespace the hub resolves' },
  retainHistory: { type: 'duration', unit: 'ms', defaultText: 'keep all', check: age, describe: 'prune hub history older than this (by state), e.g. 30d; default: keep all' },
  retainBytes: { type: 'size', unit: 'bytes', defaultText: 'no cap', check: size, describe: 'prune the oldest hub history while it takes more than this, e.g. 2GB' },
  users: { type: 'string', defaultText: 'none: open broker', check: file, describe: 'users file (see `hamsync user`): require a login and apply the topic ACLs of each role; without it the broker is open' },
  tlsCert: { type: 'string', check: file, describe: 'PEM certificate: serve MQTT (and WebSocket) over TLS' },
  tlsKey: { type: 'string', check: file, describe: 'PEM private key for --tls-cert' },
  tlsCa: { type: 'string', check: file, describe: 'PEM CA: require client certificates it signed (mutual TLS; the CN is the user id)' },
  http: { type: 'string', defaultText: 'off', check: hostPort, describe: 'admin HTTP API and drift dashboard on this host:port (status, fleet, deferred, quarantine release/drop); loopback without a login, elsewhere only with --tls-cert and an admin user in --users; default: off' },
  ...queueOptions('a message'),
  rateLimit: { type: 'number', unit: 'updates/s', defaultBy: 'program', default: BROKER_DEFAULTS.rateLimit.perSecond, check: count(0), describe: 'most updates per second one device may put, sustained; over it the client is disconnected without an ack and resends later; 0: off' },
  rateBurst: { type: 'number', unit: 'updates', defaultBy: 'program', default: BROKER_DEFAULTS.rateLimit.burst, check: count(1), describe: 'updates a device may put at once before --rate-limit applies' },
  maxPacket: { type: 'size', unit: 'bytes', defaultBy: 'program', default: bytesText(DEFAULT_WIRE_LIMITS.maxPayloadBytes + BROKER_DEFAULTS.packetHeadroomBytes), check: positiveSize, describe: 'largest MQTT packet, checked from its header before it is buffered; bigger: connection closed' },
  maxQueued: { type: 'size', unit: 'bytes', defaultBy: 'program', default: bytesText(BROKER_DEFAULTS.maxQueuedBytes), check: positiveSize, describe: 'most bytes queued for a client that does not read; beyond: disconnected' },
  drainTimeout: { type: 'duration', unit: 'ms', defaultBy: 'program', default: msText(BROKER_DEFAULTS.drainTimeoutMs), check: age, describe: 'disconnect a client whose queued bytes make no progress this long' },
  maxConnections: { type: 'number', unit: 'connections', defaultBy: 'program', default: BROKER_DEFAULTS.maxConnections, check: count(1), describe: 'most simultaneous connections per listener' },
  syncLogMax: { type: 'number', unit: 'entries', defaultBy: 'program', default: BROKER_DEFAULTS.syncLogMax, check: count(1), describe: 'change log entries the hub keeps for sync v2 followers; a follower further behind gets a snapshot' },
  allowAnonymous: { type: 'boolean', default: false, check: bool, describe: 'with --users: let clients without credentials in as read-only observers' },
  keys: { type: 'string', check: file, describe: 'keys file of devices\' Ed25519 public keys (`hamsync key list --json`), with the users file\'s `pub`: puts from those devices must be signed' },
  requireSigned: { type: 'boolean', default: false, check: bool, describe: 'refuse puts from devices without a known public key too' },
  cluster: { type: 'string', defaultText: 'off: a single broker', check: redisUrl, describe: 'join a hub cluster sharing this Redis server (redis://host:6379): every node holds every update (docs/operations.md "Cluster")' },
  nodeId: { type: 'string', defaultText: 'the host name', check: nodeId, describe: 'with --cluster: this node\'s id, unique in the cluster' },
  advertise: { type: 'string', defaultText: 'mqtt://<host>:<port>', check: brokerUrl, describe: 'with --cluster: the MQTT URL other nodes reach this node at (snapshots between nodes)' },
  clusterUser: { type: 'string', defaultText: 'none', check: str, describe: 'with --cluster: the user this node logs in as at its peers for snapshots (a user of role node, `hamsync user add <id> --role node`), when they run with --users' },
  clusterPasswordFile: { type: 'string', check: file, describe: 'with --cluster-user: a file holding that user\'s password' },
  clusterLogMax: { type: 'number', unit: 'entries', defaultBy: 'program', default: 1_000_000, check: count(1), describe: 'with --cluster: entries the shared Redis stream keeps (one per durable batch); a node further behind takes snapshots from its peers' },
});

/** Options of `hamsync broker`, as given (CLI, env or config file). */
export type BrokerInput = OptionsOf<typeof BROKER>;
