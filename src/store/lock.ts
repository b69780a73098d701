import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HamsyncError, describe } from '../errors.js';
import { create, read, takeOver } from './lock-file.js';
import { bootId, isStale, processStart, type ProcessMark } from './process-mark.js';

/** The lock file in a data directory. */
export const LOCK_FILE = 'hamsync.lock';

/** What a lock file says about the process that holds it. */
export interface LockHolder extends ProcessMark {
  /** What holds it: daemon, broker, import, clock-reset, ... */
  purpose: string;
  /** When it was taken (ISO 8601). */
  since: string;
  /** Random: tells this lock from an earlier one of the same process (a takeover checks it). */
  nonce: string;
}

/** An exclusive lock on a data directory; `release` it when done (idempotent). */
export interface DataDirLock {
  readonly dir: string;
  readonly file: string;
  readonly holder: LockHolder;
  release(): void;
}

/** Attempts before giving up when the lock keeps changing hands. */
const ATTEMPTS = 5;

/**
 * Takes the exclusive lock on data directory `dir` (created if missing) for `purpose`: the file
 * `dir/hamsync.lock`, created atomically (link(2) of a complete, synced file) with this process's
 * pid, boot id and start time. A lock left by a process that is gone (kill -9, power loss: its
 * pid is not running, the machine rebooted since, or the pid now belongs to a process that
 * started later) is taken over. Refuses with HAMSYNC_ERR_LOCKED naming the holder's pid while
 * it runs, and when the lock was taken on another host (nothing here can check that one).
 * The lock is released by `release()`, and on a normal process exit; read-only opens
 * (replay, export) do not take it. Throws HAMSYNC_ERR_STORE when the directory cannot be used.
 */
export function lockDataDir(dir: string, purpose: string): DataDirLock {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `dataDir must be a non-empty path, got ${describe(dir)}`, { field: 'dataDir' });
  }
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_STORE', `cannot use data directory ${dir}: ${(err as Error).message}`, { dir });
  }
  const file = path.join(dir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    ...optional('boot', bootId()),
    ...optional('start', processStart(process.pid)),
    purpose,
    since: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
  };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (create(file, text, dir)) return handle(dir, file, me, text);
    const held = read(file);
    if (held === undefined) continue; // released meanwhile: try again
    const holder = parse(held);
    if (holder && !isStale(holder)) throw lockedBy(dir, file, holder);
    takeOver(file, held);
  }
  throw new HamsyncError('HAMSYNC_ERR_LOCKED', `cannot lock data directory ${dir}: its lock file ${file} changed hands ${ATTEMPTS} times while trying; try again`, { dir });
}

/** Who holds the lock of `dir` now (undefined: nobody, or a stale lock). For messages and status. */
export function lockHolder(dir: string): LockHolder | undefined {
  const text = read(path.join(dir, LOCK_FILE));
  const holder = text === undefined ? undefined : parse(text);
  return holder && !isStale(holder) ? holder : undefined;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

function lockedBy(dir: string, file: string, h: LockHolder): HamsyncError {
  const details = { dir, pid: h.pid, purpose: h.purpose, host: h.host };
  if (h.host !== os.hostname()) {
    return new HamsyncError(
      'HAMSYNC_ERR_LOCKED',
      `data directory ${dir} is locked by pid ${h.pid} (${h.purpose}, since ${h.since}) on host ${describe(h.host)}; this host cannot check that process: if it no longer runs, remove ${file}`,
      details,
    );
  }
  const who = h.pid === process.pid ? 'this process' : `pid ${h.pid}`;
  return new HamsyncError('HAMSYNC_ERR_LOCKED', `data directory ${dir} is in use by ${who} (${h.purpose}, since ${h.since}); stop it first, or use another --data-dir`, details);
}

/** The holder a lock file names; undefined for a file that is not one of ours (taken over as stale). */
function parse(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder> | null;
    if (h && Number.isSafeInteger(h.pid) && (h.pid as number) > 0 && typeof h.host === 'string' && typeof h.nonce === 'string') {
      return { purpose: '?', since: '?', ...h } as LockHolder;
    }
  } catch {
    // fall through
  }
  return undefined;
}

/** Releases of the locks this process holds, run on a normal exit (one listener for them all). */
const held = new Set<() => void>();
let exitHook = false;

function handle(dir: string, file: string, holder: LockHolder, text: string): DataDirLock {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    held.delete(release);
    // Only our own lock: never one that was (wrongly) taken over from us.
    try {
      if (fs.readFileSync(file, 'utf8') === text) fs.rmSync(file, { force: true });
    } catch {
      // Gone already, or unreadable: nothing of ours to remove.
    }
  };
  held.add(release);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const r of [...held]) r();
    });
  }
  return { dir, file, holder, release };
}
