#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isHamsyncError } from '../errors.js';
import { flushLogs } from '../log.js';
import * as broker from './broker.js';
import * as clock from './clock.js';
import * as configCheck from './config-check.js';
import * as daemon from './daemon.js';
import * as deferred from './deferred.js';
import * as demo from './demo.js';
import * as exportCmd from './export.js';
import * as get from './get.js';
import * as importCmd from './import.js';
import * as history from './history.js';
import * as key from './key.js';
import * as put from './put.js';
import * as replay from './replay.js';
import * as status from './status.js';
import * as user from './user.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The hamsync command line. Each command lives in its own file under src/cli/. */
export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('hamsync')
    .usage('$0 <command> [options]\n\nTelemetry and state sync for devices whose clocks cannot be trusted.')
    .command(broker)
    .command(daemon)
    .command(put)
    .command(get)
    .command(deferred)
    .command(history)
    .command(status)
    .command(replay)
    .command(exportCmd)
    .command(importCmd)
    .command(configCheck)
    .command(user)
    .command(key)
    .command(clock)
    .command(demo)
    .version(pkg.version)
    .strict()
    .demandCommand(1, 'Name a command; see --help.')
    .recommendCommands()
    .fail((msg, err) => {
      if (err && !isHamsyncError(err)) throw err;
      process.stderr.write(`hamsync: ${err ? err.message : msg}\n`);
      process.exit(err ? 1 : 2);
    })
    .help()
    .parseAsync();
}

main(hideBin(process.argv)).catch(async (err: unknown) => {
  await flushLogs(); // the log lines before the failure first, all of them
  process.stderr.write(`hamsync: ${(err as Error).message}\n`);
  process.exit(1);
});
