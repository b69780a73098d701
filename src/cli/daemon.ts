import type { Argv } from 'yargs';
import { CREDENTIAL_PATH_KEYS, resolveCredentialPaths } from '../config/credentials.js';
import { DAEMON_KEYS } from '../config/schema.js';
import type { DaemonInput } from '../daemon/daemon.js';
import { defaultDataDir, loggerFor, stopOnSignal, withConfig, withLogLevel } from './shared.js';

export const command = 'daemon';
export const describe = 'Run the device daemon: local replica, store-and-forward outbox, MQTT link, local HTTP API';

export function builder(y: Argv) {
  return withConfig(withLogLevel(y), DAEMON_KEYS)
    .option('id', { type: 'string', demandOption: true, describe: 'device id, 1-64 of [A-Za-z0-9_-]' })
    .option('broker', { type: 'string', default: 'mqtt://127.0.0.1:1883', describe: 'broker URL (mqtt://, mqtts://, ws://, wss://)' })
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'replica directory (LMDB)' })
    .option('ns', { type: 'string', default: 'default', describe: 'namespace' })
    .option('clock-offset', { type: 'string', default: '0', describe: 'added to the wall clock: +5s, -2m, 250ms (simulate or correct drift)' })
    .option('subscribe', { type: 'string', array: true, default: ['#'], describe: 'key filter to replicate (MQTT-style + and #); repeatable' })
    .option('http', { type: 'string', default: '127.0.0.1:7878', describe: 'local HTTP API address' })
    .option('ca', { type: 'string', describe: 'CA certificate file for mqtts:// or wss://' })
    .option('cert', { type: 'string', describe: 'client certificate (PEM) for a broker requiring mutual TLS' })
    .option('key', { type: 'string', describe: 'private key (PEM) for --cert' })
    .option('username', { type: 'string', describe: 'MQTT username' })
    .option('profile', { type: 'string', describe: 'device profile for telemetry sources: raspberry-pi, gps-unit, simulated, or a JSON file' })
    .option('sources', { type: 'string', describe: 'telemetry sources as JSON (overrides the profile), e.g. \'[{"type":"simulated","interval":"1s"}]\'' })
    .option('clock-drift-ppm', { type: 'number', describe: 'simulate a clock running this many parts per million fast (negative: slow)' })
    .option('window', { type: 'number', default: 64, describe: 'put messages in flight to the broker at once' })
    .option('outbox-max', { type: 'number', default: 1_000_000, describe: 'most updates waiting for the broker; further local puts are refused (HTTP 503)' })
    .option('retain-history', { type: 'string', describe: 'prune history older than this (by state), e.g. 30d; default: keep all' })
    .option('retain-bytes', { type: 'string', describe: 'prune the oldest history while it takes more than this, e.g. 500MB' })
    .option('max-future', { type: 'string', describe: 'horizon: updates stamped further ahead are quarantined, not deferred (default 30d)' })
    .option('deferred-max', { type: 'number', describe: 'most deferred updates per source; over it a batch is refused whole (default 10000)' })
    .option('deferred-max-bytes', { type: 'string', describe: 'most bytes of deferred updates per source, key + value text (default 16MiB)' })
    .option('quarantine-max', { type: 'number', describe: 'most quarantined updates per source; 0 refuses them (default 1000)' })
    .option('password', { type: 'string', default: process.env.HAMSYNC_PASSWORD, describe: 'MQTT password (or env HAMSYNC_PASSWORD)' })
    .option('signing-key', { type: 'string', describe: 'this device\'s Ed25519 private key (`hamsync key generate`): every local put is signed with it' })
    .option('keys', { type: 'string', describe: 'keys file of devices\' public keys (`hamsync key list --json`): updates received from them must carry their valid signatures' })
    .option('users', { type: 'string', describe: 'a users file whose `pub` fields are public keys to verify with too' })
    .option('require-signed', { type: 'boolean', default: false, describe: 'refuse received updates from sources without a known public key' })
    .option('reconnect-min', { type: 'string', describe: 'first delay before reconnecting to the broker after a failure or a refused login (default 1s)' })
    .option('reconnect-max', { type: 'string', describe: 'cap of the reconnect delay, which doubles with ±20 % jitter (default 60s)' })
    .option('max-clock-ahead', { type: 'string', describe: 'clock guard: refuse to stamp local puts (HAMSYNC_ERR_CLOCK) while the clock is this far ahead of the hub\'s or GPS time (default: --max-future, 30d)' })
    .option('follow-state', { type: 'boolean', default: false, describe: 'also apply the hub\'s retained state messages for the --subscribe filters (verified like the rest)' })
    .option('sync', { type: 'string', default: 'auto', describe: 'sync protocol v2: hub (follow the hub\'s feed), peer (peers\' puts through a plain broker), auto (hub when one announces itself)' })
    .example('$0 daemon --id pi-7 --broker mqtt://hub.local:1883 --data-dir /var/lib/hamsync', 'a device daemon')
    .example('$0 daemon --id sim-1 --clock-offset +5s --http 127.0.0.1:7879', 'a device whose clock runs 5 s fast')
    .example('$0 daemon --id pi-7 --profile raspberry-pi --config /etc/hamsync/hamsync.yaml', 'a Raspberry Pi reporting its temperature, load, memory, disk')
    .example('$0 daemon --id sim-2 --profile simulated --clock-drift-ppm 500 --http 127.0.0.1:7880', 'a simulated device with a drifting clock')
    .example('$0 daemon --id pi-7 --signing-key /etc/hamsync/pi-7.key --keys /etc/hamsync/keys.json', 'sign every put; verify what other devices (with keys) send');
}

