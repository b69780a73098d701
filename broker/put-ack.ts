/**
 * The hub's own PUBACK for puts, so that waiting for durability does not stall a client's parser.
 *
 * Aedes (1.2) reads a client's next socket chunk only once every packet of the current chunk was
 * handled, and it handles a QoS 1 PUBLISH as authorizePublish, then PUBACK, then forward. Were the
 * hub to wait for durability inside authorizePublish, every chunk would wait for an fsync before
 * the next one is even parsed. So a put from a connected client is *taken over*: Aedes gets a
 * harmless QoS 0 copy on an internal topic (`HELD_TOPIC`: no PUBACK, nothing matches it, never
 * forwarded) and its callback back at once, while the put goes down the put path; once that says
 * durable, the hub writes the PUBACK itself (if the connection is still open) and then forwards
 * the put to its subscribers. A refusal (rate, signature, store failure) disconnects the client,
 * as Aedes does for an authorizePublish error.
 *
 * Backpressure: a connection may have `limits.messages` puts (`limits.bytes` of payload) taken
 * over and not yet acknowledged. Beyond that, its socket is no longer read (the frame gate's
 * `holdReading`; TCP then holds the client back) and the Aedes callback of each further put is
 * withheld, until the connection is back within its limits; so what one connection holds is
 * bounded by the limits plus the bytes the gate had already passed on (its 64 KiB buffer).
 *
 * Not taken over (the put path's answer goes to Aedes as before): QoS 2 puts, wills (published by
 * Aedes as their client closes) and puts without a connected client.
 * Relies on Aedes 1.2 internals, checked by test/unit/aedes-contract.test.ts.
 */
import type { Aedes, AedesPublishPacket, Client, PublishPacket } from 'aedes';
import type { Logger } from '../src/log.js';
import type { Ack } from './refusals.js';

/** The topic Aedes' copy of a taken-over put is published on: `$`-topics match no `#`/`+` filter, and the hub never forwards it. */
export const HELD_TOPIC = '$hamsync/held';

/** Bounds on one connection's puts taken over and not yet acknowledged. */
export interface UnackedLimits {
  /** Put messages. */
  messages: number;
  /** Their payload bytes. */
  bytes: number;
}

/**
 * Defaults: far above a daemon's window (or the bench's 64 in flight), so a well-behaved client
 * never meets them; the byte bound keeps 32 largest puts (256 KiB each) per connection.
 */
export const DEFAULT_UNACKED: Readonly<UnackedLimits> = Object.freeze({ messages: 1024, bytes: 8 * 1024 * 1024 });

/** A connection stream that can stop reading its socket (GatedStream). */
export interface ReadHold {
  holdReading(hold: boolean): void;
}

/** One connection's unacknowledged puts. */
interface Conn {
  /** The connection's stream, if it can stop reading (broker/frame-gate.ts GatedStream). */
  gate: ReadHold | undefined;
  unacked: number;
  bytes: number;
  /** Aedes callbacks withheld while over the limits (each releases at most once). */
  waiting: (() => void)[];
  /** Packet ids whose PUBACK is due, written together at the end of the current job. */
  acks: number[];
}

/**
 * A PUBACK, [MQTT-3.4]: type 4, remaining length 2, the packet id. The same four bytes are a valid
 * PUBACK in MQTT 3.1, 3.1.1 and 5 (MQTT 5 §3.4.2.1: reason code 0x00 Success and no properties may
 * be left out, leaving a remaining length of 2). `ids` are written back to back into one buffer.
 */
export function pubackBytes(ids: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(4 * ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    buf[4 * i] = 0x40;
    buf[4 * i + 1] = 0x02;
    buf[4 * i + 2] = (id >> 8) & 0xff;
    buf[4 * i + 3] = id & 0xff;
  }
  return buf;
}

/** Whether a PUBACK may still be written to this client: the same connection, not closed or closing. */
export function canWrite(client: Client): boolean {
  const conn = client.conn as { destroyed?: boolean; writable?: boolean };
  return !client.closed && client.connected && conn.destroyed !== true && conn.writable !== false;
}

export interface PutAcksDeps {
  /** The Aedes to forward durable puts through (unset: not attached, nothing forwarded). */
  aedes: () => Aedes | undefined;
  /** False for a put the hub rejected (acknowledged, never forwarded): Refusals.forwardable. */
  forwardable: (packet: PublishPacket) => boolean;
  log: Logger;
}

