import type { Argv } from 'yargs';
import { call, print, showState, withClient } from './client.js';

export const command = 'get <key>';
export const describe = 'Print the live value of a key from the local daemon (HAMSYNC_ERR_NOT_FOUND if it has none; HAMSYNC_ERR_DEFERRED_ONLY if its updates all wait)';

export function builder(y: Argv) {
  return withClient(y)
    .positional('key', { type: 'string', demandOption: true })
    .example('$0 get mission/hello', 'value, state and source')
    .example('$0 get pi-7/cpu/temp --json', 'as JSON');
}

export async function handler(argv: { key: string; http: string; json: boolean }): Promise<void> {
  const res = await call(argv.http, 'GET', `/v1/keys/${encodeURIComponent(argv.key)}`);
  const b = res.body;
  print(argv.json, b, () => `${JSON.stringify(b.v)}\n  state  ${showState(b.s)}\n  source ${String(b.src)}`);
}
