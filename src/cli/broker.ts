import type { Argv } from 'yargs';
import { HamsyncError } from '../errors.js';
import { assertNamespace } from '../wire/topics.js';
import { queueOptionsOf, retentionOf } from '../daemon/options.js';
import { parseDuration, parseHostPort } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import { checkNumber, POSITIVE_INT } from '../util/number-option.js';
import type { BrokerOptions } from '../../broker/server.js';
import { CREDENTIAL_PATH_KEYS, resolveCredentialPaths } from '../config/credentials.js';
import { BROKER_KEYS } from '../config/schema.js';
import { defaultDataDir, loggerFor, stopOnSignal, withConfig, withLogLevel } from './shared.js';

export const command = 'broker';
export const describe = 'Run the Aedes MQTT broker with the hub replica (resolves puts, publishes retained state)';

export function builder(y: Argv) {
  return withConfig(withLogLevel(y), BROKER_KEYS)
    .option('port', { type: 'number', default: 1883, describe: 'MQTT TCP port (0: any free port)' })
    .option('host', { type: 'string', default: '0.0.0.0', describe: 'address to listen on' })
    .option('ws-port', { type: 'number', describe: 'also serve MQTT over WebSocket on this port' })
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'hub replica directory (LMDB)' })
    .option('ns', { type: 'string', default: 'default', describe: 'namespace the hub resolves' })
    .option('retain-history', { type: 'string', describe: 'prune hub history older than this (by state), e.g. 30d; default: keep all' })
    .option('retain-bytes', { type: 'string', describe: 'prune the oldest hub history while it takes more than this, e.g. 2GB' })
    .option('users', { type: 'string', describe: 'users file (see `hamsync user`): require a login and apply the topic ACLs of each role; without it the broker is open' })
    .option('tls-cert', { type: 'string', describe: 'PEM certificate: serve MQTT (and WebSocket) over TLS' })
    .option('tls-key', { type: 'string', describe: 'PEM private key for --tls-cert' })
    .option('tls-ca', { type: 'string', describe: 'PEM CA: require client certificates it signed (mutual TLS; the CN is the user id)' })
    .option('http', { type: 'string', describe: 'admin HTTP API and drift dashboard on this host:port (status, fleet, deferred, quarantine release/drop); loopback without a login, elsewhere only with --tls-cert and an admin user in --users; default: off' })
    .option('max-future', { type: 'string', describe: 'horizon: updates stamped further ahead are quarantined, not deferred (default 30d)' })
    .option('deferred-max', { type: 'number', describe: 'most deferred updates per source; over it a message is refused whole (default 10000)' })
    .option('deferred-max-bytes', { type: 'string', describe: 'most bytes of deferred updates per source, key + value text (default 16MiB)' })
    .option('quarantine-max', { type: 'number', describe: 'most quarantined updates per source; 0 refuses them (default 1000)' })
    .option('rate-limit', { type: 'number', describe: 'most updates per second one device may put, sustained; over it the client is disconnected without an ack and resends later; 0: off (default 2000)' })
    .option('rate-burst', { type: 'number', describe: 'updates a device may put at once before --rate-limit applies (default 100000)' })
    .option('max-packet', { type: 'string', describe: 'largest MQTT packet, checked from its header before it is buffered; bigger: connection closed (default 320KiB)' })
    .option('max-queued', { type: 'string', describe: 'most bytes queued for a client that does not read; beyond: disconnected (default 32MiB)' })
    .option('drain-timeout', { type: 'string', describe: 'disconnect a client whose queued bytes make no progress this long (default 30s)' })
    .option('max-connections', { type: 'number', describe: 'most simultaneous connections per listener (default 10000)' })
    .option('sync-log-max', { type: 'number', describe: 'change log entries the hub keeps for sync v2 followers; a follower further behind gets a snapshot (default 1000000)' })
    .option('allow-anonymous', { type: 'boolean', default: false, describe: 'with --users: let clients without credentials in as read-only observers' })
    .option('keys', { type: 'string', describe: 'keys file of devices\' Ed25519 public keys (`hamsync key list --json`), with the users file\'s `pub`: puts from those devices must be signed' })
    .option('require-signed', { type: 'boolean', default: false, describe: 'refuse puts from devices without a known public key too' })
    .example('$0 broker --data-dir /var/lib/hamsync-broker', 'serve MQTT on :1883')
    .example('$0 broker --users /etc/hamsync/users.json --data-dir ./hub', 'require a login (see `hamsync user add`)')
    .example('$0 broker --port 1884 --ws-port 8080 --data-dir ./hub', 'TCP on 1884 and WebSocket on 8080')
    .example('$0 broker --data-dir ./hub --http 127.0.0.1:7900 --max-future 7d', 'admin API on 7900; quarantine updates stamped over 7 days ahead')
    .example('$0 broker --users users.json --require-signed --data-dir ./hub', 'every device must sign its puts with the key the users file has for it (`hamsync key set`)');
}

