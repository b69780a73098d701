import type { Argv } from 'yargs';
import { HamsyncError } from '../errors.js';
import { checkConfigFile } from '../config/load.js';
import { BROKER_KEYS, DAEMON_KEYS } from '../config/schema.js';
import { silentLogger } from '../log.js';

export const command = 'config check <file>';
export const describe = 'Validate a daemon or broker config file; points at each offending key and line';

export function builder(y: Argv) {
  return y
    .positional('file', { type: 'string', demandOption: true, describe: 'YAML or JSON config file' })
    .option('for', { choices: ['daemon', 'broker'] as const, default: 'daemon' as const, describe: 'which command the file configures' })
    .example('$0 config check /etc/hamsync/hamsync.yaml', 'check a device config')
    .example('$0 config check /etc/hamsync/broker.yaml --for broker', 'check a broker config');
}

export async function handler(argv: { file: string; for: 'daemon' | 'broker' }): Promise<void> {
  const { values, problems, lines } = checkConfigFile(argv.file, argv.for === 'broker' ? BROKER_KEYS : DAEMON_KEYS);
  if (argv.for === 'daemon' && (values.sources !== undefined || values.profile !== undefined)) {
    // Sources are checked in depth: every option of every source.
    try {
      const { sourceConfigs } = await import('../config/sources.js');
      const { createSources } = await import('../../devices/index.js');
      createSources(sourceConfigs(values.sources, values.profile as string | undefined), typeof values.id === 'string' ? values.id : 'check', silentLogger);
    } catch (err) {
      problems.push({ line: lines.sources ?? lines.profile ?? 0, key: values.sources !== undefined ? 'sources' : 'profile', message: (err as Error).message.replace(/^HAMSYNC_ERR_\w+: /, '') });
    }
  }
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${argv.file}:${p.line}: ${p.key ? `${p.key}: ` : ''}${p.message}\n`);
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${argv.file}`);
  }
  process.stdout.write(`${argv.file}: ok (${Object.keys(values).length} keys for ${argv.for})\n`);
}
