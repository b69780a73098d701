import type { Argv } from 'yargs';
import { call, print, showState, withClient } from './client.js';

export const command = 'deferred';
export const describe = 'List updates waiting for the local clock to reach their state (from the future)';

export function builder(y: Argv) {
  return withClient(y)
    .option('limit', { type: 'number', describe: 'at most this many, earliest first' })
    .example('$0 deferred', 'what is waiting, and until when');
}

export async function handler(argv: { limit?: number; http: string; json: boolean }): Promise<void> {
  const res = await call(argv.http, 'GET', `/v1/deferred${argv.limit === undefined ? '' : `?limit=${argv.limit}`}`);
  const rows = res.body.rows as { k: string; v: unknown; s: number; src: string }[];
  print(argv.json, rows, () => (rows.length === 0 ? 'nothing deferred' : rows.map((r) => `${r.k} = ${JSON.stringify(r.v)} from ${r.src}, due ${showState(r.s)}`).join('\n')));
}
