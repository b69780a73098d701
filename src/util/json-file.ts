import fs from 'node:fs';
import { HamsyncError } from '../errors.js';
import { readFailure } from './read-file.js';

/**
 * Reads `file` and parses it as JSON. Cannot read it: HAMSYNC_ERR_FILE naming `what` and the file
 * (a missing file is `undefined` instead when `missingOk`). Not JSON: `invalid(reason)`, which
 * throws the caller's own code.
 */
export function readJsonFile(file: string, what: string, invalid: (reason: string) => never, missingOk = false): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && missingOk) return undefined;
    throw new HamsyncError('HAMSYNC_ERR_FILE', `cannot read ${what} ${file}: ${readFailure(file, e)}`, { file });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    return invalid(`not valid JSON (${(err as Error).message})`);
  }
}
