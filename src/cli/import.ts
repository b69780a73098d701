import type { Argv } from 'yargs';
import { HamsyncError } from '../errors.js';
import { importFile, type ImportReport } from '../replay/import.js';
import { loadKeyring } from '../sign/keyring.js';
import { parseClockOffset } from '../util/duration.js';
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
    .option('keys', { type: 'string', describe: 'verify signatures with this keys file (see `hamsync key list --json`); the first bad row refuses the file' })
    .option('users', { type: 'string', describe: 'a users file whose `pub` fields are public keys too' })
    .option('require-signed', { type: 'boolean', default: false, describe: 'with --keys/--users: also refuse rows from sources with no known key' })
    .example('$0 import pi-7.ndjson --data-dir /var/lib/hamsync', 'stop the daemon, import, start it again')
    .epilogue(
      'The whole file is checked first: if any line is bad, the first one is reported as FILE:LINE and nothing is imported. ' +
        'Then every row goes through HAM with this replica\'s own clock, so importing is idempotent: ' +
        'an interrupted import can simply be run again, and importing into a replica with newer data keeps the newer values. ' +
        'Into an EMPTY data directory the export is restored exactly (outcomes, deferred flags and receive times as exported); ' +
        'into one with data, rows are merged through HAM as above. ' +
        'A running daemon or broker holds its --data-dir\'s lock: stop it first (HAMSYNC_ERR_LOCKED names its pid). ' +
        'Imported rows are stored locally only; they are not published to the broker. ' +
        'Ctrl-C stops after the transaction being written, says what was imported, and exits 130; running the same command again is safe.',
    );
}

export async function handler(argv: { file: string; dataDir: string; clockOffset: string; chunk: number; json: boolean; keys?: string; users?: string; requireSigned: boolean }): Promise<void> {
  if (argv.requireSigned && argv.keys === undefined && argv.users === undefined) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', '--require-signed needs --keys or --users (the public keys to verify with)', { field: 'require-signed' });
  }
  const signatures = argv.keys !== undefined || argv.users !== undefined ? { keyring: loadKeyring({ keys: argv.keys, users: argv.users }), requireSigned: argv.requireSigned } : undefined;
  const clockOffsetMs = parseClockOffset(argv.clockOffset, 'clock-offset');
  let stop = false;
  const onSignal = (): void => {
    // A second Ctrl-C does not wait for the transaction being written: what committed stays.
    if (stop) {
      process.stderr.write(`hamsync: import killed; ${RERUN}\n`);
      process.exit(130);
    }
    stop = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let report: ImportReport;
  try {
    report = await importFile(argv.file, { dataDir: argv.dataDir, clockOffsetMs, chunk: argv.chunk, stopped: () => stop, ...(signatures ? { signatures } : {}) });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (report.interrupted !== undefined) {
    process.stderr.write(`hamsync: ${interrupted(report, argv.file, argv.dataDir)}\n`);
    if (argv.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(130);
  }
  process.stdout.write(argv.json ? `${JSON.stringify(report)}\n` : text(report, argv.dataDir));
}

const RERUN = 'running the same command again is safe: it adds only what is missing';

/** The one line an interrupted import leaves: what was imported, and that running it again is safe. */
export function interrupted(r: ImportReport, file: string, dataDir: string): string {
  if (r.interrupted === 'check') return `import interrupted while checking ${file}: nothing was imported into ${dataDir}; ${RERUN}`;
  const total = r.counts.live + r.counts.history + r.counts.deferred;
  if (r.mode === 'restore') {
    return `import interrupted: restored ${r.imported} of ${total} rows of ${file} into the empty ${dataDir} (committed, lines 2-${r.lines}); ` +
      'the directory is marked as a partial restore (a daemon or broker refuses it): running the same command again is safe: it starts the restore over';
  }
  return `import interrupted: ${r.updates} of ${total} rows of ${file} imported into ${dataDir} (committed, lines 2-${r.lines}: ${r.imported} new, ${r.duplicates} already there); ${RERUN}`;
}

function text(r: ImportReport, dataDir: string): string {
  return (
    `${r.file} -> ${dataDir} (${r.mode === 'restore' ? 'restored into an empty data directory, exactly as exported' : 'merged through HAM'})\n` +
    `  lines read   ${r.lines} (header, ${r.counts.live} live, ${r.counts.history} history, ${r.counts.deferred} deferred)\n` +
    `  imported     ${r.imported} of ${r.updates} updates (${r.applied} changed the live view, ${r.deferred} deferred until their state)\n` +
    `  duplicates   ${r.duplicates} (already there: nothing written)\n`
  );
}
