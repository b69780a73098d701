/**
 * Runs Debian's `gpsfake` (package gpsd-clients, with gpsd) as a child process: a real gpsd fed
 * from an NMEA capture. gpsfake ignores SIGTERM while it waits for input that never comes (with
 * -1 and no client of its own it never exits by itself), so `stop()` signals its whole process
 * group (gpsfake and its gpsd): SIGTERM first, then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../helpers/wait.js';
import { FIXTURES } from './helpers.js';

/** One gpsfake process replaying a capture from test/fixtures/gpsd/. */
export class GpsFake {
  private stderr = '';
  private readonly exited: Promise<void>;
  private exitedNow = false;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly log: string,
    private readonly tmp: string,
  ) {
    child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      if (this.stderr.length < 64 * 1024) this.stderr += s;
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.exitedNow = true;
        resolve();
      }),
    );
  }

  /**
   * Starts `gpsfake -1 -q -P <port> -c <cycle> test/fixtures/gpsd/<capture>`, with a private
   * TMPDIR for its control socket (a killed gpsfake leaves `$TMPDIR/gpsfake-<pid>.sock` behind).
   */
  static start(capture: string, port: number, cycleSeconds: number): GpsFake {
    const log = path.join(FIXTURES, 'gpsd', capture);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hamsync-gpsfake-'));
    const child = spawn('gpsfake', ['-1', '-q', '-P', String(port), '-c', String(cycleSeconds), log], {
      detached: true, // its own process group, so stop() reaches gpsd too
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, TMPDIR: tmp },
    });
    child.once('error', () => undefined); // reported through diagnostics(); the test checked for gpsfake first
    return new GpsFake(child, port, log, tmp);
  }

  /** What gpsfake/gpsd said on stderr (its "unable to connect to the DBUS system bus" is harmless). */
  diagnostics(): string {
    return `gpsfake on port ${this.port} (${this.exitedNow ? `exited ${String(this.child.exitCode ?? this.child.signalCode)}` : 'running'}), stderr: ${this.stderr.trim().slice(-2000) || '(empty)'}`;
  }

  /** Ends gpsfake and its gpsd: SIGTERM to the group, SIGKILL after 1.5 s. */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) {
      fs.rmSync(this.tmp, { recursive: true, force: true });
      return;
    }
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pid, sig);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    await Promise.race([this.exited, sleep(1500)]);
    // Always SIGKILL the group: gpsfake may have exited while its gpsd lingers.
    signal('SIGKILL');
    await Promise.race([this.exited, sleep(3000)]);
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
