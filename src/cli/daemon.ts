import type { Argv } from 'yargs';
import { CREDENTIAL_PATH_KEYS, resolveCredentialPaths } from '../config/credentials.js';
import { DAEMON } from '../config/daemon-options.js';
import { pick, type Merged } from '../config/option-table.js';
import { loggerFor, stopOnSignal, withOptions } from './shared.js';

export const command = 'daemon';
export const describe = 'Run the device daemon: local replica, store-and-forward outbox, MQTT link, local HTTP API';

export function builder(y: Argv) {
  return withOptions(y, DAEMON)
    .example('$0 daemon --id pi-7 --broker mqtt://hub.local:1883 --data-dir /var/lib/hamsync', 'a device daemon')
    .example('$0 daemon --id sim-1 --clock-offset +5s --http 127.0.0.1:7879', 'a device whose clock runs 5 s fast')
    .example('$0 daemon --id pi-7 --profile raspberry-pi --config /etc/hamsync/hamsync.yaml', 'a Raspberry Pi reporting its temperature, load, memory, disk')
    .example('$0 daemon --id sim-2 --profile simulated --clock-drift-ppm 500 --http 127.0.0.1:7880', 'a simulated device with a drifting clock')
    .example('$0 daemon --id pi-7 --signing-key /etc/hamsync/pi-7.key --keys /etc/hamsync/keys.json', 'sign every put; verify what other devices (with keys) send');
}

export async function handler(argv: Merged<typeof DAEMON>): Promise<void> {
  const log = loggerFor(argv.logLevel, { app: 'hamsync', device: argv.id });
  // Files passed as systemd credentials: ${CREDENTIALS_DIRECTORY}/<id> (docs/operations.md).
  argv = resolveCredentialPaths(argv, CREDENTIAL_PATH_KEYS.daemon);
  const { Daemon } = await import('../daemon/daemon.js');
  const daemon = await Daemon.start({ ...pick(DAEMON, argv), id: argv.id, dataDir: argv.dataDir }, log);
  // Handlers first: whoever reads the listening line may signal us at once.
  stopOnSignal(() => daemon.stop(), log);
  process.stdout.write(`${JSON.stringify({ listening: { http: daemon.httpPort } })}\n`);
}
