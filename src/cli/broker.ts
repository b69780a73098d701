import type { Argv } from 'yargs';
import { hostname } from 'node:os';
import { HamsyncError } from '../errors.js';
import { assertNamespace } from '../wire/topics.js';
import { queueOptionsOf, retentionOf } from '../config/queues.js';
import { parseDuration, parseHostPort } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import { checkNumber, POSITIVE_INT } from '../util/check.js';
import type { BrokerOptions } from '../../broker/server.js';
import { CREDENTIAL_PATH_KEYS, resolveCredentialPaths } from '../config/credentials.js';
import { BROKER, type BrokerInput } from '../config/broker-options.js';
import type { Merged } from '../config/option-table.js';
import { loggerFor, stopOnSignal, withOptions } from './shared.js';
import { readFileOrFail } from '../util/read-file.js';

export const command = 'broker';
export const describe = 'Run the Aedes MQTT broker with the hub replica (resolves puts, publishes retained state)';

export function builder(y: Argv) {
  return withOptions(y, BROKER)
    .example('$0 broker --data-dir /var/lib/hamsync-broker', 'serve MQTT on :1883')
    .example('$0 broker --users /etc/hamsync/users.json --data-dir ./hub', 'require a login (see `hamsync user add`)')
    .example('$0 broker --port 1884 --ws-port 8080 --data-dir ./hub', 'TCP on 1884 and WebSocket on 8080')
    .example('$0 broker --data-dir ./hub --http 127.0.0.1:7900 --max-future 7d', 'admin API on 7900; quarantine updates stamped over 7 days ahead')
    .example('$0 broker --users users.json --require-signed --data-dir ./hub', 'every device must sign its puts with the key the users file has for it (`hamsync key set`)');
}

/** The per-connection and per-device limits from the command line (undefined: the broker's defaults). */
function connectionLimitsOf(argv: BrokerInput): Partial<BrokerOptions> {
  const out: Partial<BrokerOptions> = {};
  if (argv.rateLimit !== undefined || argv.rateBurst !== undefined) out.rateLimit = { perSecond: argv.rateLimit, burst: argv.rateBurst };
  if (argv.maxPacket !== undefined) out.maxPacketBytes = parseSize(argv.maxPacket, 'max-packet');
  if (argv.maxQueued !== undefined) out.maxQueuedBytes = parseSize(argv.maxQueued, 'max-queued');
  if (argv.drainTimeout !== undefined) out.drainTimeoutMs = parseDuration(argv.drainTimeout, 'drain-timeout');
  if (argv.maxConnections !== undefined) out.maxConnections = argv.maxConnections;
  if (argv.syncLogMax !== undefined) out.syncLogMax = checkNumber(argv.syncLogMax, 'sync-log-max', POSITIVE_INT);
  return out;
}

export async function handler(argv: Merged<typeof BROKER>): Promise<void> {
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
    ...(argv.cluster !== undefined ? { cluster: { url: argv.cluster, nodeId: argv.nodeId ?? hostname(), ...(argv.advertise !== undefined ? { advertise: argv.advertise } : {}), logMax: argv.clusterLogMax, ...clusterLoginOf(argv) } } : {}),
    ...(argv.users !== undefined ? { auth: { usersFile: argv.users, allowAnonymous: argv.allowAnonymous === true } } : {}),
    ...(argv.tlsCert !== undefined && argv.tlsKey !== undefined ? { tls: { cert: argv.tlsCert, key: argv.tlsKey, ...(argv.tlsCa !== undefined ? { ca: argv.tlsCa } : {}) } } : {}),
  });
  // One line on stdout that scripts (and tests) can read: where we listen.
  // Handlers first: whoever reads the listening line may signal us at once.
  stopOnSignal(() => broker.close(), log);
  process.stdout.write(`${JSON.stringify({ listening: { port: broker.port, wsPort: broker.wsPort, http: broker.httpPort } })}\n`);
}

/** The node's login at its peers (--cluster-user, --cluster-password-file: the file's first line). */
function clusterLoginOf(argv: { clusterUser?: string; clusterPasswordFile?: string }): { username?: string; password?: string } {
  if (argv.clusterUser === undefined) return {};
  const password = argv.clusterPasswordFile === undefined ? undefined : readFileOrFail(argv.clusterPasswordFile, 'cluster password file').toString('utf8').split(/\r?\n/)[0];
  return { username: argv.clusterUser, ...(password === undefined ? {} : { password }) };
}