/** The per-connection and per-device limits from the command line (undefined: the broker's defaults). */
function connectionLimitsOf(argv: { rateLimit?: number; rateBurst?: number; maxPacket?: string; maxQueued?: string; drainTimeout?: string; maxConnections?: number; syncLogMax?: number }): Partial<BrokerOptions> {
  const out: Partial<BrokerOptions> = {};
  if (argv.rateLimit !== undefined || argv.rateBurst !== undefined) out.rateLimit = { perSecond: argv.rateLimit, burst: argv.rateBurst };
  if (argv.maxPacket !== undefined) out.maxPacketBytes = parseSize(argv.maxPacket, 'max-packet');
  if (argv.maxQueued !== undefined) out.maxQueuedBytes = parseSize(argv.maxQueued, 'max-queued');
  if (argv.drainTimeout !== undefined) out.drainTimeoutMs = parseDuration(argv.drainTimeout, 'drain-timeout');
  if (argv.maxConnections !== undefined) out.maxConnections = argv.maxConnections;
  if (argv.syncLogMax !== undefined) out.syncLogMax = checkNumber(argv.syncLogMax, 'sync-log-max', POSITIVE_INT);
  return out;
}

export async function handler(argv: { port: number; host: string; wsPort?: number; dataDir: string; ns: string; retainHistory?: string; retainBytes?: string; users?: string; allowAnonymous?: boolean; tlsCert?: string; tlsKey?: string; tlsCa?: string; http?: string; maxFuture?: string; deferredMax?: number; deferredMaxBytes?: string; quarantineMax?: number; rateLimit?: number; rateBurst?: number; maxPacket?: string; maxQueued?: string; drainTimeout?: string; maxConnections?: number; syncLogMax?: number; keys?: string; requireSigned?: boolean; logLevel: string }): Promise<void> {
  const log = loggerFor(argv.logLevel, { app: 'hamsync-broker' });
  // Files passed as systemd credentials: ${CREDENTIALS_DIRECTORY}/<id> (docs/operations.md).
  argv = resolveCredentialPaths(argv, CREDENTIAL_PATH_KEYS.broker);
  for (const [field, v] of [['port', argv.port], ['ws-port', argv.wsPort]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 65535)) {
      throw new HamsyncError('HAMSYNC_ERR_CONFIG', `--${field} must be a port from 0 to 65535, got ${String(v)}`, { field });
    }
  }
  assertNamespace(argv.ns);
  if (argv.allowAnonymous && argv.users === undefined) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', '--allow-anonymous only makes sense with --users (without a users file the broker is open anyway)', { field: 'allow-anonymous' });
  }
  if ((argv.tlsCert === undefined) !== (argv.tlsKey === undefined) || (argv.tlsCa !== undefined && argv.tlsCert === undefined)) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', '--tls-cert and --tls-key go together, and --tls-ca needs them', { field: 'tls-cert' });
  }
  const { startBroker } = await import('../../broker/server.js');
  const retention = retentionOf(argv.retainHistory, argv.retainBytes);
  const queues = queueOptionsOf(argv);
  // Loopback, or TLS and an admin user: checked by startBroker (broker/web/admin-login.ts).
  const http = argv.http === undefined ? undefined : parseHostPort(argv.http, 'http');
  const broker = await startBroker({ port: argv.port, host: argv.host, wsPort: argv.wsPort, dataDir: argv.dataDir, ns: argv.ns, log, replica: { retention, ...queues }, ...(http ? { http } : {}),
    ...connectionLimitsOf(argv),
    ...(argv.keys !== undefined ? { keysFile: argv.keys } : {}),
    requireSigned: argv.requireSigned === true,
    ...(argv.users !== undefined ? { auth: { usersFile: argv.users, allowAnonymous: argv.allowAnonymous === true } } : {}),
    ...(argv.tlsCert !== undefined && argv.tlsKey !== undefined ? { tls: { cert: argv.tlsCert, key: argv.tlsKey, ...(argv.tlsCa !== undefined ? { ca: argv.tlsCa } : {}) } } : {}),
  });
  // One line on stdout that scripts (and tests) can read: where we listen.
  // Handlers first: whoever reads the listening line may signal us at once.
  stopOnSignal(() => broker.close(), log);
  process.stdout.write(`${JSON.stringify({ listening: { port: broker.port, wsPort: broker.wsPort, http: broker.httpPort } })}\n`);
}