export class PutAcks {
  private readonly conns = new WeakMap<Client, Conn>();
  /** Connections with PUBACKs due at the end of the current job. */
  private dirty: { client: Client; conn: Conn }[] = [];
  private readonly limits: UnackedLimits;

  constructor(
    private readonly deps: PutAcksDeps,
    limits: Partial<UnackedLimits> = {},
  ) {
    this.limits = { ...DEFAULT_UNACKED, ...limits };
  }

  /**
   * Runs a put down the put path (`run`, whose `done` says durable, rejected-and-acknowledged, or
   * refused) for Aedes' authorizePublish, whose callback is `aedesCb`; takes the put over when it can.
   */
  handle(client: Client | null, packet: PublishPacket, aedesCb: Ack, run: (own: PublishPacket, done: Ack) => void): void {
    if (client === null || client.closed || !client.connected || (packet.qos !== 0 && packet.qos !== 1)) return run(packet, aedesCb);
    // The put path gets the put as sent; Aedes' object becomes a QoS 0 copy on HELD_TOPIC, which it
    // neither acknowledges nor waits for.
    const own: PublishPacket = { cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: false, dup: packet.dup, messageId: packet.messageId };
    packet.qos = 0;
    packet.topic = HELD_TOPIC;
    packet.retain = false;
    const bytes = packet.payload.length;
    const c = this.conn(client);
    c.unacked++;
    c.bytes += bytes;
    let released = false;
    const release = (err: Error | null): void => {
      if (released) return;
      released = true;
      aedesCb(err);
    };
    run(own, (err) => {
      c.unacked--;
      c.bytes -= bytes;
      if (err) {
        // Refused: no PUBACK and the client is disconnected, exactly as an authorizePublish error does.
        if (!released) release(err);
        else client.emit('error', err);
      } else {
        if (own.qos === 1 && own.messageId !== undefined) this.queueAck(client, c, own.messageId);
        this.forward(client, own);
      }
      this.drain(c);
    });
    // Released after the put path took the put, so a client's puts reach it in the order sent.
    if (!released) {
      if (this.over(c)) {
        c.gate?.holdReading(true);
        c.waiting.push(() => release(null));
      } else release(null);
    }
  }

  private conn(client: Client): Conn {
    let c = this.conns.get(client);
    if (!c) {
      const conn = client.conn as Partial<ReadHold>;
      c = { gate: typeof conn.holdReading === 'function' ? (conn as ReadHold) : undefined, unacked: 0, bytes: 0, waiting: [], acks: [] };
      this.conns.set(client, c);
    }
    return c;
  }

  private over(c: Conn): boolean {
    return c.unacked > this.limits.messages || c.bytes > this.limits.bytes;
  }

  /** Back within the limits: Aedes gets its withheld callbacks, and reads that socket again. */
  private drain(c: Conn): void {
    if (c.waiting.length === 0 || this.over(c)) return;
    c.gate?.holdReading(false);
    const waiting = c.waiting;
    c.waiting = [];
    for (const release of waiting) release();
  }

  /** The PUBACKs of one job (one durable batch) go out in one write per connection, in order. */
  private queueAck(client: Client, c: Conn, id: number): void {
    if (c.acks.length === 0) {
      if (this.dirty.length === 0) queueMicrotask(() => this.writeAcks());
      this.dirty.push({ client, conn: c });
    }
    c.acks.push(id);
  }

  private writeAcks(): void {
    const dirty = this.dirty;
    this.dirty = [];
    for (const { client, conn } of dirty) {
      const ids = conn.acks;
      conn.acks = [];
      // A connection that closed meanwhile gets nothing: its client sends the puts again (a
      // reconnection is a new Client, with its own packet ids).
      if (canWrite(client)) client.conn.write(pubackBytes(ids));
    }
  }

  /** A durable put goes to its subscribers (put/+), as Aedes would have forwarded it, unless it was rejected. */
  private forward(client: Client, own: PublishPacket): void {
    if (!this.deps.forwardable(own)) return;
    const aedes = this.deps.aedes();
    if (!aedes || aedes.closed) return;
    const packet = { cmd: 'publish', topic: own.topic, payload: own.payload, qos: own.qos, retain: false, dup: false } as AedesPublishPacket;
    // Aedes' publish(packet, client, done) (its typings omit the client): the forward names its publisher, as Aedes' own does.
    (aedes.publish as unknown as (p: AedesPublishPacket, c: Client, cb: (err?: Error) => void) => void).call(aedes, packet, client, (err) => {
      if (err) this.deps.log.warn('forwarding a put failed', { topic: own.topic, err: err.message });
    });
  }
}
