/**
 * The hub's own PUBACK path (broker/put-ack.ts), against a Hub in Aedes behind the frame gate,
 * with the replica's durability held back by the test:
 * - a client's later puts are read and go down the put path while earlier ones wait for the disk
 *   (no stall behind the fsync), yet no PUBACK and no forward happens before durability; PUBACKs
 *   come in order, with their packet ids;
 * - beyond the per-connection cap of unacknowledged puts the socket is not read (backpressure);
 * - a connection closed before durability gets nothing written, and its durable put is still forwarded;
 * - a put that cannot be made durable gets no PUBACK and its client is disconnected, as before.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Aedes } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { authorize } from '../../broker/authorize.js';
import { GatedStream } from '../../broker/frame-gate.js';
import { Hub } from '../../broker/hub.js';
import { pubackBytes, type UnackedLimits } from '../../broker/put-ack.js';
import { createContext } from '../../src/context.js';
import type { Admission, Replica as ReplicaType } from '../../src/sync/replica.js';
import { Replica } from '../../src/sync/replica.js';
import { encodePut } from '../../src/wire/codec.js';
import { frame, str } from '../helpers/mqtt-bytes.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

/** A raw MQTT 3.1.1 client: the packets it received (type byte and packet id), and whether it was closed. */
class Raw {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  readonly packets: { type: number; id?: number; body: Buffer }[] = [];
  closed = false;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('error', () => undefined);
    this.socket.on('data', (d: Buffer) => this.take(d));
    this.socket.on('close', () => (this.closed = true));
  }

  private take(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      let len = 0;
      let mul = 1;
      let j = 1;
      for (;;) {
        if (j >= this.buf.length) return;
        const x = this.buf[j++] as number;
        len += (x & 0x7f) * mul;
        mul *= 128;
        if (!(x & 0x80)) break;
      }
      if (this.buf.length < j + len) return;
      const type = (this.buf[0] as number) & 0xf0;
      const body = this.buf.subarray(j, j + len);
      this.packets.push({ type, body, ...(type === 0x40 ? { id: body.readUInt16BE(0) } : {}) });
      this.buf = this.buf.subarray(j + len);
    }
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  acks(): number[] {
    return this.packets.filter((p) => p.type === 0x40).map((p) => p.id as number);
  }

  publishes(): Buffer[] {
    return this.packets.filter((p) => p.type === 0x30).map((p) => p.body);
  }
}

const connect = (id: string): Buffer => frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str(id)]));
const PINGREQ = Buffer.from([0xc0, 0x00]);
const subscribe = (filter: string): Buffer => frame(0x82, Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([0])]));

/** A QoS 1 put of one update `key`, packet id `id`. */
function put(device: string, key: string, id: number): Buffer {
  const payload = encodePut(device, [{ key, state: Date.now() - 1000, text: String(id) }]);
  return frame(0x32, Buffer.concat([str(`hamsync/default/put/${device}`), Buffer.from([id >> 8, id & 0xff]), Buffer.from(payload)]));
}

/** Holds the replica's durability back until `open()`; `fail` makes held batches fail instead. */
class DiskGate {
  admitted = 0;
  released = false;
  fail = false;
  private waiters: (() => void)[] = [];

  constructor(replica: ReplicaType) {
    const receive = replica.receiveAdmitted.bind(replica);
    replica.receiveAdmitted = (admissions: readonly Admission[]) => {
      const receipt = receive(admissions);
      this.admitted += admissions.length;
      const durable = receipt.durable
        .then(() => (this.released ? undefined : new Promise<void>((r) => this.waiters.push(r))))
        .then(() => {
          if (this.fail) throw new Error('test: the disk failed');
        });
      return { ...receipt, durable };
    };
  }

