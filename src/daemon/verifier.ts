/**
 * What a daemon checks before HAM sees an update it received (a peer's put, a catch-up answer, a
 * state message): the signature policy of src/sign/policy.ts against its keyring. A refusal is
 * counted (`sig.refused.<reason>`, `rejected.HAMSYNC_ERR_SIGNATURE`), logged (one line per second
 * per source and reason, with the number suppressed) and the update is not applied; the delivery
 * is still acknowledged, as for any rejected message (the broker would only send it again).
 */
import type { Context } from '../context.js';
import { HamsyncError, isHamsyncError } from '../errors.js';
import { LogThrottle } from '../log-throttle.js';
import type { CheckedUpdate } from '../model/update.js';
import { checkEachAsync, checkSignaturesAsync } from '../sign/policy.js';
import type { DaemonSigning } from './signing.js';

export class Verifier {
  private readonly throttle = new LogThrottle();

  constructor(
    private readonly ctx: Context,
    private readonly signing: DaemonSigning,
  ) {}

  /** False when there is nothing to check (no keys, signatures not required): updates pass as they are. */
  get active(): boolean {
    return this.signing.requireSigned || this.signing.keyring.size > 0;
  }

  /** A whole message: all its updates pass, or none (false: refused, counted and logged). */
  async message(updates: readonly CheckedUpdate[], topic: string): Promise<boolean> {
    if (!this.needed(updates)) return true;
    try {
      this.verified(await checkSignaturesAsync(updates, this.signing.keyring, { requireSigned: this.signing.requireSigned }));
      return true;
    } catch (err) {
      if (!isHamsyncError(err, 'HAMSYNC_ERR_SIGNATURE')) throw err;
      this.refused(err, topic, updates.length);
      return false;
    }
  }

  /**
   * Update by update (a catch-up answer gathers many sources' updates; one the hub cannot vouch
   * for, e.g. stored before its source had a key, must not cost the others): the ones that pass.
   */
  async each(updates: readonly CheckedUpdate[], topic: string): Promise<CheckedUpdate[]> {
    if (!this.needed(updates)) return [...updates];
    const verdicts = await checkEachAsync(updates, this.signing.keyring, { requireSigned: this.signing.requireSigned });
    const passed: CheckedUpdate[] = [];
    let verified = 0;
    verdicts.forEach((v, i) => {
      if (v instanceof HamsyncError) return this.refused(v, topic, 1);
      if (v.verified) verified++;
      passed.push(updates[i] as CheckedUpdate);
    });
    this.verified({ verified });
    return passed;
  }

  /** Counts and logs a refusal found before verification (a malformed signature, from checkUpdate). */
  refused(err: HamsyncError, topic: string, updates: number): void {
    const why = typeof err.details.reason === 'string' ? err.details.reason : 'invalid';
    const source = typeof err.details.source === 'string' ? err.details.source : '';
    this.ctx.counters.inc('messages.rejected');
    this.ctx.counters.inc('rejected.HAMSYNC_ERR_SIGNATURE');
    this.ctx.counters.inc(`sig.refused.${why}`);
    const line = this.throttle.take(`${why}\u0000${source}`);
    if (line) {
      this.ctx.log.warn('signature refused: not applied', {
        code: 'HAMSYNC_ERR_SIGNATURE', why, source, updates, topic: topic.slice(0, 200), reason: err.message, ...(line.suppressed ? { suppressedSinceLast: line.suppressed } : {}),
      });
    }
  }

  private needed(updates: readonly CheckedUpdate[]): boolean {
    return this.active && updates.length > 0;
  }

  private verified(tally: { verified: number }): void {
    if (tally.verified > 0) this.ctx.counters.inc('sig.verified', tally.verified);
  }
}
