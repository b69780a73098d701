import type { Aedes, AedesPublishPacket, Client, PublishPacket } from 'aedes';
import { Counters } from '../src/counters.js';
import { isHamsyncError, type HamsyncError } from '../src/errors.js';
import { canonical } from '../src/ham/lexical.js';
import { silentLogger, type Logger } from '../src/log.js';
import { LogThrottle } from '../src/log-throttle.js';
import { checkBatch, type CheckedUpdate } from '../src/model/update.js';
import { Keyring } from '../src/sign/keyring.js';
import { checkSignaturesAsync, type SignatureTally } from '../src/sign/policy.js';
import type { Admission, ChangeEvent, Replica } from '../src/sync/replica.js';
import { decodePut, decodeSyncRequest, encodeState, encodeSyncResponse, DEFAULT_WIRE_LIMITS, type WireLimits, type WireUpdate } from '../src/wire/codec.js';
import { matchKey, parseTopic, topics } from '../src/wire/topics.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';

export interface HubOptions {
  replica: Replica;
  /** Namespace this hub resolves. Default "default". */
  ns?: string;
  log?: Logger;
  wire?: WireLimits;
  /** Updates per catch-up answer message. Default 500. */
  syncChunk?: number;
  /** Per-device put rate limit. Default 2000 updates/s with a burst of 100000. */
  rateLimit?: RateLimitOptions;
  /**
   * Public keys of devices (users file `pub`, keys file): a put from a device with a key must be
   * signed by it, update by update (src/sign/policy.ts). Default: none. Replace with `setKeyring`.
   */
  keyring?: Keyring;
  /** Refuse puts from devices without a known key too. Default false. */
  requireSigned?: boolean;
}

/** A put that passed decoding and the rate limit, waiting for its signatures (in its client's lane). */
interface Verifying {
  readonly packet: PublishPacket;
  readonly device: string;
  readonly checked: CheckedUpdate[];
  readonly cb: (err?: Error | null) => void;
  /** Set when the verification ended: the tally, or the refusal. */
  verdict?: SignatureTally | Error;
}

/**
 * The hub replica inside the broker: every put on `hamsync/<ns>/put/<device>` is validated,
 * resolved with HAM and made durable in LMDB *before* Aedes sends the PUBACK (authorizePublish
 * runs before the ack); the resolved live view is published, retained, on the state topics.
 */
export class Hub {
  readonly counters = new Counters();
  readonly ns: string;
  private readonly replica: Replica;
  private readonly log: Logger;
  private readonly wire: WireLimits;
  private readonly syncChunk: number;
  private readonly rate: RateLimiter;
  /** Rejections are all counted; their log lines are thinned to one per second per client and code. */
  private readonly logThrottle = new LogThrottle();
  /** Payloads of rejected messages: acknowledged (so the sender does not retry forever) but never forwarded. */
  private readonly rejected = new WeakSet<Buffer>();
  private aedes: Aedes | undefined;
  private pending: { admission: Admission; cb: (err?: Error | null) => void }[] = [];
  private flushScheduled = false;
  private keyring: Keyring;
  private readonly requireSigned: boolean;
  /**
   * Per client, its puts still being verified, in arrival order: a client's messages are
   * admitted in the order it sent them, whatever order their verifications end in. A client
   * with no lane and nothing to verify takes the direct path.
   */
  private readonly lanes = new Map<Client | null, Verifying[]>();
  private readonly onChange = (c: ChangeEvent): void => this.publishState(c.key, c.text, c.state, c.source, c.sig);

  constructor(options: HubOptions) {
    this.replica = options.replica;
    this.ns = options.ns ?? 'default';
    this.log = options.log ?? silentLogger;
    this.wire = options.wire ?? DEFAULT_WIRE_LIMITS;
    this.syncChunk = options.syncChunk ?? 500;
    this.rate = new RateLimiter(options.rateLimit);
    this.keyring = options.keyring ?? new Keyring();
    this.requireSigned = options.requireSigned ?? false;
  }

  /** Replaces the keyring (the users file was reloaded); puts already being verified keep the old one. */
  setKeyring(keyring: Keyring): void {
    this.keyring = keyring;
  }

  /** Devices with a known public key. */
  get keyCount(): number {
    return this.keyring.size;
  }

  /** Installs the hub's hooks on an Aedes instance and republishes the live view as retained state. */
  attach(aedes: Aedes): void {
    this.aedes = aedes;
    aedes.authorizePublish = (client, packet, cb) => this.authorizePublish(client, packet, cb);
    aedes.authorizeForward = (_client, packet) => (this.rejected.has(packet.payload as Buffer) ? null : packet);
    this.replica.on('change', this.onChange);
    let n = 0;
    for (const e of this.replica.live()) {
      this.publishState(e.key, canonical(e.value), e.state, e.source, e.sig);
      n++;
    }
    this.log.info('hub attached', { ns: this.ns, liveKeys: n });
  }

