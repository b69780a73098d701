/**
 * The Aedes 1.2 behaviour the hub's own PUBACK path relies on (broker/put-ack.ts), so an upgrade
 * that changes any of it fails here rather than in production:
 * - the version is pinned (package.json says exactly 1.2.0, and that is what is installed);
 * - while authorizePublish callbacks are withheld, Aedes reads no further chunk from that socket
 *   (the stall behind durability the takeover avoids), and reads on once they are called;
 * - a PUBLISH rewritten in authorizePublish to QoS 0 on a `$` topic gets no PUBACK from Aedes, is
 *   published on the rewritten topic, and reaches no `#` subscriber;
 * - a will is published through authorizePublish with its client already `closed`;
 * - `client.emit('error', err)` closes the client's connection (how a late refusal disconnects).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Aedes, type AuthorizePublishHandler, type Client, type PublishPacket } from 'aedes';
import { frame, str } from '../helpers/mqtt-bytes.js';
import { until } from '../helpers/wait.js';

/** A raw MQTT 3.1.1 client over TCP: the bytes it received, and whether it was closed. */
class Raw {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closed = false;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('error', () => undefined);
    this.socket.on('data', (d: Buffer) => (this.received = Buffer.concat([this.received, d])));
    this.socket.on('close', () => (this.closed = true));
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  /** First bytes of each packet received, in order (packet types: 0x20 CONNACK, 0x40 PUBACK, 0xd0 PINGRESP, 0x90 SUBACK, 0x30.. PUBLISH). */
  types(): number[] {
    const out: number[] = [];
    let i = 0;
    const b = this.received;
    while (i < b.length) {
      out.push((b[i] as number) & 0xf0);
      let len = 0;
      let mul = 1;
      let j = i + 1;
      for (;;) {
        const x = b[j++] as number;
        len += (x & 0x7f) * mul;
        mul *= 128;
        if (!(x & 0x80)) break;
      }
      i = j + len;
    }
    return out;
  }
}

function connect(clientId: string, will?: { topic: string; payload: string }): Buffer {
  const flags = will ? 0x02 | 0x04 | 0x08 : 0x02; // clean session; will flag, will QoS 1
  return frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, flags, 0, 60]), str(clientId), ...(will ? [str(will.topic), str(will.payload)] : [])]));
}

function publish(topic: string, payload: string, id: number, qos = 1): Buffer {
  return frame(qos === 1 ? 0x32 : 0x30, Buffer.concat([str(topic), ...(qos === 1 ? [Buffer.from([id >> 8, id & 0xff])] : []), Buffer.from(payload)]));
}

const PINGREQ = Buffer.from([0xc0, 0x00]);
const subscribe = (filter: string): Buffer => frame(0x82, Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([0])]));

/** An Aedes on port 0 with the given hooks; its server side sockets, by client id. */
async function broker(t: TestContext, authorizePublish?: AuthorizePublishHandler): Promise<{ aedes: Aedes; port: number; sockets: net.Socket[] }> {
  const aedes = await Aedes.createBroker(authorizePublish ? { authorizePublish } : {});
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    aedes.handle(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise((r) => server.close(r));
  });
  return { aedes, port: (server.address() as AddressInfo).port, sockets };
}

async function connected(port: number, id: string, will?: { topic: string; payload: string }): Promise<Raw> {
  const raw = new Raw(port);
  raw.write(connect(id, will));
  await until(() => raw.types()[0] === 0x20, { what: `${id}: CONNACK`, timeoutMs: 5000 });
  return raw;
}

