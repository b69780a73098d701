import type { Argv } from 'yargs';
import { parseDuration } from '../util/duration.js';
import { lockDataDir } from '../store/lock.js';
import { openStore, type Store } from '../store/open.js';
import { HIGH_WATER_KEY } from '../sync/replica-options.js';
import { defaultDataDir } from './shared.js';

export const command = 'clock';
export const describe = 'Inspect or reset a data dir\'s clock high-water mark (the last stamp its daemon gave), e.g. after the clock jumped ahead';

interface ClockReport {
  dataDir: string;
  /** This machine's clock with --clock-offset, ms since the epoch. */
  now: number;
  /** The persisted high-water mark, or null. */
  highWater: number | null;
  /** highWater - now (> 0: stamps are held ahead of the clock), or null. */
  aheadMs: number | null;
  /** Live values stamped ahead of now (by any source): they win over newer writes to their keys until then. */
  liveAhead: number;
  reset?: boolean;
}

function inspect(store: Store, dataDir: string, now: number): ClockReport {
  const hw = store.meta.get(HIGH_WATER_KEY);
  const highWater = typeof hw === 'number' ? hw : null;
  let liveAhead = 0;
  for (const { value } of store.live.getRange()) if (value.s > now) liveAhead++;
  return { dataDir, now, highWater, aheadMs: highWater === null ? null : highWater - now, liveAhead };
}

function text(r: ClockReport): string {
  const at = (ms: number): string => new Date(ms).toISOString();
  const lines = [`data dir    ${r.dataDir}`, `clock now   ${at(r.now)}`];
  lines.push(r.highWater === null ? 'high-water  none (stamps follow the clock)' : `high-water  ${at(r.highWater)} (${r.aheadMs !== null && r.aheadMs > 0 ? `${r.aheadMs} ms AHEAD of the clock: new stamps are held there` : 'not ahead of the clock'})`);
  lines.push(`live ahead  ${r.liveAhead} values stamped after now (they win over newer writes to their keys until the clock passes them)`);
  if (r.reset !== undefined) lines.push(r.reset ? 'reset       the high-water mark was removed: the next stamp follows the clock' : 'reset       the high-water mark is not ahead of the clock: nothing to reset');
  return `${lines.join('\n')}\n`;
}

function options(y: Argv) {
  return y
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'the daemon\'s replica directory (LMDB)' })
    .option('clock-offset', { type: 'string', default: '0', describe: 'the daemon\'s --clock-offset, if it has one' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' });
}

interface Args {
  dataDir: string;
  clockOffset: string;
  json: boolean;
}

const show = {
  command: 'show',
  describe: 'Print the high-water mark and how far it is ahead of this machine\'s clock (read-only; fine beside a running daemon)',
  builder: (y: Argv) => options(y).example('$0 clock show --data-dir /var/lib/hamsync', 'is this device holding its stamps ahead?'),
  async handler(argv: Args): Promise<void> {
    const now = Date.now() + parseDuration(argv.clockOffset, 'clock-offset');
    const store = openStore(argv.dataDir, { readOnly: true });
    try {
      const r = inspect(store, argv.dataDir, now);
      process.stdout.write(argv.json ? `${JSON.stringify(r)}\n` : text(r));
    } finally {
      await store.root.close();
    }
  },
};

const reset = {
  command: 'reset',
  describe: 'Remove the high-water mark of a STOPPED daemon\'s data dir when it is ahead of the clock, so that its stamps follow its (now correct) clock again',
  builder: (y: Argv) =>
    options(y)
      .example('$0 clock reset --data-dir /var/lib/hamsync', 'after fixing the clock, with the daemon stopped')
      .epilogue(
        'Consequences (docs/clock-guard.md): updates this device stamped while its clock was ahead keep their stamps. ' +
          'Where they are live they win over newer writes to the same keys until real time passes them, and other replicas ' +
          'defer them until then (or quarantine them, beyond their horizon, until an operator releases or drops them: ' +
          '`hamsync deferred drop` on the hub removes them for good). The daemon must be stopped (its data dir lock refuses a reset beside it): a running daemon keeps its mark ' +
          'in memory and writes it back with its next stamp. Check the system clock before: a reset with the clock still ' +
          'ahead changes nothing.',
      ),
  async handler(argv: Args): Promise<void> {
    const now = Date.now() + parseDuration(argv.clockOffset, 'clock-offset');
    const store = openStore(argv.dataDir, { readOnly: true });
    let r: ClockReport;
    try {
      r = inspect(store, argv.dataDir, now);
    } finally {
      await store.root.close();
    }
    // A mark not ahead of the clock holds nothing up: left as it is.
    r.reset = r.highWater !== null && r.highWater > now;
    if (r.reset) {
      // Only on a stopped daemon: the data dir's lock refuses (HAMSYNC_ERR_LOCKED, naming the pid) while one runs.
      const lock = lockDataDir(argv.dataDir, 'clock-reset');
      try {
        const rw = openStore(argv.dataDir);
        try {
          rw.meta.removeSync(HIGH_WATER_KEY);
        } finally {
          await rw.root.close();
        }
      } finally {
        lock.release();
      }
    }
    process.stdout.write(argv.json ? `${JSON.stringify(r)}\n` : text(r));
  },
};

export function builder(y: Argv) {
  return y
    .command(show)
    .command(reset)
    .demandCommand(1, 'Name a clock action: show or reset; see hamsync clock --help.')
    .example('$0 clock show --data-dir /var/lib/hamsync', 'how far the stamps are held ahead of the clock')
    .example('$0 clock reset --data-dir /var/lib/hamsync', 'on a stopped daemon, after the clock was fixed (docs/clock-guard.md)');
}

export function handler(): void {
  // Subcommands do the work.
}
