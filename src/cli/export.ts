import type { Argv } from 'yargs';
import { exportDataDir, exportToFile, type ExportCounts } from '../replay/export.js';
import { defaultDataDir } from './shared.js';

export const command = 'export';
export const describe = 'Write a data directory (live, history, deferred) to a portable NDJSON file; safe while the daemon runs';

export function builder(y: Argv) {
  return y
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'replica directory (LMDB), opened read-only' })
    .option('out', { type: 'string', describe: 'file to write (default: stdout); written beside it and renamed once complete' })
    .example('$0 export --data-dir /var/lib/hamsync --out pi-7.ndjson', 'a snapshot of one device')
    .example('$0 export --data-dir /var/lib/hamsync | gzip > pi-7.ndjson.gz', 'compressed, through stdout')
    .epilogue(
      'The file is NDJSON: a header line {"hamsync":"export","format":1,"created":...,"counts":{"live":N,"history":N,"deferred":N}}, ' +
        'then one line per live row, history row (oldest state first) and deferred row, each with its key k, value v, state s and source src. ' +
        'It is one consistent snapshot of the store. Load it into another replica with "hamsync import".',
    );
}

export async function handler(argv: { dataDir: string; out?: string }): Promise<void> {
  let counts: ExportCounts;
  if (argv.out === undefined || argv.out === '-') {
    // An EPIPE after the last write (e.g. `| head`) must not crash the process.
    const ignore = (): void => undefined;
    process.stdout.on('error', ignore);
    counts = await exportDataDir(argv.dataDir, process.stdout);
    process.stderr.write(`${summary(counts)} from ${argv.dataDir}\n`);
  } else {
    counts = await exportToFile(argv.dataDir, argv.out);
    process.stdout.write(`${argv.out}: ${summary(counts)} from ${argv.dataDir}\n`);
  }
}

function summary(c: ExportCounts): string {
  return `exported ${c.live} live, ${c.history} history and ${c.deferred} deferred rows`;
}
