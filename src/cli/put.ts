import type { Argv } from 'yargs';
import { HamsyncError, describe as show } from '../errors.js';
import { canonical } from '../ham/lexical.js';
import { parseInstant } from '../util/instant.js';
import { call, print, showState, withClient } from './client.js';

export const command = 'put <key> <value>';
export const describe = 'Put a value through the local daemon (stamped by its clock unless --state is given)';

export function builder(y: Argv) {
  return withClient(y)
    .positional('key', { type: 'string', demandOption: true, describe: 'key, e.g. pi-7/cpu/temp' })
    .positional('value', { type: 'string', demandOption: true, describe: 'JSON (42, true, {"a":1}); anything else is taken as a string (with a note on stderr when it looks like broken JSON)' })
    .option('state', { type: 'string', describe: 'explicit state: an ISO 8601 time (2026-11-25T14:02:00Z) or a number (ms since epoch), e.g. to replay or test drift' })
    .option('string', { type: 'boolean', describe: 'take the value as a string, even if it is JSON' })
    .option('json-value', { type: 'boolean', describe: 'the value must be JSON: refuse it otherwise (--json is the output format)' })
    .conflicts('string', 'json-value')
    .example('$0 put mission/hello "Hello Mars"', 'a string value')
    .example('$0 put pi-7/cpu/temp 48.5 --json', 'a number, JSON output')
    .example('$0 put build/id 0042 --string', 'the string "0042", not the number 42')
    .example('$0 put cfg/x \'{"a":1}\' --json-value', 'an object; a typo is refused instead of stored as a string');
}

export type ValueMode = 'auto' | 'string' | 'json';

/**
 * The value as the user meant it: `string` takes the text as is; `json` parses it (or refuses);
 * `auto` parses it when it is JSON, else takes the text, with a note on stderr when the text
 * looks like JSON gone wrong ('{"a":'). A number out of range (1e400) is refused, never sent as null.
 */
export function parseValue(text: string, mode: ValueMode = 'auto', warn: (line: string) => void = () => undefined): unknown {
  if (mode === 'string') return text;
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    if (mode === 'json') throw new HamsyncError('HAMSYNC_ERR_VALUE', `value is not JSON (${(err as Error).message}), got ${show(text)}`, { field: 'value' });
    if (/^\s*[[{"]/.test(text)) warn(`note: the value is not valid JSON (${(err as Error).message}); stored as the string ${show(text)} (use --json-value to refuse, --string to silence)`);
    return text;
  }
  try {
    canonical(value);
  } catch (err) {
    // 1e400 parses as Infinity, which JSON cannot carry (it would be sent, and stored, as null).
    const why = (err as Error).message.replace(/^HAMSYNC_ERR_VALUE: /, '');
    throw new HamsyncError('HAMSYNC_ERR_VALUE', `value ${show(text)} cannot be stored: ${why} (numbers beyond ±1.8e308 are out of range)`, { field: 'value' });
  }
  return value;
}

interface PutArgs {
  key: string;
  value: string;
  state?: string;
  string?: boolean;
  jsonValue?: boolean;
  http: string;
  json: boolean;
}

export async function handler(argv: PutArgs): Promise<void> {
  const mode: ValueMode = argv.string === true ? 'string' : argv.jsonValue === true ? 'json' : 'auto';
  const body: Record<string, unknown> = { k: argv.key, v: parseValue(String(argv.value), mode, (line) => process.stderr.write(`${line}\n`)) };
  if (argv.state !== undefined) body.s = parseInstant(argv.state, 'state');
  const res = await call(argv.http, 'POST', '/v1/put', body);
  const r = (res.body.results as { k: string; s: number; decision: string; duplicate: boolean }[])[0];
  print(argv.json, r, () => `${r?.k} @ ${showState(r?.s)}: ${r?.decision}${r?.duplicate ? ' (duplicate)' : ''}`);
}
