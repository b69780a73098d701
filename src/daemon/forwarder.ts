import type { MqttClient } from 'mqtt';
import type { Logger } from '../log.js';
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

  constructor(
    private readonly outbox: Outbox,
    private readonly topic: string,
    private readonly window: number,
    private readonly log: Logger,
    private readonly onAcked: (updates: number) => void = () => undefined,
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
    if (!client || this.stopped || !client.connected) return;
    for (const entry of this.outbox.entries(this.cursor, this.window - this.inflight.size)) {
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
