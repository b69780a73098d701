import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface AtomicWriteOptions {
  /** File mode, set explicitly (not left to the umask). Default 0o600. */
  mode?: number;
  /** Replace an existing file. Default true; false: fail with EEXIST, leaving it untouched. */
  overwrite?: boolean;
}

/**
 * Writes `data` to `file` so that readers see the old content or the whole new one, never a part:
 * a temp file in the same directory (created exclusively with `mode`, fsynced), then renamed over
 * `file`, or hard-linked to it when it must not be overwritten (link fails if `file` exists).
 * Throws Node's error (its `code`, e.g. EEXIST, ENOENT, EACCES); the temp file is always removed.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const mode = options.mode ?? 0o600;
  const overwrite = options.overwrite ?? true;
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.chmodSync(tmp, mode);
    if (overwrite) fs.renameSync(tmp, file);
    else linkExclusive(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** link(2), which never replaces; where links are not supported, an existence check and rename. */
function linkExclusive(tmp: string, file: string): void {
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
    if (fs.existsSync(file)) throw Object.assign(new Error(`EEXIST: file already exists, '${file}'`), { code: 'EEXIST' });
    fs.renameSync(tmp, file);
  }
}
