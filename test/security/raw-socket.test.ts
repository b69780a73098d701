/**
 * Raw bytes against the broker (an in-process startBroker on port 0): malformed MQTT packets,
 * invalid UTF-8 and 200-level topics, huge declared lengths, wildcards in a publish topic, and a
 * client that stops reading. After each, the broker is up, nothing bad was stored, memory stayed
 * bounded and a well-behaved device still gets its puts acknowledged quickly.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import { connectPacket, frame, publishPacket, str, subscribePacket, varint } from '../helpers/mqtt-bytes.js';
import { Harness } from '../helpers/procs.js';
import { sleep, until } from '../helpers/wait.js';

/** A raw TCP client: what it received, whether it was closed, and when. */
class Raw {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  closedAt: number | undefined;

  constructor(port: number, read = true) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    if (read) this.socket.on('data', (d: Buffer) => (this.received = Buffer.concat([this.received, d]).subarray(-4096)));
    this.socket.on('close', () => (this.closedAt = performance.now()));
  }

  async open(): Promise<void> {
    if (this.socket.connecting) await new Promise((r) => this.socket.once('connect', r));
  }

  write(b: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(b, () => resolve());
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Waits for CONNACK (0x20 ...) with return code 0. */
  async connack(): Promise<void> {
    await until(() => this.received.length >= 4, { timeoutMs: 5000, what: 'CONNACK' });
    assert.equal(this.received[0], 0x20, 'CONNACK');
    assert.equal(this.received[3], 0, 'CONNACK accepted');
  }

  end(): void {
    this.socket.destroy();
  }
}

/** put → PUBACK round trips of a good device, in ms. */
async function putLatencies(client: MqttClient, device: string, n: number, tag: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({ src: device, u: [{ k: `good/${tag}/${i}`, v: i, s: Date.now() - 1000 }] });
    const t0 = performance.now();
    await client.publishAsync(`hamsync/default/put/${device}`, body, { qos: 1 });
    out.push(performance.now() - t0);
  }
  return out;
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] as number;
}

async function brokerUp(broker: RunningBroker, good: MqttClient, tag: string): Promise<number[]> {
  assert.equal(broker.aedes.closed, false);
  const lat = await putLatencies(good, 'good', 20, tag);
  await until(() => broker.replica.get(`good/${tag}/19`) !== undefined, { timeoutMs: 5000, what: `good/${tag}/19 stored` });
  return lat;
}