test('aedes contract: the version is pinned at 1.2.0', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies.aedes, '1.2.0', 'package.json pins aedes exactly (broker/put-ack.ts relies on its internals)');
  const installed = JSON.parse(readFileSync(new URL('../../../node_modules/aedes/package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(installed.version, '1.2.0');
});

test('aedes contract: with two authorizePublish callbacks withheld, a later chunk is not read until they are called', { timeout: 20_000 }, async (t) => {
  const seen: string[] = [];
  const held: (() => void)[] = [];
  const { port, sockets } = await broker(t, (_client, packet, cb) => {
    seen.push(packet.topic);
    if (packet.topic === 'hold') held.push(() => cb(null));
    else cb(null);
  });
  const raw = await connected(port, 'c1');
  // Aedes counts the packets of a chunk being handled and reads the next chunk once the count is
  // back to 0; each 'readable' event takes one off. Two withheld: the next chunk stays unread (the
  // stall behind durability that put-ack.ts avoids by calling back at once).
  raw.write(Buffer.concat([publish('hold', 'x', 1), publish('hold', 'x', 2)]));
  await until(() => seen.length === 2, { what: 'both PUBLISHes of the chunk authorized' });
  raw.write(publish('next', 'y', 3));
  const server = sockets[0] as net.Socket;
  await until(() => server.readableLength > 0, { what: 'the next PUBLISH buffered, unread' });
  assert.deepEqual(seen, ['hold', 'hold'], 'nothing more handled while the callbacks are withheld');
  for (const release of held) release();
  await until(() => seen.length === 3, { what: 'the next PUBLISH authorized once the callbacks were called' });
  await until(() => raw.types().filter((x) => x === 0x40).length === 3, { what: 'the three PUBACKs' });
});

test('aedes contract: a PUBLISH rewritten to QoS 0 on a $ topic gets no PUBACK and reaches no # subscriber', { timeout: 20_000 }, async (t) => {
  let authorized = 0;
  const { aedes, port } = await broker(t, (_client, packet: PublishPacket, cb) => {
    if (packet.topic === 'put/x') {
      packet.qos = 0;
      packet.topic = '$held/x';
    }
    authorized++;
    cb(null);
  });
  const published: string[] = [];
  aedes.on('publish', (packet, client) => {
    if (client) published.push(`${packet.topic} qos ${packet.qos}`);
  });
  const sub = await connected(port, 'sub');
  sub.write(subscribe('#'));
  await until(() => sub.types().includes(0x90), { what: 'SUBACK' });
  const pub = await connected(port, 'pub');
  pub.write(publish('put/x', 'held', 7));
  await until(() => authorized === 1, { what: 'the PUBLISH authorized' });
  // A PINGREQ in a later chunk is handled after the PUBLISH was (Aedes would have written its PUBACK first).
  pub.write(PINGREQ);
  await until(() => pub.types().includes(0xd0), { what: 'PINGRESP' });
  assert.deepEqual(pub.types(), [0x20, 0xd0], 'no PUBACK for the rewritten PUBLISH');
  assert.deepEqual(published, ['$held/x qos 0'], 'Aedes published it on the rewritten topic, at QoS 0');
  // A marker published after it reaches the # subscriber; the $ copy did not, before it.
  pub.write(publish('marker', 'm', 8));
  await until(() => sub.types().filter((x) => (x & 0xf0) === 0x30).length === 1, { what: 'the marker delivered' });
  assert.ok(!sub.received.includes(Buffer.from('held')), 'the $ topic copy was not delivered to #');
  assert.ok(sub.received.includes(Buffer.from('marker')));
});

test('aedes contract: a will goes through authorizePublish with its client closed; emit("error") closes a client', { timeout: 20_000 }, async (t) => {
  const wills: { closed: boolean }[] = [];
  const { aedes, port } = await broker(t, (client, packet, cb) => {
    if (packet.topic === 'will/w' && client) wills.push({ closed: client.closed });
    cb(null);
  });
  const clients = new Map<string, Client>();
  aedes.on('client', (c) => clients.set(c.id, c));
  const raw = await connected(port, 'w', { topic: 'will/w', payload: 'gone' });
  await until(() => clients.has('w'), { what: 'client registered' });
  const client = clients.get('w') as Client;
  assert.equal(client.connected, true);
  assert.equal(client.closed, false);
  const errors: string[] = [];
  aedes.on('clientError', (_c, err) => errors.push(err.message));
  client.emit('error', new Error('refused late'));
  await until(() => raw.closed, { what: 'the connection closed by emit("error")' });
  assert.equal(client.closed, true);
  assert.deepEqual(errors, ['refused late']);
  await until(() => wills.length === 1, { what: 'the will authorized' });
  assert.deepEqual(wills, [{ closed: true }], 'the will is authorized with its client closed (put-ack.ts leaves it to Aedes)');
});