  open(): void {
    this.released = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

async function hubBroker(t: TestContext, unacked?: Partial<UnackedLimits>): Promise<{ port: number; replica: ReplicaType; hub: Hub; disk: DiskGate; sockets: net.Socket[] }> {
  const replica = await Replica.open({ dataDir: join(tempDir(t), 'hub'), changeLog: true });
  const hub = new Hub(createContext(), { replica, rateLimit: { perSecond: 0 }, ...(unacked ? { unacked } : {}) });
  const aedes = await Aedes.createBroker();
  authorize(aedes, hub);
  hub.attach(aedes);
  const disk = new DiskGate(replica);
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    aedes.handle(new GatedStream(socket, { maxPacketBytes: 1 << 20, maxQueuedBytes: 1 << 24, stallMs: 30_000, onCut: () => undefined }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    disk.open();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise((r) => server.close(r));
    await hub.detach();
    await replica.close();
  });
  return { port: (server.address() as AddressInfo).port, replica, hub, disk, sockets };
}

async function connected(port: number, id: string): Promise<Raw> {
  const raw = new Raw(port);
  raw.write(connect(id));
  await until(() => raw.packets[0]?.type === 0x20, { what: `${id}: CONNACK`, timeoutMs: 5000 });
  return raw;
}

test('puback: PUBACK bytes parse as PUBACK in MQTT 3.1, 3.1.1 and 5', () => {
  for (const protocolVersion of [3, 4, 5] as const) {
    const parser = mqttPacket.parser({ protocolVersion });
    const got: { cmd: string; messageId?: number; reasonCode?: number }[] = [];
    parser.on('packet', (p) => got.push(p as { cmd: string; messageId?: number; reasonCode?: number }));
    parser.parse(pubackBytes([1, 0x1234, 65535]));
    assert.deepEqual(got.map((p) => [p.cmd, p.messageId]), [['puback', 1], ['puback', 0x1234], ['puback', 65535]], `MQTT level ${protocolVersion}`);
    if (protocolVersion === 5) assert.ok(got.every((p) => (p.reasonCode ?? 0) === 0), 'MQTT 5: success');
  }
});

test('puback: later puts are read while earlier ones wait for the disk; no PUBACK or forward before durable; PUBACKs in order', { timeout: 30_000 }, async (t) => {
  const { port, replica, disk } = await hubBroker(t);
  const sub = await connected(port, 'watch');
  sub.write(subscribe('hamsync/default/put/+'));
  await until(() => sub.packets.some((p) => p.type === 0x90), { what: 'SUBACK' });
  const pub = await connected(port, 'hamsync-dev');
  // Two puts in one chunk, then a third in its own: with Aedes waiting on durability inside
  // authorizePublish, the third would not be read before the first two were on disk.
  pub.write(Buffer.concat([put('dev', 'dev/a', 1), put('dev', 'dev/b', 2)]));
  await until(() => disk.admitted === 2, { what: 'the first two puts admitted' });
  pub.write(put('dev', 'dev/c', 3));
  await until(() => disk.admitted === 3, { what: 'the third put read and admitted while the first two wait for the disk' });
  // A PINGREQ after them is answered, and no PUBACK came before durability.
  pub.write(PINGREQ);
  await until(() => pub.packets.some((p) => p.type === 0xd0), { what: 'PINGRESP' });
  assert.deepEqual(pub.acks(), [], 'no PUBACK before durable');
  // Every PUBACK and every forwarded put seen from here on must come after durability.
  let early = 0;
  const check = (): void => {
    if (!disk.released) early++;
  };
  pub.socket.on('data', check);
  sub.socket.on('data', check);
  disk.open();
  await until(() => pub.acks().length === 3, { what: 'three PUBACKs' });
  assert.deepEqual(pub.acks(), [1, 2, 3], 'PUBACKs in order, with their packet ids');
  await until(() => sub.publishes().length === 3, { what: 'the three puts forwarded to put/+' });
  assert.equal(early, 0, 'nothing reached the publisher or the subscriber before durability');
  assert.equal(sub.publishes().filter((b) => b.includes(Buffer.from('$hamsync'))).length, 0, 'Aedes\' held copies are never delivered');
  assert.equal(replica.get('dev/c')?.value, 3);
});

test('puback: beyond the cap of unacknowledged puts the connection is not read, and is again once they are durable', { timeout: 30_000 }, async (t) => {
  const { port, disk, sockets } = await hubBroker(t, { messages: 3 });
  const pub = await connected(port, 'hamsync-cap');
  // One put per chunk, each once the previous was admitted: the 4th is over the cap of 3.
  for (let i = 1; i <= 4; i++) {
    pub.write(put('cap', `cap/${i}`, i));
    await until(() => disk.admitted === i, { what: `put ${i} admitted` });
  }
  pub.write(put('cap', 'cap/5', 5));
  // The 5th put's bytes wait in the server socket, unread: backpressure, not a queue.
  const server = sockets[0] as net.Socket;
  await until(() => server.readableLength > 0, { what: 'the 5th put waiting unread in the socket' });
  assert.equal(disk.admitted, 4, 'the 5th put was not read while 4 wait for their PUBACK');
  assert.equal(pub.acks().length, 0);
  disk.open();
  await until(() => pub.acks().length === 5, { what: 'all five PUBACKs once durable' });
  assert.deepEqual(pub.acks(), [1, 2, 3, 4, 5]);
  assert.equal(disk.admitted, 5);
});

test('puback: a connection closed before durability gets nothing; its durable put is still forwarded', { timeout: 30_000 }, async (t) => {
  const { port, replica, disk } = await hubBroker(t);
  const sub = await connected(port, 'watch');
  sub.write(subscribe('hamsync/default/put/+'));
  await until(() => sub.packets.some((p) => p.type === 0x90), { what: 'SUBACK' });
  const pub = await connected(port, 'hamsync-gone');
  pub.write(put('gone', 'gone/1', 9));
  await until(() => disk.admitted === 1, { what: 'the put admitted' });
  pub.socket.destroy();
  await until(() => pub.closed, { what: 'closed' });
  disk.open();
  await until(() => sub.publishes().length === 1, { what: 'the durable put forwarded' });
  assert.equal(replica.get('gone/1')?.value, 9);
  assert.deepEqual(pub.acks(), []);
});

test('puback: a put that cannot be made durable gets no PUBACK; its client is disconnected', { timeout: 30_000 }, async (t) => {
  const { port, disk, hub } = await hubBroker(t);
  const pub = await connected(port, 'hamsync-fail');
  pub.write(put('fail', 'fail/1', 4));
  await until(() => disk.admitted === 1, { what: 'the put admitted' });
  disk.fail = true;
  disk.open();
  await until(() => pub.closed, { what: 'the client disconnected' });
  assert.deepEqual(pub.acks(), [], 'no PUBACK');
  assert.equal(hub.counters.get('messages.store-failed'), 1);
});