test('raw-socket abuse: the broker stays up, stores nothing bad, keeps memory bounded and others\' latency low', { timeout: 120_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: h.tempDir('hub'), drainTimeoutMs: 2000 });
  h.defer(() => broker.close());
  const good = await h.mqtt(`mqtt://127.0.0.1:${broker.port}`, 'good');
  const baseline = await brokerUp(broker, good, 'baseline');
  const latencies: number[] = [];
  const raws: Raw[] = [];
  const raw = async (read = true): Promise<Raw> => {
    const r = new Raw(broker.port, read);
    raws.push(r);
    await r.open();
    return r;
  };
  h.defer(() => raws.forEach((r) => r.end()));

  await t.test('malformed packets: reserved types, bad protocol, truncated CONNECT, garbage after CONNECT', async () => {
    const cases: Buffer[] = [
      Buffer.from([0x00, 0x00]), // reserved type 0
      Buffer.from([0xf0, 0x00]), // reserved type 15
      frame(0x10, Buffer.concat([str('MQXX'), Buffer.from([4, 2, 0, 60]), str('x')])), // bad protocol name
      frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([99, 2, 0, 60]), str('x')])), // unknown protocol level
      Buffer.from([0x10, 0x0a, 0x00, 0x04, 0x4d]), // truncated CONNECT, then silence
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]), // 5-byte remaining length
    ];
    for (const bytes of cases) {
      const r = await raw();
      await r.write(bytes);
    }
    // Valid CONNECT, then random garbage.
    for (let i = 0; i < 5; i++) {
      const r = await raw();
      await r.write(connectPacket(`garbage-${i}`));
      await r.connack();
      await r.write(Buffer.from(Array.from({ length: 64 }, (_, j) => (i * 37 + j * 101) & 0xff)));
    }
    await sleep(200);
    latencies.push(...(await brokerUp(broker, good, 'malformed')));
  });

  await t.test('invalid UTF-8, 200-level and wildcard publish topics are not stored', async () => {
    const before = broker.hub.counters.get('updates.accepted');
    const body = (k: string): string => JSON.stringify({ src: 'evil', u: [{ k, v: 1, s: Date.now() - 1000 }] });
    const topics: (string | Buffer)[] = [
      Buffer.concat([Buffer.from('hamsync/default/put/'), Buffer.from([0xc3, 0x28, 0xff])]),
      `hamsync/default/put/evil/${'x/'.repeat(200)}y`,
      'hamsync/default/put/#',
      'hamsync/default/put/+',
      'hamsync/default/state/+',
    ];
    for (const [i, topic] of topics.entries()) {
      const r = await raw();
      await r.write(connectPacket(`topic-${i}`));
      await r.connack();
      await r.write(publishPacket(topic, body(`evil/topic-${i}`)));
    }
    await sleep(300);
    for (let i = 0; i < topics.length; i++) assert.equal(broker.replica.get(`evil/topic-${i}`), undefined, `topic case ${i} stored`);
    assert.equal(broker.hub.counters.get('updates.accepted'), before, 'nothing accepted');
    latencies.push(...(await brokerUp(broker, good, 'topics')));
  });

  await t.test('declared lengths of 1, 16 and 256 MiB are cut off from the header, memory stays bounded', async () => {
    const mem = (): number => process.memoryUsage().heapUsed + process.memoryUsage().external;
    const mem0 = mem();
    const rejected0 = broker.hub.counters.get('connections.packet-too-large');
    for (const mib of [1, 16, 256]) {
      const r = await raw();
      await r.write(connectPacket(`big-${mib}`));
      await r.connack();
      const declared = Math.min(mib * 1024 * 1024, 268_435_455);
      // The PUBLISH header, then up to 4 MiB of its body, as fast as the socket takes it.
      const header = Buffer.concat([Buffer.from([0x32]), varint(declared), str('hamsync/default/put/evil'), Buffer.from([0, 1])]);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const t0 = performance.now();
      void r.write(header);
      for (let sent = 0; sent < 4 * 1024 * 1024 && !r.closed; sent += chunk.length) await r.write(chunk);
      await until(() => r.closed, { timeoutMs: 5000, what: `${mib} MiB sender disconnected` });
      assert.ok((r.closedAt as number) - t0 < 5000, `${mib} MiB: cut off quickly`);
    }
    assert.equal(broker.hub.counters.get('connections.packet-too-large') - rejected0, 3, 'each counted');
    const grown = (mem() - mem0) / 1024 / 1024;
    console.log(`# heap+external growth after the oversized senders: ${grown.toFixed(1)} MiB`);
    assert.ok(grown < 64, `memory grew ${grown.toFixed(1)} MiB`);
    latencies.push(...(await brokerUp(broker, good, 'oversized')));
  });

  await t.test('a packet just under the limit still works', async () => {
    const r = await raw();
    await r.write(connectPacket('near-limit'));
    await r.connack();
    const pad = 'x'.repeat(200 * 1024);
    await r.write(publishPacket('hamsync/default/put/near', JSON.stringify({ src: 'near', u: [{ k: 'near/limit', v: pad, s: Date.now() - 1000 }] })));
    await until(() => r.received.includes(Buffer.from([0x40, 0x02, 0x00, 0x01])), { timeoutMs: 5000, what: 'PUBACK' });
    assert.equal(r.closed, false);
  });

  await t.test('a subscriber that stops reading is disconnected, others keep their latency', async () => {
    const fast = await h.watch(`mqtt://127.0.0.1:${broker.port}`, ['hamsync/default/state/flood/#'], 'fast-subscriber');
    const flooder = await h.mqtt(`mqtt://127.0.0.1:${broker.port}`, 'flooder');
    const slow = await raw(false);
    slow.socket.pause();
    await slow.write(connectPacket('slow-reader'));
    await slow.write(subscribePacket('hamsync/default/state/#'));
    await sleep(100);
    // 300 messages x 10 keys x 20 KB: ~60 MB of state changes the slow client never reads, more
    // than the kernel's socket buffers hold. The same 10 keys each time, so the retained view stays small.
    const big = 'y'.repeat(20_000);
    const during: number[] = [];
    // Heap and buffers, not RSS: RSS also counts LMDB's mapped pages, which grow with what is stored.
    const used = (): number => process.memoryUsage().heapUsed + process.memoryUsage().external;
    const mem0 = used();
    let peak = 0;
    const clients = (broker.aedes as unknown as { clients: Record<string, unknown> }).clients;
    const cutOff = (): boolean => !('slow-reader' in clients) && broker.hub.counters.get('connections.slow-consumer') + broker.hub.counters.get('connections.stalled') === 1;
    for (let i = 0; i < 300 && !cutOff(); i++) {
      const u = Array.from({ length: 10 }, (_, j) => ({ k: `flood/${j}`, v: big, s: Date.now() - 1000 + i / 1000 }));
      await flooder.publishAsync('hamsync/default/put/flooder', JSON.stringify({ src: 'flooder', u }), { qos: 1 });
      if (i % 10 === 0) void putLatencies(good, 'good', 1, `slow-${i}`).then((l) => during.push(...l));
      peak = Math.max(peak, used() - mem0);
    }
    console.log(`# slow reader: peak heap+external growth ${(peak / 1024 / 1024).toFixed(1)} MiB`);
    // A subscriber that reads got every state change (delivery was never held up by the slow one).
    const lastState = broker.replica.get('flood/0')?.state;
    await until(() => (fast.last('hamsync/default/state/flood/0')?.json as { s?: number } | undefined)?.s === lastState, { timeoutMs: 3000, what: 'the reading subscriber is up to date' });
    // (A paused socket does not see its own close; ask the broker.)
    await until(cutOff, { timeoutMs: 15_000, what: 'slow reader cut off' });
    // (The queue bound itself is tested exactly in frame-gate.test.ts; this is the end-to-end sanity check.)
    assert.ok(peak < 256 * 1024 * 1024, `memory stayed bounded (peak growth ${peak} bytes)`);
    latencies.push(...during);
    latencies.push(...(await brokerUp(broker, good, 'after-slow')));
  });

  const base = p99(baseline);
  const abused = p99(latencies);
  console.log(`# good device put→PUBACK p99: ${base.toFixed(1)} ms before, ${abused.toFixed(1)} ms during/after abuse (${latencies.length} puts)`);
  assert.ok(abused < Math.max(250, base * 20), `p99 ${abused.toFixed(1)} ms`);
});
