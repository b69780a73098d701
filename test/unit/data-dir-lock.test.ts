/**
 * The data directory's exclusive lock (src/store/lock.ts), taken by daemon, broker and import.
 * Stale locks are checked against real processes: a child that exited (its pid is gone), our
 * parent with a wrong start time (a reused pid), another boot, another host.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LOCK_FILE, lockDataDir, lockHolder, type LockHolder } from '../../src/store/lock.js';
import { bootId, processStart } from '../../src/store/process-mark.js';
import { expectHamsyncError } from '../helpers/errors.js';
import { tempDir } from '../helpers/tmp.js';

function writeLock(dir: string, holder: Partial<LockHolder>): void {
  const h = { pid: process.ppid, host: os.hostname(), purpose: 'daemon', since: '2026-01-01T00:00:00.000Z', nonce: 'n0', ...holder };
  fs.writeFileSync(path.join(dir, LOCK_FILE), `${JSON.stringify(h)}\n`);
}

function readLock(dir: string): LockHolder {
  return JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as LockHolder;
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid as number;
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

test('one holder at a time: a second lock is refused naming the holder, release lets the next one in', (t) => {
  const dir = path.join(tempDir(t), 'new-dir');
  const first = lockDataDir(dir, 'daemon');
  assert.ok(fs.existsSync(path.join(dir, LOCK_FILE)), 'the directory and its lock file were created');
  const held = readLock(dir);
  assert.equal(held.pid, process.pid);
  assert.equal(held.purpose, 'daemon');
  if (bootId() !== undefined) assert.equal(held.start, processStart(process.pid), 'the start time is recorded (Linux)');
  const err = expectHamsyncError(() => lockDataDir(dir, 'import'), 'HAMSYNC_ERR_LOCKED', 'second lock');
  assert.match(err.message, /in use by this process \(daemon, since /);
  assert.equal(err.details.pid, process.pid);
  assert.deepEqual(lockHolder(dir)?.nonce, held.nonce);
  first.release();
  first.release();
  assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false, 'released: the file is gone');
  assert.equal(lockHolder(dir), undefined);
  const second = lockDataDir(dir, 'import');
  second.release();
});

test('a live holder in another process is refused with its pid', (t) => {
  const dir = tempDir(t);
  const start = processStart(process.ppid);
  writeLock(dir, { pid: process.ppid, ...(start === undefined ? {} : { start }), ...(bootId() === undefined ? {} : { boot: bootId() }) });
  const err = expectHamsyncError(() => lockDataDir(dir, 'daemon'), 'HAMSYNC_ERR_LOCKED', 'live holder');
  assert.match(err.message, new RegExp(`in use by pid ${process.ppid} \\(daemon, since 2026-01-01T00:00:00.000Z\\); stop it first`));
  assert.equal(readLock(dir).nonce, 'n0', 'the holder\'s lock is untouched');
});

test('a stale lock is taken over: the holder exited (kill -9), the pid was reused, the machine rebooted, or the file is garbage', async (t) => {
  const cases: [string, () => Promise<void> | void][] = [
    ['exited', async () => writeLock(dirOf('exited'), { pid: await deadPid() })],
    // Our parent runs, but started at another time than the lock says: its pid was reused.
    ['reused', () => writeLock(dirOf('reused'), { pid: process.ppid, start: '1', boot: bootId() })],
    ['rebooted', () => writeLock(dirOf('rebooted'), { pid: process.ppid, boot: 'another-boot', start: processStart(process.ppid) })],
    ['garbage', () => fs.writeFileSync(path.join(dirOf('garbage'), LOCK_FILE), 'not json')],
  ];
  const dirs = new Map(cases.map(([name]) => [name, tempDir(t)]));
  const dirOf = (name: string): string => dirs.get(name) as string;
  for (const [name, make] of cases) {
    if ((name === 'reused' || name === 'rebooted') && bootId() === undefined) continue; // no /proc: cannot tell
    await make();
    const lock = lockDataDir(dirOf(name), 'broker');
    assert.equal(readLock(dirOf(name)).pid, process.pid, `${name}: taken over`);
    lock.release();
    assert.deepEqual(fs.readdirSync(dirOf(name)), [], `${name}: no lock or temp file left`);
  }
});

test('a lock taken on another host is never taken over: the message says how to remove it', (t) => {
  const dir = tempDir(t);
  writeLock(dir, { pid: 1, host: 'another-host.example' });
  const err = expectHamsyncError(() => lockDataDir(dir, 'daemon'), 'HAMSYNC_ERR_LOCKED', 'other host');
  assert.match(err.message, /locked by pid 1 \(daemon, since .*\) on host "another-host.example"; this host cannot check that process: if it no longer runs, remove .*hamsync\.lock/);
});

test('release removes only its own lock; many locks share one exit hook', (t) => {
  const dir = tempDir(t);
  const lock = lockDataDir(dir, 'import');
  // Someone else's lock replaced ours (an operator removed ours, another process took it).
  writeLock(dir, { nonce: 'theirs' });
  lock.release();
  assert.equal(readLock(dir).nonce, 'theirs', 'not ours: left alone');
  const exitHooks = process.listenerCount('exit');
  const many = Array.from({ length: 20 }, () => lockDataDir(tempDir(t), 'daemon'));
  assert.equal(process.listenerCount('exit'), exitHooks, 'no listener per lock (no MaxListeners warning with many daemons in one process)');
  for (const l of many) l.release();
});

test('a process that exits without releasing removes its lock on the way out (exit hook)', async (t) => {
  const dir = tempDir(t);
  const lockModule = new URL('../../src/store/lock.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `const { lockDataDir } = await import(${JSON.stringify(lockModule)}); lockDataDir(${JSON.stringify(dir)}, 'daemon'); process.exit(3);`], { stdio: 'ignore' });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 3);
  assert.equal(fs.existsSync(path.join(dir, LOCK_FILE)), false);
});
