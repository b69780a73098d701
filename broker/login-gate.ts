/**
 * Password checks, bounded, so a login flood cannot take the thread pool the store commits on
 * (see docs/broker-logins.md for the measurements and the timing reasoning):
 *
 * - At most `concurrency` checks run at once (scrypt runs on libuv's thread pool, 4 threads by
 *   default, which LMDB's commits and file I/O share); at most `maxWaiting` wait for a turn.
 *   Beyond that a login is refused at once as busy, whoever it is for.
 * - A login for a user that does not exist derives nothing: it takes its turn like any other and
 *   holds it for as long as a real check takes (a running average of the real checks, with their
 *   spread), so its answer comes after the same queueing and about the same time as a wrong
 *   password's. The first such check before any real one derives once, on a dummy record, to learn the cost.
 * - A client that went away while waiting is not checked at all.
 */
import { verifyPassword, type UserRecord } from '../src/auth/users.js';

export interface LoginGateOptions {
  /** Password checks at once. Default 1. */
  concurrency?: number;
  /** Checks waiting for a turn; more are refused as busy. Default 256. */
  maxWaiting?: number;
}

export type LoginVerdict = 'ok' | 'bad' | 'busy' | 'gone';

const DUMMY: Pick<UserRecord, 'salt' | 'hash'> = { salt: Buffer.alloc(16, 1).toString('base64'), hash: Buffer.alloc(32, 2).toString('base64') };

export class LoginGate {
  private readonly concurrency: number;
  private readonly maxWaiting: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Running average and mean deviation of a real check, in ms; undefined until one ran. */
  private meanMs: number | undefined;
  private devMs = 0;
  constructor(
    options: LoginGateOptions = {},
    /** Called after each real scrypt derivation (the broker counts them). */
    private readonly onDerive: () => void = () => undefined,
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.maxWaiting = Math.max(0, options.maxWaiting ?? 256);
  }

  /** Checks `password` against `record` (undefined: no such user), in turn; `alive` says whether the client is still there. */
  async check(record: Pick<UserRecord, 'salt' | 'hash'> | undefined, password: Buffer | undefined, alive: () => boolean): Promise<LoginVerdict> {
    if (this.active >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) return 'busy';
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.active++;
    try {
      if (!alive()) return 'gone';
      if (record === undefined && this.meanMs !== undefined) {
        await pause(Math.max(0, this.meanMs + (Math.random() * 2 - 1) * this.devMs));
        return 'bad';
      }
      const t0 = performance.now();
      const ok = await verifyPassword(record ?? DUMMY, password);
      this.onDerive();
      this.learn(performance.now() - t0);
      return ok && record !== undefined ? 'ok' : 'bad';
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  private learn(ms: number): void {
    if (this.meanMs === undefined) {
      this.meanMs = ms;
      return;
    }
    this.devMs += (Math.abs(ms - this.meanMs) - this.devMs) / 8;
    this.meanMs += (ms - this.meanMs) / 8;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
