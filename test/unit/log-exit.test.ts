/**
 * The default logger writes stderr asynchronously: these check, with real child processes, that
 * the lines logged just before `process.exit`, an uncaught exception or a SIGTERM stop are
 * written, and that the stderr buffer is bounded (lines past it are dropped and counted).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { STDERR_BUFFER_BYTES } from '../../src/log-stderr.js';
import { closedPort, Harness, withTimeout, type Exit } from '../helpers/procs.js';

const CHILD = fileURLToPath(new URL('./log-exit-child.js', import.meta.url));

interface Line {
  level?: string;
  msg?: string;
  i?: number;
  dropped?: number;
}

function parseLines(stderr: string): Line[] {
  return stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
}

/** Runs the child; `holdStderr` leaves its stderr unread until it has written a line on stdout. */
async function runChild(args: string[], holdStderr = false): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const readStderr = (): void => {
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  };
  if (!holdStderr) readStderr();
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    const first = !stdout.includes('\n');
    stdout += s;
    if (holdStderr && first && stdout.includes('\n')) readStderr();
  });
  const exit = await withTimeout(new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))), 30_000, 'the log child to exit');
  return { ...exit, stdout, stderr };
}

test('process.exit right after logging: every line is written, in order, the last one too', async () => {
  const r = await runChild(['exit', '3000', '20']);
  assert.equal(r.code, 3);
  const lines = parseLines(r.stderr);
  assert.deepEqual(lines.filter((l) => l.msg === 'line').map((l) => l.i), Array.from({ length: 3000 }, (_, i) => i));
  assert.deepEqual(lines.at(-1), { ...lines.at(-1), level: 'error', msg: 'last line before exit' });
});

test('flushLogs before process.exit, with writes under way: every line is written whole, in order; no write waited on EAGAIN', async () => {
  const count = 100_000;
  const r = await runChild(['burst', String(count), '150']);
  assert.equal(r.code, 3);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const whole = lines.filter((l) => {
    try {
      return (JSON.parse(l) as Line).msg === 'line';
    } catch {
      return false;
    }
  });
  assert.equal(whole.length, count, `${lines.length - whole.length - 1} lines cut or lost`);
  assert.ok(whole.every((l, i) => (JSON.parse(l) as Line).i === i), 'in order');
  assert.equal((JSON.parse(lines.at(-1) as string) as Line).msg, 'last line before exit');
  assert.deepEqual(JSON.parse(r.stdout), { dropped: 0, retried: 0 }, 'stderr (a pipe) is blocking: writes wait in the thread pool, not on 100 ms retries');
});

test('an uncaught exception right after logging: every line is written before the crash report', async () => {
  const r = await runChild(['throw', '3000', '20']);
  assert.equal(r.code, 1);
  assert.equal(parseLines(r.stderr).filter((l) => l.msg === 'line').length, 3000);
  assert.match(r.stderr, /Error: fatal after logging/);
});

test('stderr not read: the buffer stays bounded, lines past it are dropped, then counted in a warning', async () => {
  const count = 12_000;
  const pad = 1000; // each line is about 1.1 KB: 13 MB in all, over the 8 MiB bound
  const r = await runChild(['flood', String(count), String(pad)], true);
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  const dropped = (JSON.parse(r.stdout.split('\n')[0] as string) as { dropped: number }).dropped;
  const lines = parseLines(r.stderr);
  const written = lines.filter((l) => l.msg === 'line');
  assert.ok(dropped > 0, 'some lines were dropped');
  assert.equal(written.length + dropped, count, 'every line is either written whole or counted as dropped');
  assert.ok(written.length * pad < STDERR_BUFFER_BYTES + 1024 * 1024, `at most the bound (plus the pipe) was held: ${written.length} lines`);
  assert.deepEqual(lines.filter((l) => l.level === 'warn').map((l) => [l.msg, l.dropped]), [['log lines dropped: stderr did not keep up', dropped]]);
});

test('hamsync daemon stopped by SIGTERM: its last log line, "daemon stopped", reaches stderr', async (t) => {
  const h = new Harness(t);
  const d = await h.daemon({ id: 'log-exit', broker: `mqtt://127.0.0.1:${String(await closedPort())}` });
  await d.proc.stop(10_000);
  const lines = parseLines(d.proc.stderr);
  assert.deepEqual(lines.slice(-2).map((l) => l.msg), ['daemon stopping', 'daemon stopped'], d.proc.tail());
});
