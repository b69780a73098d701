import type { Argv } from 'yargs';
import { importFile, type ImportReport } from '../replay/import.js';
import { parseDuration } from '../util/duration.js';
import { defaultDataDir } from './shared.js';

export const command = 'import <file>';
export const describe = 'Load a "hamsync export" file into a replica through HAM (duplicates add nothing; older rows go to history; future rows are deferred)';

export function builder(y: Argv) {
  return y
    .positional('file', { type: 'string', demandOption: true, describe: 'an NDJSON file written by "hamsync export"' })
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'replica directory (LMDB) to import into; created if missing' })
    .option('clock-offset', { type: 'string', default: '0', describe: 'the replica\'s clock offset, as given to its daemon (+5s, -2m, 250ms)' })
    .option('chunk', { type: 'number', default: 5000, describe: 'updates per transaction' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
    .example('$0 import pi-7.ndjson --data-dir /var/lib/hamsync', 'stop the daemon, import, start it again')
    .epilogue(
      'The whole file is checked first: if any line is bad, the first one is reported as FILE:LINE and nothing is imported. ' +
        'Then every row goes through HAM with this replica\'s own clock, so importing is idempotent: ' +
        'an interrupted import can simply be run again, and importing into a replica with newer data keeps the newer values. ' +
        'Stop the daemon that uses --data-dir first: its deferred queue and outbox belong to one process (nothing enforces this). ' +
        'Imported rows are stored locally only; they are not published to the broker.',
    );
}

export async function handler(argv: { file: string; dataDir: string; clockOffset: string; chunk: number; json: boolean }): Promise<void> {
  const report = await importFile(argv.file, { dataDir: argv.dataDir, clockOffsetMs: parseDuration(argv.clockOffset, 'clock-offset'), chunk: argv.chunk });
  process.stdout.write(argv.json ? `${JSON.stringify(report)}\n` : text(report, argv.dataDir));
}

function text(r: ImportReport, dataDir: string): string {
  return (
    `${r.file} -> ${dataDir}\n` +
    `  lines read   ${r.lines} (header, ${r.counts.live} live, ${r.counts.history} history, ${r.counts.deferred} deferred)\n` +
    `  imported     ${r.imported} of ${r.updates} updates (${r.applied} changed the live view, ${r.deferred} deferred until their state)\n` +
    `  duplicates   ${r.duplicates} (already there: nothing written)\n`
  );
}
