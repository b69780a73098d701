/**
 * What a child process used, read from Linux's /proc: CPU time per thread (utime + stime of
 * /proc/<pid>/task/<tid>/stat, named by /proc/<pid>/task/<tid>/comm) and the bytes it caused to be
 * written to storage (write_bytes of /proc/<pid>/io, and of each thread's task/<tid>/io). A
 * snapshot before and one after a window; `threadDelta` and the write_bytes difference are the window's.
 *
 * Node 20 leaves its threads unnamed (every comm is the process's, "node"), so `threadDelta` names
 * them by role: 'main' (the event loop's thread, tid = pid), 'storage writers' (a thread that wrote
 * to storage within the window: LMDB's write/fsync thread), and 'other' (V8's and libuv's pools),
 * keeping any comm that differs from the main thread's.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** One snapshot: CPU ms per thread id (with its name), and write_bytes so far. */
export interface ProcSnapshot {
  threads: Map<number, { name: string; ms: number; writeBytes: number }>;
  writeBytes: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** utime + stime of one /proc stat line, in ms (fields 14 and 15, counted after the `(comm)` field, which may hold spaces). */
function cpuMs(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15.
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / clockTicks();
}

/** Reads the threads and write_bytes of process `pid` (a thread that exits between the listing and the read is left out). */
export function snapshot(pid: number): ProcSnapshot {
  const threads = new Map<number, { name: string; ms: number; writeBytes: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const dir = `/proc/${pid}/task/${tid}`;
    try {
      threads.set(Number(tid), { name: readFileSync(`${dir}/comm`, 'utf8').trim(), ms: cpuMs(readFileSync(`${dir}/stat`, 'utf8')), writeBytes: writeBytes(`${dir}/io`) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return { threads, writeBytes: writeBytes(`/proc/${pid}/io`) };
}

function writeBytes(file: string): number {
  const io = /^write_bytes: (\d+)$/m.exec(readFileSync(file, 'utf8'));
  if (!io) throw new Error(`${file} has no write_bytes line`);
  return Number(io[1]);
}

/**
 * CPU ms per thread role over the window from `a` to `b` (threads of one role summed, and counted),
 * largest first. `pid` is the main thread's id. A thread started within the window
 * counts from zero; one that ended within it is missing.
 */
export function threadDelta(pid: number, a: ProcSnapshot, b: ProcSnapshot): [role: string, ms: number, threads: number][] {
  const mainComm = b.threads.get(pid)?.name;
  const byRole = new Map<string, { ms: number; n: number }>();
  for (const [tid, t] of b.threads) {
    const before = a.threads.get(tid);
    const ms = t.ms - (before?.ms ?? 0);
    const wrote = t.writeBytes > (before?.writeBytes ?? 0);
    const role = tid === pid ? 'main' : wrote ? 'storage writers' : t.name === mainComm ? 'other' : t.name;
    const r = byRole.get(role) ?? { ms: 0, n: 0 };
    r.ms += ms;
    r.n += 1;
    byRole.set(role, r);
  }
  return [...byRole].map(([role, r]): [string, number, number] => [role, r.ms, r.n]).sort((x, y) => y[1] - x[1]);
}
