import type { Client, PublishPacket } from 'aedes';
import type { Context } from '../src/context.js';
import type { HamsyncError } from '../src/errors.js';
import { LogThrottle, suppressedField } from '../src/log-throttle.js';
import { clip } from './log-fields.js';

/**
 * Aedes' authorizePublish callback: null lets the message through (Aedes acknowledges it and
 * forwards it, unless `Refusals.forwardable` says no); an error withholds the PUBACK and
 * disconnects the client.
 */
export type Ack = (err?: Error | null) => void;

/**
 * How the hub turns messages away, each counted and logged. A rejected message is acknowledged
 * (so the sender does not retry forever) but never forwarded; a refused one (over the rate limit,
 * bad signature) gets no PUBACK and its client is disconnected.
 */
export class Refusals {
  /** Every refusal is counted; log lines are thinned to one per second per code and client (device, for rate and signature refusals). */
  private readonly logThrottle = new LogThrottle();
  /** Payloads of rejected messages: acknowledged (so the sender does not retry forever) but never forwarded. */
  private readonly rejected = new WeakSet<Buffer>();

  constructor(private readonly ctx: Context) {}

  /** For authorizeForward: false for a message that was rejected. */
  forwardable(packet: PublishPacket): boolean {
    return !this.rejected.has(packet.payload as Buffer);
  }

  /** Marks a message the hub consumed (a sync ack): never forwarded or retained; not a refusal, so not counted or logged here. */
  consume(packet: PublishPacket): void {
    this.rejected.add(packet.payload as Buffer);
    packet.retain = false;
  }

  /** Marks a message rejected (the caller still acknowledges it): counted, logged, never forwarded or retained. */
  reject(client: Client | null, packet: PublishPacket, code: string, reason: string): void {
    this.rejected.add(packet.payload as Buffer);
    packet.retain = false;
    this.ctx.counters.inc('messages.rejected');
    this.ctx.counters.inc(`rejected.${code}`);
    const line = this.logThrottle.take(`${code}\u0000${client?.id ?? ''}`);
    if (line) this.ctx.log.warn('message rejected', { code, reason, topic: clip(packet.topic), client: clip(client?.id), bytes: packet.payload.length, ...suppressedField(line) });
  }

  /** A subscription to a namespace the broker does not serve: granted as a failure (0x80), counted, logged (thinned per client). */
  refuseSubscribe(client: Client | null, filter: string, reason: string): void {
    this.ctx.counters.inc('subscriptions.refused');
    const line = this.logThrottle.take(`subscribe\u0000${client?.id ?? ''}`);
    if (line) this.ctx.log.warn('subscribe refused', { code: 'HAMSYNC_ERR_TOPIC', reason, filter: clip(filter), client: clip(client?.id), ...suppressedField(line) });
  }

  /**
   * A put over its device's rate limit: no PUBACK and the client is disconnected, so a daemon
   * keeps the message in its outbox and sends it again after reconnecting, when its bucket has
   * refilled; nothing is lost.
   */
  refuseRate(client: Client | null, device: string, reason: string, cb: Ack): void {
    this.refuse(client, device, 'HAMSYNC_ERR_RATE', 'messages.rate-limited', 'rate limit: message refused, disconnecting the client', { reason }, `HAMSYNC_ERR_RATE: ${reason}`, cb);
  }

  /**
   * A put with a missing, malformed or forged signature (or unsigned, under requireSigned): no
   * PUBACK and the client is disconnected, like an ACL refusal. Nothing is stored or forwarded.
   * A daemon never sends one unless misconfigured (its key is not the one the hub has); it keeps
   * the message in its outbox, and it goes through once the keys agree.
   */
  refuseSignature(client: Client | null, device: string, err: HamsyncError, cb: Ack): void {
    const why = typeof err.details.reason === 'string' ? err.details.reason : 'invalid';
    this.ctx.counters.inc(`sig.refused.${why}`);
    this.refuse(client, device, 'HAMSYNC_ERR_SIGNATURE', 'messages.signature-refused', 'signature refused: message dropped, disconnecting the client', { why, device, reason: err.message }, err.message, cb);
  }

  /** Counts (`counter`, `rejected.<code>`), logs (thinned per code and device) and withholds the PUBACK, disconnecting the client. */
  private refuse(client: Client | null, device: string, code: string, counter: string, msg: string, fields: Record<string, unknown>, error: string, cb: Ack): void {
    this.ctx.counters.inc(counter);
    this.ctx.counters.inc(`rejected.${code}`);
    const line = this.logThrottle.take(`${code}\u0000${device}`);
    if (line) this.ctx.log.warn(msg, { code, ...fields, client: clip(client?.id), ...suppressedField(line) });
    cb(new Error(error));
  }
}
