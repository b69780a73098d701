import type { Argv } from 'yargs';
import { call, print, showState, withClient } from './client.js';

export const command = 'put <key> <value>';
export const describe = 'Put a value through the local daemon (stamped by its clock unless --state is given)';

export function builder(y: Argv) {
  return withClient(y)
    .positional('key', { type: 'string', demandOption: true, describe: 'key, e.g. pi-7/cpu/temp' })
    .positional('value', { type: 'string', demandOption: true, describe: 'JSON (42, true, {"a":1}); anything else is taken as a string' })
    .option('state', { type: 'number', describe: 'explicit state (ms since epoch), e.g. to replay or test drift' })
    .example('$0 put mission/hello "Hello Mars"', 'a string value')
    .example('$0 put pi-7/cpu/temp 48.5 --json', 'a number, JSON output');
}

/** The value as JSON if it parses, else the raw string. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export async function handler(argv: { key: string; value: string; state?: number; http: string; json: boolean }): Promise<void> {
  const body: Record<string, unknown> = { k: argv.key, v: parseValue(String(argv.value)) };
  if (argv.state !== undefined) body.s = argv.state;
  const res = await call(argv.http, 'POST', '/v1/put', body);
  const r = (res.body.results as { k: string; s: number; decision: string; duplicate: boolean }[])[0];
  print(argv.json, r, () => `${r?.k} @ ${showState(r?.s)}: ${r?.decision}${r?.duplicate ? ' (duplicate)' : ''}`);
}
