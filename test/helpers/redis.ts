/**
 * A private `redis-server` for cluster tests: on a free port, in its own temp directory, never
 * the machine's shared Redis (tests must not touch its data). It can be stopped and started again
 * on the same port, keeping its data (append-only file) or starting empty.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from './ports.js';
import { tempDir, removeDir, type HasAfter } from './tmp.js';
import { until } from './wait.js';

export interface RedisOptions {
  /** Keep data across `restart` (append-only file, fsync every second). Default true. */
  persist?: boolean;
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write('PING\r\n');
    });
    s.once('data', (b) => {
      s.destroy();
      resolve(b.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}

export class PrivateRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  port = 0;
  readonly dir: string;

  private constructor(
    private readonly options: RedisOptions,
    t?: HasAfter,
  ) {
    this.dir = tempDir(t);
  }

  /** Starts a private redis-server; with a test context it is killed and its dir removed when the test ends. */
  static async start(t?: HasAfter, options: RedisOptions = {}): Promise<PrivateRedis> {
    const r = new PrivateRedis(options, t);
    r.port = await freePort();
    t?.after(() => r.destroy());
    await r.launch();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    const persist = this.options.persist !== false;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'no'];
    if (persist) args.push('--appendonly', 'yes', '--appendfsync', 'always');
    else args.push('--appendonly', 'no');
    const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let failed: Error | undefined;
    child.once('error', (err) => (failed = err));
    await until(async () => {
      if (failed) throw failed;
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      return connects(this.port);
    }, { timeoutMs: 10_000, what: `redis-server on port ${this.port}` });
  }

  /** Stops it: SIGTERM (a clean shutdown, the append-only file is complete) or SIGKILL. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill(signal);
    await this.exited;
  }

  /** Stops and starts it again on the same port; `empty`: with its data removed first. */
  async restart(options: { empty?: boolean } = {}): Promise<void> {
    await this.stop();
    if (options.empty) {
      for (const f of fs.readdirSync(this.dir)) fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
    }
    await this.launch();
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    removeDir(this.dir);
  }
}
