/**
 * Reading the files an operator names (users, keys, signing key, TLS PEMs): one coded error,
 * HAMSYNC_ERR_FILE, that names what the file is for and its path, with a hint for the usual
 * cause under systemd (a root-only secret and a service running as another user).
 */
import fs from 'node:fs';
import { HamsyncError } from '../errors.js';

/** Why reading failed, in a few words, with what to do when it is a permission problem. */
export function readFailure(file: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return credentialHint(file, 'no such file');
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    const who = uid === undefined ? '' : ` to uid ${uid}`;
    return `permission denied${who} (${e.code}); a service with DynamicUser=yes cannot open a root-only secret: pass it with LoadCredential= and name it \${CREDENTIALS_DIRECTORY}/<id> (docs/operations.md)`;
  }
  return e.message;
}

/** A missing file inside $CREDENTIALS_DIRECTORY means systemd did not pass that credential. */
function credentialHint(file: string, reason: string): string {
  const dir = process.env.CREDENTIALS_DIRECTORY;
  if (dir === undefined || dir === '' || !file.startsWith(`${dir}/`)) return reason;
  const id = file.slice(dir.length + 1);
  return `${reason}: systemd passed no credential ${JSON.stringify(id)}; does the unit have LoadCredential=${id}, and is /etc/credstore/${id} there? (docs/operations.md)`;
}

/** Reads `file` whole; cannot: HAMSYNC_ERR_FILE naming `what` (e.g. "users file") and the path. */
export function readFileOrFail(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_FILE', `cannot read ${what} ${file}: ${readFailure(file, err)}`, { file });
  }
}

/** The same, as UTF-8 text. */
export function readTextOrFail(file: string, what: string): string {
  return readFileOrFail(file, what).toString('utf8');
}
