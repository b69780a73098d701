import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { HamsyncError } from '../errors.js';

// The file operations of the data directory lock (lock.ts).

/** Creates the lock file holding `text`, atomically; false if one exists. */
export function create(file: string, text: string, dir: string): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fd = fs.openSync(tmp, 'wx', 0o644);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, file);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // A file system without hard links (FAT on a USB stick): exclusive create instead.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') return createDirect(file, text);
      throw err;
    }
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_STORE', `cannot lock data directory ${dir}: ${(err as Error).message}`, { dir });
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function createDirect(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** The lock file's text, or undefined when there is none. */
export function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new HamsyncError('HAMSYNC_ERR_STORE', `cannot read lock file ${file}: ${(err as Error).message}`, { file });
  }
}

/**
 * Removes a stale lock whose text was `stale`: moved aside first, so of several processes taking
 * it over at once only one removes it; if what was moved is not that lock (it was taken over and
 * re-taken meanwhile), it is put back.
 */
export function takeOver(file: string, stale: string): void {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new HamsyncError('HAMSYNC_ERR_STORE', `cannot take over the stale lock ${file}: ${(err as Error).message}`, { file });
  }
  try {
    if (fs.readFileSync(aside, 'utf8') !== stale) {
      try {
        fs.linkSync(aside, file);
      } catch {
        // Yet another lock is there now: it stands.
      }
    }
  } finally {
    fs.rmSync(aside, { force: true });
  }
}
