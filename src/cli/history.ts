import type { Argv } from 'yargs';
import { parseInstant } from '../util/instant.js';
import { call, print, showState, withClient } from './client.js';

export const command = 'history <key>';
export const describe = 'Print the history of a key (every accepted update and its outcome), oldest state first';

export function builder(y: Argv) {
  return withClient(y)
    .positional('key', { type: 'string', demandOption: true })
    .option('from', { type: 'string', describe: 'lowest state, inclusive: an ISO 8601 time (2026-11-25T14:00:00Z) or a number' })
    .option('to', { type: 'string', describe: 'highest state, inclusive: an ISO 8601 time or a number' })
    .option('limit', { type: 'number', describe: 'at most this many rows' })
    .example('$0 history mission/hello', 'who wrote what, and what won')
    .example('$0 history mission/hello --from 2026-11-25T14:00Z', 'only since 14:00 UTC');
}

export async function handler(argv: { key: string; from?: string; to?: string; limit?: number; http: string; json: boolean }): Promise<void> {
  const q = new URLSearchParams();
  for (const f of ['from', 'to'] as const) if (argv[f] !== undefined) q.set(f, String(parseInstant(argv[f], f)));
  if (argv.limit !== undefined) q.set('limit', String(argv.limit));
  const res = await call(argv.http, 'GET', `/v1/history/${encodeURIComponent(argv.key)}${q.size ? `?${q.toString()}` : ''}`);
  const rows = res.body.rows as { v: unknown; s: number; src: string; outcome: string; deferred: boolean }[];
  print(argv.json, rows, () =>
    rows.length === 0 ? 'no history' : rows.map((r) => `${showState(r.s)}  ${r.outcome.padEnd(10)} ${r.src.padEnd(12)} ${JSON.stringify(r.v)}${r.deferred ? '  (was deferred)' : ''}`).join('\n'),
  );
}
