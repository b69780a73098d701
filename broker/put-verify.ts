import type { Client, PublishPacket } from 'aedes';
import type { Context } from '../src/context.js';
import { isHamsyncError } from '../src/errors.js';
import { LogThrottle, suppressedField } from '../src/log-throttle.js';
import type { CheckedUpdate } from '../src/model/update.js';
import type { Keyring } from '../src/sign/keyring.js';
import { checkSignaturesAsync, type SignatureTally } from '../src/sign/policy.js';
import type { VerifyPool } from '../src/sign/verify-pool.js';
import type { PutCommit } from './put-commit.js';
import type { Ack, Refusals } from './refusals.js';

/** A put that passed decoding and the rate limit, waiting for its signatures (in its client's lane). */
interface Verifying {
  readonly packet: PublishPacket;
  readonly device: string;
  readonly checked: CheckedUpdate[];
  readonly cb: Ack;
  /** Set when the verification ended: the tally, or the refusal. */
  verdict?: SignatureTally | Error;
}

/**
 * The signature step of the put path: signatures are verified before HAM sees anything (off the
 * event loop: src/sign/policy.ts), and a client's puts are handed on to `PutCommit` in the order
 * it sent them, whatever order their verifications end in.
 */
export class PutVerify {
  /**
   * Per client, its puts still being verified, in arrival order. A client with no lane and
   * nothing to verify takes the direct path.
   */
  private readonly lanes = new Map<Client | null, Verifying[]>();

  private keyring: Keyring;
  private readonly requireSigned: boolean;
  /** Verification failures (a full queue, a dead worker) can hit many puts at once: one log line per second per kind. */
  private readonly failLog = new LogThrottle();
  /** The worker pool (the process's own unless given: tests substitute one). */
  private readonly pool: VerifyPool | undefined;

  constructor(
    private readonly ctx: Context,
    signatures: { keyring: Keyring; requireSigned: boolean; pool?: VerifyPool },
    private readonly refusals: Refusals,
    private readonly commit: PutCommit,
  ) {
    this.keyring = signatures.keyring;
    this.requireSigned = signatures.requireSigned;
    this.pool = signatures.pool;
  }

  /** Replaces the keyring (the users file was reloaded); puts already being verified keep the old one. */
  setKeyring(keyring: Keyring): void {
    this.keyring = keyring;
  }

  /** Devices with a known public key. */
  get keyCount(): number {
    return this.keyring.size;
  }

  /** Verifies a checked put (if its device has a key, or signatures are required), then admits it in its client's order. */
  verify(client: Client | null, packet: PublishPacket, device: string, checked: CheckedUpdate[], cb: Ack): void {
    // Every update of a put is the topic device's, so one lookup says whether there is work.
    const verify = this.requireSigned || this.keyring.has(device);
    const lane = this.lanes.get(client);
    if (!verify && lane === undefined) return this.commit.admit(client, packet, checked, cb);
    const v: Verifying = { packet, device, checked, cb };
    if (lane) lane.push(v);
    else this.lanes.set(client, [v]);
    if (!verify) {
      v.verdict = { verified: 0, unchecked: checked.length };
      return;
    }
    checkSignaturesAsync(checked, this.keyring, { requireSigned: this.requireSigned }, this.pool).then(
      (tally) => this.settle(client, v, tally),
      (err: Error) => this.settle(client, v, err),
    );
  }

  /** One put's verification ended: admits (or refuses) whatever is ready at the head of its client's lane, in order. */
  private settle(client: Client | null, v: Verifying, verdict: SignatureTally | Error): void {
    v.verdict = verdict;
    const lane = this.lanes.get(client);
    if (!lane) return;
    while (lane.length > 0 && (lane[0] as Verifying).verdict !== undefined) {
      const head = lane.shift() as Verifying;
      const result = head.verdict as SignatureTally | Error;
      if (!(result instanceof Error)) {
        if (result.verified > 0) this.ctx.counters.inc('sig.verified', result.verified);
        this.commit.admit(client, head.packet, head.checked, head.cb);
      } else if (isHamsyncError(result, 'HAMSYNC_ERR_SIGNATURE')) {
        this.refusals.refuseSignature(client, head.device, result, head.cb);
      } else {
        // Not verified (the queue was full, or a worker died): not stored, not acknowledged; the client sends it again.
        const full = isHamsyncError(result, 'HAMSYNC_ERR_VERIFY_FULL');
        this.ctx.counters.inc(full ? 'rejected.HAMSYNC_ERR_VERIFY_FULL' : 'sig.failed');
        const line = this.failLog.take(full ? 'full' : 'failed');
        if (line) this.ctx.log.error('signature verification failed: put not acknowledged', { err: result.message, client: client?.id, ...suppressedField(line) });
        head.cb(result);
      }
    }
    if (lane.length === 0) this.lanes.delete(client);
  }
}
