import type { Argv } from 'yargs';
import { HamsyncError } from '../errors.js';
import { call, print, showState, withClient } from './client.js';

export const command = 'deferred';
export const describe = 'List updates waiting for the local clock (or, with --quarantined, those held from beyond the horizon); release or drop quarantined ones';

interface Row {
  k: string;
  v: unknown;
  s: number;
  src: string;
  rx: number;
}

interface Selection {
  source?: string[];
  key?: string[];
  all?: boolean;
}

function withSelectors<T>(y: Argv<T>) {
  return y
    .option('source', { type: 'string', array: true, describe: 'only updates from this source (device id); repeatable' })
    .option('key', { type: 'string', array: true, describe: 'only keys matching this filter (MQTT-style + and #); repeatable' });
}

/** `deferred release` and `deferred drop`: the same selectors, one route each. */
function action(name: 'release' | 'drop', summary: string, done: (r: Record<string, unknown>) => string) {
  return {
    command: name,
    describe: summary,
    builder: (y: Argv) =>
      withSelectors(withClient(y))
        .option('all', { type: 'boolean', describe: 'every quarantined update' })
        .example(`$0 deferred ${name} --source pi-7`, 'every quarantined update from pi-7')
        .example(`$0 deferred ${name} --key 'pi-7/gps/#' --http 127.0.0.1:7900`, 'by key filter, on a broker\'s admin API'),
    handler: async (argv: Selection & { http: string; json: boolean }): Promise<void> => {
      const sources = argv.source ?? [];
      const keys = argv.key ?? [];
      if (argv.all !== true && sources.length === 0 && keys.length === 0) {
        throw new HamsyncError('HAMSYNC_ERR_CONFIG', `deferred ${name} needs a selector: --source ID, --key FILTER or --all`, { field: 'selector' });
      }
      if (argv.all === true && (sources.length > 0 || keys.length > 0)) {
        throw new HamsyncError('HAMSYNC_ERR_CONFIG', '--all cannot be combined with --source or --key', { field: 'all' });
      }
      const selector = argv.all === true ? { all: true } : { ...(sources.length > 0 ? { sources } : {}), ...(keys.length > 0 ? { keys } : {}) };
      const res = await call(argv.http, 'POST', `/v1/quarantine/${name}`, selector);
      print(argv.json, res.body, () => done(res.body));
    },
  };
}

const release = action(
  'release',
  'Release quarantined updates into the normal path: due ones are resolved now, the rest deferred (refused whole if a source\'s deferred cap would be exceeded)',
  (r) => `released ${String(r.released)} quarantined updates: ${String(r.resolved)} resolved now, ${String(r.deferred)} deferred, ${String(r.duplicates)} duplicates`,
);
const drop = action('drop', 'Delete quarantined updates (each is recorded in the quarantine log: `hamsync deferred --log`)', (r) => `dropped ${String(r.dropped)} quarantined updates`);

export function builder(y: Argv) {
  return withSelectors(withClient(y))
    .command(release)
    .command(drop)
    .option('limit', { type: 'number', global: false, describe: 'at most this many, earliest first' })
    .option('quarantined', { type: 'boolean', default: false, global: false, describe: 'list the quarantine: updates stamped further ahead than the horizon (--max-future)' })
    .option('log', { type: 'boolean', default: false, global: false, describe: 'list the quarantine log: what was released or dropped, newest first' })
    .example('$0 deferred', 'what is waiting, and until when')
    .example('$0 deferred --quarantined --source pi-7', 'what pi-7 sent from too far in the future')
    .example('$0 deferred release --source pi-7', 'let them through (HAM still decides)')
    .example('$0 deferred drop --all', 'delete every quarantined update');
}

export async function handler(argv: Selection & { limit?: number; quarantined: boolean; log: boolean; http: string; json: boolean }): Promise<void> {
  const q = new URLSearchParams();
  if (argv.limit !== undefined) q.set('limit', String(argv.limit));
  if (argv.log) {
    const res = await call(argv.http, 'GET', `/v1/quarantine/log?${q.toString()}`);
    const rows = res.body.rows as (Row & { action: string; at: number })[];
    print(argv.json, rows, () => (rows.length === 0 ? 'nothing released or dropped' : rows.map((r) => `${showState(r.at)} ${r.action} ${r.k} = ${JSON.stringify(r.v)} from ${r.src}, stamped ${showState(r.s)}`).join('\n')));
    return;
  }
  if (!argv.quarantined) {
    if ((argv.source ?? []).length > 0 || (argv.key ?? []).length > 0) {
      throw new HamsyncError('HAMSYNC_ERR_CONFIG', '--source and --key select quarantined updates: add --quarantined, or use `deferred release|drop`', { field: 'source' });
    }
    const res = await call(argv.http, 'GET', `/v1/deferred?${q.toString()}`);
    const rows = res.body.rows as Row[];
    print(argv.json, rows, () => (rows.length === 0 ? 'nothing deferred' : rows.map((r) => `${r.k} = ${JSON.stringify(r.v)} from ${r.src}, due ${showState(r.s)}`).join('\n')));
    return;
  }
  for (const s of argv.source ?? []) q.append('source', s);
  for (const k of argv.key ?? []) q.append('key', k);
  const res = await call(argv.http, 'GET', `/v1/quarantine?${q.toString()}`);
  const rows = res.body.rows as Row[];
  print(argv.json, rows, () =>
    rows.length === 0 ? 'nothing quarantined' : rows.map((r) => `${r.k} = ${JSON.stringify(r.v)} from ${r.src}, stamped ${showState(r.s)}, received ${showState(r.rx)}`).join('\n'),
  );
}