  detach(): void {
    this.replica.off('change', this.onChange);
    this.aedes = undefined;
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    if (packet.topic.startsWith('$SYS')) return cb(new Error('$SYS topics are reserved'));
    const t = parseTopic(packet.topic);
    if (!t || t.ns !== this.ns) return cb(null);
    switch (t.kind) {
      case 'put':
        packet.retain = false;
        return this.put(client, packet, t.rest, cb);
      case 'state':
        // Only the hub speaks for the resolved view; a client's state message would mislead subscribers.
        this.reject(client, packet, 'HAMSYNC_ERR_TOPIC', 'clients may not publish on state topics');
        return cb(null);
      case 'sync-req':
        packet.retain = false;
        cb(null);
        return this.answerSync(client, packet, t.rest);
      case 'sync-res':
        // Catch-up answers come from the hub only; a forged one would feed devices anything.
        this.reject(client, packet, 'HAMSYNC_ERR_TOPIC', 'clients may not publish catch-up answers');
        return cb(null);
      case 'presence':
      case 'replay':
        return cb(null);
      default:
        this.reject(client, packet, 'HAMSYNC_ERR_TOPIC', `no such topic in protocol v1: ${t.kind}`);
        return cb(null);
    }
  }

  private put(client: Client | null, packet: PublishPacket, device: string, cb: (err?: Error | null) => void): void {
    let checked: CheckedUpdate[];
    try {
      // Each message is validated on its own, so a bad one is rejected alone...
      checked = checkBatch(decodePut(packet.payload as Buffer, device, this.wire).updates, this.replica.limits);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      // A malformed signature: refused as a forgery is (below), not acknowledged.
      if (err.code === 'HAMSYNC_ERR_SIGNATURE') return this.refuseSignature(client, device, err, cb);
      this.reject(client, packet, err.code, err.message);
      return cb(null);
    }
    // Checked after decoding (so its updates are counted) and before anything is stored. Over the
    // limit: no PUBACK and the client is disconnected, so a daemon keeps the message in its outbox
    // and sends it again after reconnecting, when its bucket has refilled; nothing is lost.
    if (!this.rate.take(device, checked.length)) {
      this.counters.inc('messages.rate-limited');
      this.counters.inc('rejected.HAMSYNC_ERR_RATE');
      const reason = `device ${device} is over its rate limit (${this.rate.perSecond} updates/s, burst ${this.rate.burst}); message of ${checked.length} updates refused`;
      const line = this.logThrottle.take(`HAMSYNC_ERR_RATE\u0000${device}`);
      if (line) this.log.warn('rate limit: message refused, disconnecting the client', { code: 'HAMSYNC_ERR_RATE', reason, client: client?.id, ...(line.suppressed ? { suppressedSinceLast: line.suppressed } : {}) });
      return cb(new Error(`HAMSYNC_ERR_RATE: ${reason}`));
    }
    // Signatures are verified before HAM sees anything (off the event loop: src/sign/policy.ts).
    // Every update of a put is the topic device's, so one lookup says whether there is work.
    const verify = this.requireSigned || this.keyring.has(device);
    const lane = this.lanes.get(client);
    if (!verify && lane === undefined) return this.admitPut(client, packet, checked, cb);
    const v: Verifying = { packet, device, checked, cb };
    if (lane) lane.push(v);
    else this.lanes.set(client, [v]);
    if (!verify) {
      v.verdict = { verified: 0, unchecked: checked.length };
      return;
    }
    checkSignaturesAsync(checked, this.keyring, { requireSigned: this.requireSigned }).then(
      (tally) => this.settleVerifying(client, v, tally),
      (err: Error) => this.settleVerifying(client, v, err),
    );
  }

  /** One put's verification ended: admits (or refuses) whatever is ready at the head of its client's lane, in order. */
  private settleVerifying(client: Client | null, v: Verifying, verdict: SignatureTally | Error): void {
    v.verdict = verdict;
    const lane = this.lanes.get(client);
    if (!lane) return;
    while (lane.length > 0 && (lane[0] as Verifying).verdict !== undefined) {
      const head = lane.shift() as Verifying;
      const result = head.verdict as SignatureTally | Error;
      if (!(result instanceof Error)) {
        if (result.verified > 0) this.counters.inc('sig.verified', result.verified);
        this.admitPut(client, head.packet, head.checked, head.cb);
      } else if (isHamsyncError(result, 'HAMSYNC_ERR_SIGNATURE')) {
        this.refuseSignature(client, head.device, result, head.cb);
      } else {
        this.log.error('signature verification failed', { err: result.message, client: client?.id });
        head.cb(result);
      }
    }
    if (lane.length === 0) this.lanes.delete(client);
  }

