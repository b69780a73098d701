import type { Aedes, AedesPublishPacket } from 'aedes';
import type { Context } from '../src/context.js';

/** The hub's own messages (state, catch-up answers), published through the Aedes it is attached to. */
export class Publisher {
  /** Set while attached; without it (or once Aedes is closed) nothing is published. */
  aedes: Aedes | undefined;

  constructor(private readonly ctx: Context) {}

  /** Publishes at QoS 1; a failure is logged, not thrown. */
  publish(topic: string, payload: string, retain: boolean): void {
    const aedes = this.aedes;
    if (!aedes || aedes.closed) return;
    const packet = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false } as AedesPublishPacket;
    aedes.publish(packet, (err?: Error | null) => {
      if (err) this.ctx.log.warn('publish failed', { topic, err: err.message });
    });
  }
}
