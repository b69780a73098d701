import type { MqttClient } from 'mqtt';
import type { Logger } from '../log.js';
import { putSource } from '../store/identity.js';
import type { Outbox } from '../store/outbox.js';

/**
 * Drains the outbox to the broker, in order, with up to `window` QoS 1 messages in flight.
 * An entry leaves the outbox only when its PUBACK arrived; after a reconnect whatever is
 * still there is sent again (at-least-once; the receivers' HAM drops exact duplicates).
 */
export class Forwarder {
  private readonly inflight = new Set<number>();
  private cursor = 0;
  private client: MqttClient | undefined;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Set when an entry from another device was found: sending stopped there (see `held`). */
  private foreign: { seq: number; src: string | undefined } | undefined;

  constructor(
    private readonly outbox: Outbox,
    private readonly topic: string,
    private readonly window: number,
    private readonly log: Logger,
    private readonly onAcked: (updates: number) => void = () => undefined,
    /** The device whose puts this outbox may hold: an entry with another `src` is never sent. */
    private readonly device?: string,
  ) {}

  /** The link is up: send from the oldest unacknowledged entry (those mqtt.js still holds are resent by it). */
  connected(client: MqttClient): void {
    this.client = client;
    if (this.inflight.size === 0) this.cursor = 0;
    this.kick();
  }

  disconnected(): void {
    this.client = undefined;
  }

  /** New entries were appended (and committed). */
  kick(): void {
    const client = this.client;
    if (!client || this.stopped || this.foreign || !client.connected) return;
    for (const entry of this.outbox.entries(this.cursor, this.window - this.inflight.size)) {
      if (this.device !== undefined && !this.mine(entry.seq, entry.payload)) break;
      this.cursor = entry.seq;
      this.inflight.add(entry.seq);
      client.publish(this.topic, entry.payload, { qos: 1 }, (err) => {
        this.inflight.delete(entry.seq);
        if (err) {
          this.log.debug('put not acknowledged, will resend', { seq: entry.seq, err: err.message });
          this.cursor = Math.min(this.cursor, entry.seq - 1);
        } else {
          void this.outbox.ack(entry.seq);
          this.onAcked(entry.count);
        }
        if (this.inflight.size === 0) this.wakeIdle();
        this.kick();
      });
    }
    if (this.inflight.size === 0) this.wakeIdle();
  }

  /**
   * Why sending stopped, if it did: the outbox holds a put message of another device (the hub
   * would refuse and drop it). It stays queued, nothing after it is sent (order is kept), and an
   * error is logged once; `status` shows it. Starting the daemon checks for this too
   * (HAMSYNC_ERR_IDENTITY), so it only happens to an outbox changed behind the daemon's back.
   */
  get held(): { code: 'HAMSYNC_ERR_IDENTITY'; seq: number; src: string | null } | undefined {
    return this.foreign ? { code: 'HAMSYNC_ERR_IDENTITY', seq: this.foreign.seq, src: this.foreign.src ?? null } : undefined;
  }

  private mine(seq: number, payload: string): boolean {
    const src = putSource(payload);
    if (src === this.device) return true;
    this.foreign = { seq, src };
    this.log.error('outbox holds a put message of another device: not sent, sending stopped (the message stays queued)', {
      code: 'HAMSYNC_ERR_IDENTITY', seq, src, device: this.device,
    });
    return false;
  }

  /** Messages handed to MQTT and not yet acknowledged. */
  get pending(): number {
    return this.inflight.size;
  }

  /** Resolves when nothing is in flight (or after `ms`). */
  async drained(ms: number): Promise<void> {
    if (this.inflight.size === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  stop(): void {
    this.stopped = true;
    this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
