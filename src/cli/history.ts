import type { Argv } from 'yargs';
import { call, print, showState, withClient } from './client.js';

export const command = 'history <key>';
export const describe = 'Print the history of a key (every accepted update and its outcome), oldest state first';

export function builder(y: Argv) {
  return withClient(y)
    .positional('key', { type: 'string', demandOption: true })
    .option('from', { type: 'number', describe: 'lowest state, inclusive' })
    .option('to', { type: 'number', describe: 'highest state, inclusive' })
    .option('limit', { type: 'number', describe: 'at most this many rows' })
    .example('$0 history mission/hello', 'who wrote what, and what won');
}

export async function handler(argv: { key: string; from?: number; to?: number; limit?: number; http: string; json: boolean }): Promise<void> {
  const q = new URLSearchParams();
  for (const f of ['from', 'to', 'limit'] as const) if (argv[f] !== undefined) q.set(f, String(argv[f]));
  const res = await call(argv.http, 'GET', `/v1/history/${encodeURIComponent(argv.key)}${q.size ? `?${q.toString()}` : ''}`);
  const rows = res.body.rows as { v: unknown; s: number; src: string; outcome: string; deferred: boolean }[];
  print(argv.json, rows, () =>
    rows.length === 0 ? 'no history' : rows.map((r) => `${showState(r.s)}  ${r.outcome.padEnd(10)} ${r.src.padEnd(12)} ${JSON.stringify(r.v)}${r.deferred ? '  (was deferred)' : ''}`).join('\n'),
  );
}
