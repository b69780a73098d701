/**
 * Child processes for the fleet and protocol benches: the hub (`hamsync broker`), daemons, a
 * plain Aedes (broker.ts `--serve aedes`) and the simulated devices (fleet-devices.ts), each read
 * line by line on stdout; and /proc samplers of CPU and RSS. Hub and daemon run this checkout's
 * CLI unless given another entry point (the protocol bench's v1 build).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { procStatusKiB } from '../helpers/v2.js';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const AEDES = fileURLToPath(new URL('./broker.js', import.meta.url));
const DEVICES = fileURLToPath(new URL('./fleet-devices.js', import.meta.url));

function env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.NODE_TEST_CONTEXT;
  for (const k of Object.keys(e)) if (k.startsWith('HAMSYNC_')) delete e[k];
  return { ...e, ...extra };
}

/** One child: stdin for commands, stdout as JSON lines, stderr kept (the end) for errors. */
export class Kid {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly lines: unknown[] = [];
  private wake: () => void = () => undefined;
  readonly exited: Promise<number | null>;
  stderr = '';
  dirs: string[] = [];

  /** `extra`: environment variables on top of ours (HAMSYNC_* removed). */
  constructor(readonly name: string, args: string[], extra: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env(extra) });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as unknown);
        this.wake();
      } catch {
        // not JSON: ignore
      }
    });
    this.child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.stderr = (this.stderr + s).slice(-4000);
    });
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((r) => this.child.on('close', (code) => r(code)));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** `field` of the next stdout JSON line that has it, at most `timeoutMs` from now. */
  async line<T>(field: string, timeoutMs = 60_000): Promise<T> {
    return (await this.record<Record<string, unknown>>(field, timeoutMs))[field] as T;
  }

  /** The next stdout JSON line (whole) that has `field`, at most `timeoutMs` from now. */
  async record<T>(field: string, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => typeof l === 'object' && l !== null && field in l);
      if (i >= 0) return this.lines.splice(i, 1)[0] as T;
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited (${this.child.exitCode}) before printing ${field}; stderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name} printed no ${field} within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.min(left, 200));
        this.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }

  send(cmd: string): void {
    this.child.stdin.write(`${cmd}\n`);
  }

  /** SIGTERM (or `quit` on stdin), SIGKILL after 15 s; removes its temp dirs. */
  async stop(viaStdin = false): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      if (viaStdin) this.send('quit');
      else this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(timer);
    }
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `hamsync-bench-fleet-${label}-`));
}

/** Which build of the CLI a hub or daemon runs, and extra environment for it. */
export interface CliOptions {
  /** dist/src/cli/main.js of a build (default: this checkout's). */
  cli?: string;
  env?: NodeJS.ProcessEnv;
}

/** `hamsync broker` on a fresh temp dir; resolves with its port. */
export async function startHub(args: string[] = [], options: CliOptions = {}): Promise<{ kid: Kid; port: number }> {
  const dir = tempDir('hub');
  const kid = new Kid('hub', [options.cli ?? CLI, 'broker', '--port', '0', '--host', '127.0.0.1', '--data-dir', dir, '--log-level', 'warn', ...args], options.env);
  kid.dirs.push(dir);
  const l = await kid.line<{ port: number }>('listening');
  return { kid, port: l.port };
}

/** Plain Aedes with no hub (bench/broker.ts `--serve aedes`). */
export async function startAedes(): Promise<{ kid: Kid; port: number }> {
  const dir = tempDir('aedes');
  const kid = new Kid('aedes', [AEDES, '--serve', 'aedes', dir]);
  kid.dirs.push(dir);
  return { kid, port: await kid.line<number>('port') };
}

/** `hamsync daemon` on a fresh (or given) temp dir; resolves with its HTTP address. */
export async function startDaemon(id: string, broker: string, subscribe: string[], dataDir?: string, options: CliOptions = {}): Promise<{ kid: Kid; http: string; dataDir: string }> {
  const dir = dataDir ?? tempDir(id);
  const kid = new Kid(id, [options.cli ?? CLI, 'daemon', '--id', id, '--broker', broker, '--data-dir', dir, '--http', '127.0.0.1:0', '--log-level', 'warn', '--reconnect-max', '2s', ...subscribe.flatMap((f) => ['--subscribe', f])], options.env);
  const l = await kid.line<{ http: number }>('listening');
  return { kid, http: `127.0.0.1:${l.http}`, dataDir: dir };
}

/** The simulated devices (fleet-devices.ts), once all are connected. */
export async function startDevices(port: number, devices: number, perPut: number, putsPerSecond: number): Promise<Kid> {
  const kid = new Kid('devices', [DEVICES, String(port), String(devices), String(perPut), String(putsPerSecond)]);
  await kid.line<number>('ready', 120_000);
  return kid;
}

/** Samples VmRSS and RssAnon (heap, not LMDB's file-backed map) of some pids every `everyMs`; peaks in KiB. */
export class RssSampler {
  private readonly max = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: number[], everyMs = 200) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  private sample(): void {
    for (const pid of this.pids) {
      for (const field of ['VmRSS', 'RssAnon']) {
        try {
          const key = `${pid}:${field}`;
          this.max.set(key, Math.max(this.max.get(key) ?? 0, procStatusKiB(pid, field)));
        } catch {
          // gone
        }
      }
    }
  }

  /** Peak VmRSS (all resident memory, LMDB's mapped pages included). */
  peak(pid: number): number {
    this.sample();
    return this.max.get(`${pid}:VmRSS`) ?? NaN;
  }

  /** Peak RssAnon (anonymous memory: the JS heap, buffers, queues). */
  peakAnon(pid: number): number {
    this.sample();
    return this.max.get(`${pid}:RssAnon`) ?? NaN;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