  /**
   * A put with a missing, malformed or forged signature (or unsigned, under requireSigned): no
   * PUBACK and the client is disconnected, like an ACL refusal. Nothing is stored or forwarded.
   * A daemon never sends one unless misconfigured (its key is not the one the hub has); it keeps
   * the message in its outbox, and it goes through once the keys agree.
   */
  private refuseSignature(client: Client | null, device: string, err: HamsyncError, cb: (err?: Error | null) => void): void {
    const why = typeof err.details.reason === 'string' ? err.details.reason : 'invalid';
    this.counters.inc('messages.signature-refused');
    this.counters.inc('rejected.HAMSYNC_ERR_SIGNATURE');
    this.counters.inc(`sig.refused.${why}`);
    const line = this.logThrottle.take(`HAMSYNC_ERR_SIGNATURE\u0000${device}`);
    if (line) {
      this.log.warn('signature refused: message dropped, disconnecting the client', {
        code: 'HAMSYNC_ERR_SIGNATURE', why, device, reason: err.message, client: client?.id, ...(line.suppressed ? { suppressedSinceLast: line.suppressed } : {}),
      });
    }
    cb(new Error(err.message));
  }

  /** Reserves a checked (and verified) put's room and queues it for this turn's transaction. */
  private admitPut(client: Client | null, packet: PublishPacket, checked: CheckedUpdate[], cb: (err?: Error | null) => void): void {
    let admission: Admission;
    try {
      // Its room in the deferred and quarantine queues is reserved on its own too: an over-cap
      // message is refused alone, before anything of the turn is written...
      admission = this.replica.admit(checked);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      // Closing: no ack, the sender keeps it and sends it again later.
      if (err.code === 'HAMSYNC_ERR_CLOSED') return cb(err);
      this.reject(client, packet, err.code, err.message);
      return cb(null);
    }
    // ...and every message that arrived in this turn of the event loop is committed in one transaction.
    this.pending.push({ admission, cb });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Resolves and stores the turn's messages together; each PUBACK waits until that is on disk. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    let durable: Promise<void>;
    try {
      // Writes every admission (on a throw, none): their reservations are returned either way.
      durable = this.replica.receiveAdmitted(batch.map((m) => m.admission)).durable;
    } catch (err) {
      durable = Promise.reject(err as Error);
    }
    durable.then(
      () => {
        for (const m of batch) {
          this.counters.inc('updates.accepted', m.admission.updates.length);
          this.counters.inc('messages.accepted');
          m.cb(null);
        }
      },
      (err: Error) => {
        // Not durable: no PUBACK; the clients drop the link and retransmit.
        this.log.error('store failed, closing clients without ack', { messages: batch.length, err: err.message });
        this.counters.inc('messages.store-failed', batch.length);
        for (const m of batch) m.cb(err);
      },
    );
  }

  private reject(client: Client | null, packet: PublishPacket, code: string, reason: string): void {
    this.rejected.add(packet.payload as Buffer);
    packet.retain = false;
    this.counters.inc('messages.rejected');
    this.counters.inc(`rejected.${code}`);
    const line = this.logThrottle.take(`${code}\u0000${client?.id ?? ''}`);
    if (line) this.log.warn('message rejected', { code, reason, topic: packet.topic.slice(0, 200), client: client?.id, bytes: packet.payload.length, ...(line.suppressed ? { suppressedSinceLast: line.suppressed } : {}) });
  }

  private answerSync(client: Client | null, packet: PublishPacket, device: string): void {
    let id: string;
    let filters: string[];
    try {
      ({ id, filters } = decodeSyncRequest(packet.payload as Buffer, this.wire));
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      return this.reject(client, packet, err.code, err.message);
    }
    const wanted = (key: string): boolean => filters.some((f) => matchKey(f, key));
    const chunk: WireUpdate[] = [];
    let sent = 0;
    const flush = (done: boolean): void => {
      this.publish(topics.syncResponse(this.ns, device), encodeSyncResponse(id, chunk, done), false);
      sent += chunk.length;
      chunk.length = 0;
    };
    const add = (u: WireUpdate): void => {
      chunk.push(u);
      if (chunk.length >= this.syncChunk) flush(false);
    };
    // With each update its source's signature, as stored: peers verify it against the device's key.
    for (const e of this.replica.live()) if (wanted(e.key)) add({ key: e.key, state: e.state, text: canonical(e.value), source: e.source, sig: e.sig });
    for (const e of this.replica.deferred()) if (wanted(e.key)) add({ key: e.key, state: e.state, text: canonical(e.value), source: e.source, sig: e.sig });
    flush(true);
    this.counters.inc('sync.answered');
    this.log.info('catch-up answered', { device, id, updates: sent });
  }

  private publishState(key: string, text: string, state: number, source: string, sig: string | undefined): void {
    this.publish(topics.state(this.ns, key), encodeState(text, state, source, sig), true);
  }

  private publish(topic: string, payload: string, retain: boolean): void {
    const aedes = this.aedes;
    if (!aedes || aedes.closed) return;
    const packet = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false } as AedesPublishPacket;
    aedes.publish(packet, (err?: Error | null) => {
      if (err) this.log.warn('publish failed', { topic, err: err.message });
    });
  }
}
