/**
 * A size gate in front of Aedes' MQTT parser. Aedes (and mqtt-packet) will buffer a packet of any
 * declared length — up to 256 MiB — before looking at it; the gate reads each packet's fixed header
 * as bytes arrive and cuts the connection as soon as a declared length is over the limit, so a
 * client can never make the broker hold more than about one packet's worth of its bytes.
 *
 * The gate is a Duplex that Aedes reads from and writes to in place of the socket. Reads are
 * passed through unchanged (with backpressure: the socket is paused while Aedes is not reading);
 * writes are queued with a bound (see GatedStream).
 */
import { Duplex } from 'node:stream';
import { CONNACK_BAD_LEVEL, connectLevel } from './connect-level.js';

export class PacketTooLargeError extends Error {
  readonly code = 'HAMSYNC_ERR_TOO_LARGE';
  constructor(
    readonly declared: number,
    readonly limit: number,
  ) {
    super(`HAMSYNC_ERR_TOO_LARGE: MQTT packet declares ${declared} bytes, the limit is ${limit}`);
  }
}

export class MalformedLengthError extends Error {
  readonly code = 'HAMSYNC_ERR_PAYLOAD';
  constructor() {
    super('HAMSYNC_ERR_PAYLOAD: MQTT remaining length has more than 4 bytes');
  }
}

/** Where the scanner is within the current packet. */
const HEADER = 0;
const LENGTH = 1;
const BODY = 2;

/**
 * Follows MQTT framing (1 type byte, 1–4 bytes of remaining length, the body) across chunks.
 * `scan` returns undefined while every packet so far is within `limit`, else the error to fail with.
 */
export class FrameScanner {
  private phase = HEADER;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly limit: number) {}

  scan(chunk: Uint8Array): Error | undefined {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.phase === BODY) {
        const take = Math.min(this.bodyLeft, n - i);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) this.phase = HEADER;
      } else if (this.phase === HEADER) {
        i++;
        this.phase = LENGTH;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else {
        const b = chunk[i++] as number;
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (b & 0x80) {
          if (this.lengthBytes === 4) return new MalformedLengthError();
          continue;
        }
        // The limit counts the whole packet: type byte, length bytes and body.
        if (this.length + 1 + this.lengthBytes > this.limit) return new PacketTooLargeError(this.length, this.limit);
        this.bodyLeft = this.length;
        this.phase = this.length === 0 ? HEADER : BODY;
      }
    }
    return undefined;
  }
}

type Inner = Duplex & { setNoDelay?: (v: boolean) => void };

export interface GateOptions {
  /** Largest packet a client may send, header included. */
  maxPacketBytes: number;
  /** Most bytes waiting to be sent to the client; more and the client is cut off as too slow. */
  maxQueuedBytes: number;
  /** A client whose queued bytes make no progress for this long is cut off as stalled. */
  stallMs: number;
  /** Told once, before the connection is cut, why it is cut. */
  onCut: (why: 'packet-too-large' | 'malformed-length' | 'slow-consumer' | 'stalled' | 'protocol-level', err: Error) => void;
}

/**
 * The socket, as Aedes sees it, behind the gate. Outgoing, it never pushes back on Aedes (Aedes
 * would hold a slot of its shared delivery queue per waiting client, so one client that stops
 * reading would stall delivery to everyone and pile up memory); instead it queues up to
 * `maxQueuedBytes` and cuts the client off beyond that, or when the queue has not moved for `stallMs`.
 */
export class GatedStream extends Duplex {
  private readonly scanner: FrameScanner;
  private stallTimer: NodeJS.Timeout | undefined;
  /** The first bytes of the connection, until the CONNECT's protocol level is known (see connect-level.ts). */
  private head: Buffer | undefined = Buffer.alloc(0);
  /** Set by `holdReading`: the socket is not read, whatever Aedes asks for. */
  private held = false;

  constructor(
    private readonly inner: Inner,
    private readonly options: GateOptions,
  ) {
    super({ allowHalfOpen: false, readableHighWaterMark: 64 * 1024, writableHighWaterMark: options.maxQueuedBytes });
    this.scanner = new FrameScanner(options.maxPacketBytes);
    inner.on('data', (chunk: Buffer) => {
      if (this.destroyed) return;
      const err = this.scanner.scan(chunk);
      if (err) return this.cut(err instanceof PacketTooLargeError ? 'packet-too-large' : 'malformed-length', err);
      if (this.head !== undefined) {
        // Held back until the protocol level is known (a few bytes), so the parser never sees a bad one.
        this.head = Buffer.concat([this.head, chunk]);
        const level = connectLevel(this.head);
        if (level === 'more') return;
        if (level === 'refuse') return this.refuseLevel();
        chunk = this.head;
        this.head = undefined;
      }
      if (!this.push(chunk) || this.held) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
  }

  /** CONNACK 1, then close [MQTT-3.1.2-2]. */
  private refuseLevel(): void {
    this.head = undefined;
    this.options.onCut('protocol-level', new Error('unsupported MQTT protocol level (or a name that does not go with it)'));
    this.inner.write(CONNACK_BAD_LEVEL, () => {
      this.inner.destroy();
      this.destroy();
    });
  }

  private cut(why: Parameters<GateOptions['onCut']>[0], err: Error): void {
    if (this.destroyed) return;
    this.options.onCut(why, err);
    this.inner.destroy();
    this.destroy(err);
  }

  /** Always true (see the class comment); over the queue limit the client is cut off instead. */
  override write(chunk: unknown, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean {
    if (this.destroyed) return true;
    const ok = typeof encoding === 'function' ? super.write(chunk, encoding) : super.write(chunk, encoding as BufferEncoding, cb);
    if (!ok) this.cut('slow-consumer', new Error(`client is not reading: over ${this.options.maxQueuedBytes} bytes queued for it`));
    return true;
  }

  /**
   * Writes chunks to the socket; `cb` when all are written. Each chunk that reaches the socket counts
   * as progress (the stall timer restarts), so a slow but moving link is not mistaken for a stalled one.
   */
  private forward(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.stallTimer) this.stallTimer.refresh();
    else this.stallTimer = setTimeout(() => this.cut('stalled', new Error(`client has not read for ${this.options.stallMs} ms`)), this.options.stallMs).unref();
    const last = chunks.length - 1;
    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    if (last > 0) this.inner.cork();
    chunks.forEach((chunk, i) => {
      this.inner.write(chunk, (err) => {
        if (i < last) {
          if (!err) this.stallTimer?.refresh();
          return;
        }
        // Nothing else waiting: no timer until the next write.
        if (this.writableLength <= bytes && this.stallTimer) {
          clearTimeout(this.stallTimer);
          this.stallTimer = undefined;
        }
        cb(err);
      });
    });
    if (last > 0) this.inner.uncork();
  }

  /**
   * Stops (true) or resumes (false) reading the socket, whatever Aedes asks for: backpressure on a
   * client with too many puts waiting for their PUBACK (broker/put-ack.ts). Bytes already passed
   * on stay with Aedes; the rest wait in the kernel, and TCP holds the client back.
   */
  holdReading(hold: boolean): void {
    if (this.held === hold) return;
    this.held = hold;
    if (hold) this.inner.pause();
    else if (this.readableLength < this.readableHighWaterMark) this.inner.resume();
  }

  override _read(): void {
    if (!this.held) this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.forward([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.forward(chunks.map((c) => c.chunk), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.stallTimer);
    if (!this.inner.destroyed) this.inner.destroy();
    cb(err);
  }
}
