import { Backoff } from '../util/backoff.js';
import type { Context } from '../context.js';

/** The part of an mqtt.js client the reconnector drives (created with reconnectPeriod 0). */
export interface Reconnectable {
  connect(): unknown;
  on(event: 'connect', fn: () => void): unknown;
  on(event: 'close', fn: () => void): unknown;
  on(event: 'error', fn: (err: Error & { code?: string | number }) => void): unknown;
}

export interface ReconnectOptions {
  /** First delay after a failed attempt or a lost connection, in ms. */
  minMs: number;
  /** The cap of the delay, in ms (the delay doubles up to it, ±20 % jitter). */
  maxMs: number;
  /** While offline, one summary line at most this often. Default 5 min. */
  summaryEveryMs?: number;
  /** A connection that lasted less than this does not reset the backoff (a flapping link backs off too). Default 10 s. */
  stableMs?: number;
  random?: () => number;
  /** Wall clock for status and summaries (ms). */
  now?: () => number;
}

/** The link's state as `status` shows it (times in ms since the epoch, by the system clock). */
export interface LinkStatus {
  state: 'connecting' | 'connected' | 'offline' | 'stopped';
  since: number;
  /** Attempts that failed since the last connection (or since the start). */
  failedAttempts: number;
  lastError: { message: string; code: string | number | null; at: number } | null;
  /** When the next attempt is due, while offline. */
  nextAttemptAt: number | null;
}

/**
 * Reconnects the daemon's MQTT client after any failure — a refused CONNACK included, which
 * mqtt.js itself never retries — with a capped exponential backoff with jitter, and keeps the
 * log quiet while offline: one line per state change (connection lost, a new kind of error) and
 * a summary now and then, instead of one warning per attempt. Every attempt is counted
 * (link.attempts, link.failed).
 */
export class Reconnector {
  private readonly backoff: Backoff;
  private readonly summaryEveryMs: number;
  private readonly stableMs: number;
  private readonly now: () => number;
  private state: LinkStatus['state'] = 'connecting';
  private since: number;
  private connectedAt = 0;
  private failed = 0;
  private lastError: LinkStatus['lastError'] = null;
  private errorThisAttempt = false;
  private loggedKind: string | undefined;
  private lastLogAt = 0;
  /** When the current outage began (0: none). */
  private offlineSince = 0;
  private timer: NodeJS.Timeout | undefined;
  private nextAt: number | null = null;

  constructor(
    private readonly ctx: Context,
    private readonly client: Reconnectable,
    options: ReconnectOptions,
  ) {
    this.backoff = new Backoff(options.minMs, options.maxMs, options.random);
    this.summaryEveryMs = options.summaryEveryMs ?? 300_000;
    this.stableMs = options.stableMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.since = this.now();
    this.ctx.counters.inc('link.attempts'); // mqtt.connect() makes the first one
    client.on('connect', () => this.onConnect());
    client.on('error', (err) => this.onError(err));
    client.on('close', () => this.onClose());
  }

  status(): LinkStatus {
    return { state: this.state, since: this.since, failedAttempts: this.failed, lastError: this.lastError, nextAttemptAt: this.nextAt };
  }

  /** No more attempts (the daemon is stopping). */
  stop(): void {
    this.setState('stopped');
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAt = null;
  }

  private setState(state: LinkStatus['state']): void {
    if (this.state === state) return;
    this.state = state;
    this.since = this.now();
  }

  private onConnect(): void {
    this.setState('connected');
    this.connectedAt = this.now();
    if (this.failed > 0) this.ctx.log.info('broker reachable again', { failedAttempts: this.failed, offlineMs: this.now() - this.offlineSince });
    this.failed = 0;
    this.offlineSince = 0;
    this.loggedKind = undefined;
  }

  private onError(err: Error & { code?: string | number }): void {
    this.errorThisAttempt = true;
    this.lastError = { message: err.message.slice(0, 300), code: err.code ?? null, at: this.now() };
    if (typeof err.code === 'number') this.ctx.counters.inc('link.refused'); // a CONNACK return code
  }

  private onClose(): void {
    if (this.state === 'stopped' || this.timer) return;
    const wasConnected = this.state === 'connected';
    if (!this.errorThisAttempt) this.lastError = { message: wasConnected ? 'connection closed' : 'connection closed before the broker accepted it', code: null, at: this.now() };
    this.errorThisAttempt = false;
    if (this.offlineSince === 0) this.offlineSince = this.now();
    if (wasConnected) {
      if (this.now() - this.connectedAt >= this.stableMs) this.backoff.reset();
    } else {
      this.failed++;
      this.ctx.counters.inc('link.failed');
    }
    this.setState('offline');
    const delay = this.backoff.next();
    this.nextAt = this.now() + delay;
    this.report(wasConnected, delay);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nextAt = null;
      if (this.state === 'stopped') return;
      this.setState('connecting');
      this.ctx.counters.inc('link.attempts');
      this.client.connect();
    }, delay);
    this.timer.unref?.();
  }

  /** State changes are logged; repeats of the same failure only as a periodic summary. */
  private report(wasConnected: boolean, delay: number): void {
    const err = this.lastError;
    const kind = String(err?.code ?? err?.message);
    const fields = { err: err?.message, code: err?.code, failedAttempts: this.failed, retryInMs: delay };
    if (wasConnected) {
      this.ctx.log.warn('broker connection lost; working offline, retrying with backoff', fields);
    } else if (kind !== this.loggedKind) {
      this.ctx.log.warn('cannot connect to the broker; working offline, retrying with backoff', fields);
    } else if (this.now() - this.lastLogAt >= this.summaryEveryMs) {
      this.ctx.log.info('still offline', { ...fields, offlineMs: this.now() - this.offlineSince });
    } else {
      return;
    }
    this.loggedKind = kind;
    this.lastLogAt = this.now();
  }
}