export async function handler(argv: {
  id: string;
  broker: string;
  dataDir: string;
  ns: string;
  clockOffset: string;
  subscribe: string[];
  http: string;
  ca?: string;
  cert?: string;
  key?: string;
  username?: string;
  password?: string;
  retainHistory?: string;
  retainBytes?: string;
  maxFuture?: string;
  deferredMax?: number;
  deferredMaxBytes?: string;
  quarantineMax?: number;
  profile?: string;
  sources?: unknown;
  clockDriftPpm?: number;
  window: number;
  outboxMax: number;
  signingKey?: string;
  keys?: string;
  users?: string;
  requireSigned?: boolean;
  followState?: boolean;
  reconnectMin?: string;
  reconnectMax?: string;
  maxClockAhead?: string;
  sync?: string;
  logLevel: string;
}): Promise<void> {
  const log = loggerFor(argv.logLevel, { app: 'hamsync', device: argv.id });
  // Files passed as systemd credentials: ${CREDENTIALS_DIRECTORY}/<id> (docs/operations.md).
  argv = resolveCredentialPaths(argv, CREDENTIAL_PATH_KEYS.daemon);
  const { Daemon } = await import('../daemon/daemon.js');
  const daemon = await Daemon.start(
    { id: argv.id, broker: argv.broker, dataDir: argv.dataDir, ns: argv.ns, clockOffset: argv.clockOffset, subscribe: argv.subscribe, http: argv.http, ca: argv.ca, cert: argv.cert, key: argv.key, username: argv.username, password: argv.password, retainHistory: argv.retainHistory, retainBytes: argv.retainBytes, maxFuture: argv.maxFuture, deferredMax: argv.deferredMax, deferredMaxBytes: argv.deferredMaxBytes, quarantineMax: argv.quarantineMax, profile: argv.profile, sources: argv.sources, clockDriftPpm: argv.clockDriftPpm, window: argv.window, outboxMax: argv.outboxMax,
      signingKey: argv.signingKey, keys: argv.keys, users: argv.users, requireSigned: argv.requireSigned === true, followState: argv.followState === true,
      reconnectMin: argv.reconnectMin, reconnectMax: argv.reconnectMax, maxClockAhead: argv.maxClockAhead, sync: argv.sync as DaemonInput['sync'] },
    log,
  );
  // Handlers first: whoever reads the listening line may signal us at once.
  stopOnSignal(() => daemon.stop(), log);
  process.stdout.write(`${JSON.stringify({ listening: { http: daemon.httpPort } })}\n`);
}
