import path from 'node:path';
import type { Argv } from 'yargs';
import { parseDuration } from '../util/duration.js';
import { stopOnSignal } from './shared.js';
import { silentLogger } from '../log.js';

export const command = 'demo';
export const describe = 'Run a narrated demo: an in-process broker and three devices (a tie, a drifted clock deferred, history)';

export function builder(y: Argv) {
  return y
    .option('ahead', { type: 'string', default: '8s', describe: 'how far the GPS unit\'s clock runs ahead (the story\'s 2 minutes, scaled down)' })
    .option('data-dir', { type: 'string', describe: 'keep the replicas here (default: a temp dir, removed at the end)' })
    .option('keep-running', { type: 'boolean', default: false, describe: 'leave the broker and devices up to poke at' })
    .example('$0 demo', 'about 10 s, then exits 0')
    .example('$0 demo --keep-running', 'then try hamsync get / mosquitto_sub as printed');
}

function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * How to run hamsync the way the user just did, for commands to paste: `npx hamsync` under npx
 * (npm exec; from a checkout), `hamsync` from a bin on PATH (a global install), else
 * `node <main.js>` (relative to the working directory when inside it).
 */
export function selfCommand(env: NodeJS.ProcessEnv = process.env, script = process.argv[1] ?? '', cwd = process.cwd()): string {
  if (env.npm_command === 'exec') return 'npx hamsync';
  if (path.basename(script) === 'hamsync') return 'hamsync';
  const rel = path.relative(cwd, script);
  return `node ${shellWord(rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : script)}`;
}

export async function handler(argv: { ahead: string; dataDir?: string; keepRunning: boolean }): Promise<void> {
  const aheadMs = parseDuration(argv.ahead, 'ahead');
  const { runDemo } = await import('../demo/scenario.js');
  const demo = await runDemo({ aheadMs, dataDir: argv.dataDir, keepRunning: argv.keepRunning, cli: selfCommand() });
  if (argv.keepRunning) return stopOnSignal(() => demo.stop(), silentLogger);
  await demo.stop();
}
