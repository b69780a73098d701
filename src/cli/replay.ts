import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { HamsyncError } from '../errors.js';
import type { Outcome } from '../store/rows.js';
import { parseInstant } from '../util/instant.js';
import { assertKeyFilter, assertNamespace } from '../wire/topics.js';
import { defaultDataDir } from './shared.js';

export const command = 'replay';
export const describe = 'Replay stored telemetry from a data directory (works beside a running daemon, or on a copy)';

const OUTCOMES = ['applied', 'historical', 'tie-lost', 'same'] as const;
const DESTINATION = /^(mqtts?|wss?):\/\//;

export function builder(y: Argv) {
  return y
    .option('data-dir', { type: 'string', default: defaultDataDir(), describe: 'the replica to read (opened read-only)' })
    .option('from', { type: 'string', describe: 'first state/time, INCLUSIVE: ISO 8601 (2026-11-25T14:00:00Z) or a raw state' })
    .option('to', { type: 'string', array: true, describe: 'last state/time, INCLUSIVE — or an MQTT URL (mqtt://host:1883) to re-publish to; give --to twice for both' })
    .option('key', { type: 'string', array: true, describe: 'key filter, MQTT-style + and # (repeatable)' })
    .option('source', { type: 'string', array: true, describe: 'only updates from this device (repeatable)' })
    .option('outcome', { choices: OUTCOMES, array: true, describe: 'only these outcomes (default: all)' })
    .option('by', { choices: ['state', 'received'] as const, default: 'state' as const, describe: 'order (and --from/--to) by the update\'s state, or by when this replica received it' })
    .option('format', { choices: ['ndjson', 'csv'] as const, default: 'ndjson' as const, describe: 'output format' })
    .option('out', { type: 'string', describe: 'write to this file instead of stdout' })
    .option('speed', { type: 'string', describe: 'pace by the original state gaps: N times real time, or "max" (default: max; 1 with an MQTT destination)' })
    .option('loop', { type: 'boolean', default: false, describe: 'start over at the end, until Ctrl-C' })
    .option('as-of', { type: 'string', describe: 'print the live view as of this time instead (with --by received: what this replica believed then)' })
    .option('ns', { type: 'string', default: 'default', describe: 'namespace of the replay topics' })
    .option('session', { type: 'string', describe: 'replay session id in the topics (default: random)' })
    .option('ca', { type: 'string', describe: 'CA certificate for mqtts:// or wss://' })
    .option('username', { type: 'string', describe: 'MQTT user for --to mqtt:// (a broker started with --users)' })
    .option('password', { type: 'string', default: process.env.HAMSYNC_PASSWORD, describe: 'MQTT password (or env HAMSYNC_PASSWORD)' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress bar' })
    .example('$0 replay --from 2026-11-25T14:00Z --to 2026-11-25T15:00Z --key "sat-1/#" > pass.ndjson', 'one pass of one satellite, as NDJSON')
    .example('$0 replay --format csv --out temps.csv --key "+/cpu/temp"', 'every CPU temperature, as CSV')
    .example('$0 replay --to mqtt://127.0.0.1:1883 --speed 10 --loop', 'feed a dashboard at 10x, forever')
    .example('$0 replay --as-of 2026-11-25T14:02Z --by received', 'what this replica believed at 14:02');
}

interface ReplayArgs {
  dataDir: string;
  from?: string;
  to?: string[];
  key?: string[];
  source?: string[];
  outcome?: Outcome[];
  by: 'state' | 'received';
  format: 'ndjson' | 'csv';
  out?: string;
  speed?: string;
  loop: boolean;
  asOf?: string;
  ns: string;
  session?: string;
  ca?: string;
  username?: string;
  password?: string;
  quiet: boolean;
}

function parseSpeed(v: string | undefined, fallback: number | 'max'): number | 'max' {
  if (v === undefined) return fallback;
  if (v === 'max') return 'max';
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `--speed must be a positive number or "max", got ${JSON.stringify(v)}`, { field: 'speed' });
  return n;
}

export async function handler(argv: ReplayArgs): Promise<void> {
  const tos = argv.to ?? [];
  const urls = tos.filter((t) => DESTINATION.test(t));
  const ends = tos.filter((t) => !DESTINATION.test(t));
  if (urls.length > 1 || ends.length > 1) throw new HamsyncError('HAMSYNC_ERR_CONFIG', '--to takes at most one time and one MQTT URL', { field: 'to' });
  (argv.key ?? []).forEach((k) => assertKeyFilter(k));
  assertNamespace(argv.ns);
  const url = urls[0];
  const session = argv.session ?? randomBytes(4).toString('hex');
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const { runReplay } = await import('../replay/run.js');
  const { mqttSink } = await import('../replay/sink.js');
  const sink = url ? await mqttSink(url, argv.ns, session, { ca: argv.ca ? readFileSync(argv.ca) : undefined, username: argv.username, password: argv.password }) : undefined;
  if (url && !argv.quiet) process.stderr.write(`replaying to ${url} on hamsync/${argv.ns}/replay/${session}/<key>\n`);
  const summary = await runReplay({
    dataDir: argv.dataDir,
    from: argv.from === undefined ? undefined : parseInstant(argv.from, 'from'),
    to: ends[0] === undefined ? undefined : parseInstant(ends[0], 'to'),
    keys: argv.key,
    sources: argv.source,
    outcomes: argv.outcome,
    by: argv.by,
    format: argv.format,
    out: argv.out,
    sink,
    speed: parseSpeed(argv.speed, url ? 1 : 'max'),
    loop: argv.loop,
    asOf: argv.asOf === undefined ? undefined : parseInstant(argv.asOf, 'as-of'),
    quiet: argv.quiet,
    stopped: () => abort.signal.aborted,
    timer: {
      now: () => Date.now(),
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(t);
            abort.signal.removeEventListener('abort', wake);
            resolve();
          };
          const t = setTimeout(wake, ms);
          abort.signal.addEventListener('abort', wake, { once: true });
        }),
    },
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (summary.stopped && !argv.quiet) process.stderr.write(`stopped after ${summary.rows} rows\n`);
}
