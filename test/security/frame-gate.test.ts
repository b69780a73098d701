import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duplex } from 'node:stream';
import { FrameScanner, GatedStream, MalformedLengthError, PacketTooLargeError } from '../../broker/frame-gate.js';
import { varint } from '../helpers/mqtt-bytes.js';
import { prng, seedFromEnv } from '../helpers/seed.js';
import { until } from '../helpers/wait.js';

function packet(bodyLength: number): Buffer {
  return Buffer.concat([Buffer.from([0x30, ...varint(bodyLength)]), Buffer.alloc(bodyLength, 7)]);
}

describe('frame scanner (packet size gate)', () => {
  it('lets packets up to the limit through, whole or split anywhere', () => {
    const limit = 1000;
    const stream = Buffer.concat([packet(0), packet(10), packet(127), packet(128), packet(997), packet(200)]);
    assert.equal(packet(997).length, 1000, "exactly the limit");
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = new FrameScanner(limit);
      assert.equal(s.scan(stream.subarray(0, cut)), undefined, `cut at ${cut}`);
      assert.equal(s.scan(stream.subarray(cut)), undefined, `cut at ${cut}`);
    }
  });

  it('fails on the first packet over the limit, as soon as its length is known', () => {
    const s = new FrameScanner(1000);
    assert.equal(s.scan(packet(500)), undefined);
    const header = Buffer.from([0x30, ...varint(998)]);
    assert.equal(s.scan(header.subarray(0, 2)), undefined, 'length not complete yet');
    const err = s.scan(header.subarray(2));
    assert.ok(err instanceof PacketTooLargeError);
    assert.equal(err.declared, 998);
  });

  it('recognises declared lengths of 1, 16 and 256 MiB from the header alone', () => {
    for (const mib of [1, 16, 256]) {
      const n = mib * 1024 * 1024 - 1 - varint(mib * 1024 * 1024).length;
      const err = new FrameScanner(320 * 1024).scan(Buffer.from([0x30, ...varint(Math.min(n, 268_435_455))]));
      assert.ok(err instanceof PacketTooLargeError, `${mib} MiB`);
    }
  });

  it('fails on a remaining length longer than 4 bytes', () => {
    assert.ok(new FrameScanner(1e9).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])) instanceof MalformedLengthError);
  });

  it('agrees with a whole-stream parse for random packet streams split at random points', () => {
    const seed = seedFromEnv(20261125);
    const rand = prng(seed);
    for (let round = 0; round < 200; round++) {
      const limit = 1 + Math.floor(rand() * 5000);
      const sizes = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => Math.floor(rand() * 6000));
      const stream = Buffer.concat(sizes.map(packet));
      const firstBad = sizes.findIndex((n) => packet(n).length > limit);
      const s = new FrameScanner(limit);
      let err: Error | undefined;
      let at = 0;
      while (at < stream.length && !err) {
        const next = Math.min(stream.length, at + 1 + Math.floor(rand() * 3000));
        err = s.scan(stream.subarray(at, next));
        at = next;
      }
      assert.equal(err !== undefined, firstBad >= 0, `seed ${seed} round ${round}`);
      if (err) assert.equal((err as PacketTooLargeError).declared, sizes[firstBad], `seed ${seed} round ${round}`);
    }
  });
});

/** A socket stand-in whose writes never complete (a peer that stopped reading) unless told to. */
class StuckSocket extends Duplex {
  readonly pending: (() => void)[] = [];
  written = 0;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.written += chunk.length;
    this.pending.push(cb);
  }
  drainOne(): void {
    this.pending.shift()?.();
  }
}

describe('gated stream (outgoing queue bound)', () => {
  const gate = (inner: Duplex, cuts: string[], maxQueuedBytes = 100_000, stallMs = 60_000): GatedStream =>
    new GatedStream(inner, { maxPacketBytes: 1000, maxQueuedBytes, stallMs, onCut: (why) => cuts.push(why) });

  it('never pushes back on the writer, and cuts a client off once its queue is over the bound', async () => {
    const inner = new StuckSocket();
    const cuts: string[] = [];
    const g = gate(inner, cuts);
    g.on('error', () => undefined);
    let refused = 0;
    for (let i = 0; i < 30; i++) if (!g.write(Buffer.alloc(10_000))) refused++;
    assert.equal(refused, 0, 'write() never returns false (Aedes would park a shared delivery slot)');
    assert.deepEqual(cuts, ['slow-consumer']);
    assert.equal(g.destroyed, true);
    await new Promise((r) => setImmediate(r));
    assert.equal(inner.destroyed, true, 'the socket is closed too');
    assert.ok(g.writableLength <= 110_000, `queued ${g.writableLength}`);
  });

  it('keeps a client that reads, however much passes through', async () => {
    const inner = new StuckSocket();
    const cuts: string[] = [];
    const g = gate(inner, cuts);
    for (let i = 0; i < 100; i++) {
      g.write(Buffer.alloc(10_000));
      await new Promise((r) => setImmediate(r));
      while (inner.pending.length > 0) inner.drainOne();
    }
    await new Promise((r) => setImmediate(r));
    while (inner.pending.length > 0) inner.drainOne();
    assert.deepEqual(cuts, []);
    assert.equal(inner.written, 1_000_000);
  });

  it('cuts a client whose queue makes no progress for stallMs', async () => {
    const inner = new StuckSocket();
    const cuts: string[] = [];
    const g = gate(inner, cuts, 100_000, 100);
    g.on('error', () => undefined);
    g.write(Buffer.alloc(10));
    await until(() => cuts.length > 0, { what: 'the stalled link cut' });
    assert.deepEqual(cuts, ['stalled']);
  });

  it('cuts a client that declares an oversized packet, before passing its bytes on', () => {
    const inner = new StuckSocket();
    const cuts: string[] = [];
    const g = gate(inner, cuts);
    g.on('error', () => undefined);
    const seen: Buffer[] = [];
    g.on('data', (d: Buffer) => seen.push(d));
    inner.push(packet(100));
    inner.push(Buffer.from([0x30, ...varint(5000)]));
    return new Promise<void>((resolve) => setImmediate(() => {
      assert.deepEqual(cuts, ['packet-too-large']);
      assert.equal(Buffer.concat(seen).length, packet(100).length, 'only the good packet got through');
      resolve();
    }));
  });
});

/** A socket that takes 1,000 bytes per 50 ms: a slow link that keeps moving. */
class SlowSocket extends Duplex {
  written = 0;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    setTimeout(() => {
      this.written += chunk.length;
      cb();
    }, (chunk.length / 1000) * 50);
  }
}

describe('gated stream (slow but moving link)', () => {
  it('is not cut off while chunks keep reaching the socket, however long the whole takes', async () => {
    const inner = new SlowSocket();
    const cuts: string[] = [];
    const g = new GatedStream(inner, { maxPacketBytes: 1000, maxQueuedBytes: 1_000_000, stallMs: 150, onCut: (why) => cuts.push(why) });
    // 20 KB: 1 s at this rate, far over stallMs, but never 150 ms without a chunk getting through.
    for (let i = 0; i < 20; i++) g.write(Buffer.alloc(1000));
    await until(() => inner.written === 20_000 || cuts.length > 0, { timeoutMs: 5000, what: 'all written' });
    assert.deepEqual(cuts, []);
    assert.equal(inner.written, 20_000);
  });
});
