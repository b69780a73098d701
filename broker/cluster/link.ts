/**
 * The node's connections to the shared Redis (ioredis): one for commands, one for the
 * consumer's blocking reads. No offline queue (a command while Redis is away fails at once,
 * nothing grows), reconnects with backoff, and a PING watchdog: a PING unanswered within the
 * timeout (a silent partition: the TCP connection stays open, nothing comes back) forces both
 * connections to reconnect. `up` is what /readyz and the metrics report.
 */
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from '../../src/log.js';
import { Backoff } from '../../src/util/backoff.js';

export interface LinkOptions {
  /** PING interval, ms. Default 1000. */
  pingMs?: number;
  /** A command (and a PING) unanswered this long fails, ms; the connections reconnect. Default 2000. */
  timeoutMs?: number;
  /** Longest XREAD BLOCK, ms. Default 1000. */
  blockMs?: number;
}

export type LinkEvents = { up: []; down: [string] };

export class RedisLink extends EventEmitter<LinkEvents> {
  readonly cmd: Redis;
  readonly blocking: Redis;
  readonly blockMs: number;
  private isUp = false;
  private lastError = '';
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  private stopped = false;
  private readonly pingMs: number;
  private readonly timeoutMs: number;

  constructor(
    url: string,
    private readonly log: Logger,
    options: LinkOptions = {},
  ) {
    super();
    this.pingMs = options.pingMs ?? 1000;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.blockMs = options.blockMs ?? 1000;
    this.cmd = this.connection(url, 'commands', this.timeoutMs);
    this.blocking = this.connection(url, 'reads', this.blockMs + this.timeoutMs);
  }

  private connection(url: string, name: string, commandTimeout: number): Redis {
    const backoff = new Backoff(100, 2000);
    const r = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: this.timeoutMs,
      commandTimeout,
      enableReadyCheck: true,
      retryStrategy: () => (this.stopped ? null : backoff.next()),
    });
    r.on('ready', () => backoff.reset());
    r.on('error', (err: Error) => {
      this.lastError = err.message;
      this.log.debug('cluster redis connection error', { connection: name, err: err.message });
    });
    r.on('close', () => {
      if (name === 'commands') this.setDown('connection closed');
    });
    return r;
  }

  /** Connects (failures are retried in the background) and starts the watchdog. */
  start(): void {
    for (const r of [this.cmd, this.blocking]) r.connect().catch(() => undefined);
    this.timer = setInterval(() => void this.ping(), this.pingMs);
    this.timer.unref();
    void this.ping();
  }

  get up(): boolean {
    return this.isUp;
  }

  /** Why it is down (the last error), or '' when up. */
  get reason(): string {
    return this.isUp ? '' : this.lastError || 'not connected yet';
  }

  /** A command failed (e.g. timed out): mark down and reconnect both connections. */
  failed(err: Error): void {
    this.lastError = err.message;
    if (this.stopped) return;
    this.setDown(err.message);
    if (/timed out/i.test(err.message)) this.reconnect();
  }

  private reconnect(): void {
    for (const r of [this.cmd, this.blocking]) {
      if (r.status === 'ready' || r.status === 'connect') r.disconnect(true);
    }
  }

  private async ping(): Promise<void> {
    if (this.pinging || this.stopped) return;
    this.pinging = true;
    try {
      if (this.cmd.status !== 'ready') throw new Error(this.lastError || `redis connection ${this.cmd.status}`);
      await this.cmd.ping();
      this.setUp();
    } catch (err) {
      this.failed(err as Error);
    } finally {
      this.pinging = false;
    }
  }

  private setUp(): void {
    if (this.isUp) return;
    this.isUp = true;
    this.log.info('cluster redis connected');
    this.emit('up');
  }

  private setDown(why: string): void {
    if (!this.isUp) return;
    this.isUp = false;
    this.log.warn('cluster redis unreachable; serving clients locally, catching up when it is back', { reason: why });
    this.emit('down', why);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.isUp = false;
    for (const r of [this.cmd, this.blocking]) r.disconnect(false);
  }
}
