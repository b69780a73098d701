import fs from 'node:fs';
import os from 'node:os';

/** Enough to tell, later, whether a process still runs: its pid, host, boot and start time. */
export interface ProcessMark {
  pid: number;
  host: string;
  /** Linux boot id (/proc/sys/kernel/random/boot_id): changes at every boot. */
  boot?: string;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused pid. */
  start?: string;
}

/** This machine's boot id, or undefined where there is none (not Linux). */
export function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** When process `pid` started (clock ticks since boot), or undefined (no such process, not Linux). */
export function processStart(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields after it start at 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[22 - 3];
}

/** Whether a process with this pid exists (one we may not signal counts: EPERM). */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process a mark names is certainly gone: on this host, and the machine rebooted
 * since, or no process has its pid, or the one that has it started at another time (the pid was
 * reused). A mark from another host is never stale: nothing here can check it.
 */
export function isStale(mark: ProcessMark): boolean {
  if (mark.host !== os.hostname()) return false;
  const boot = bootId();
  if (mark.boot !== undefined && boot !== undefined && mark.boot !== boot) return true;
  if (!pidRuns(mark.pid)) return true;
  if (mark.start === undefined) return false;
  const start = processStart(mark.pid);
  return start !== undefined && start !== mark.start;
}
