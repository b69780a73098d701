/**
 * MQTT 3.1.1 normative statements a server must enforce, each sent as raw bytes to a broker
 * (startBroker on port 0) and checked from the answer: the CONNACK code and whether the
 * connection was closed. docs/mqtt-conformance.md lists them, with which ones Aedes enforces on
 * its own and which the broker's wrapper (broker/conformance.ts, connect-level.ts) adds.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startBroker } from '../../broker/server.js';
import { checkPacket } from '../../broker/conformance.js';
import { connectPacket, frame, publishPacket, str, subscribePacket } from '../helpers/mqtt-bytes.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

/** CONNECT with the given protocol name, level, flags and client id (keepalive 60). */
function connect(name: string, level: number, flags: number, id: string | Buffer, tail: Buffer = Buffer.alloc(0)): Buffer {
  return frame(0x10, Buffer.concat([str(name), Buffer.from([level, flags, 0, 60]), str(id), tail]));
}

const ACCEPTED = Buffer.from([0x20, 0x02, 0x00, 0x00]);

/** What the broker did: the bytes it sent, and whether it closed the connection. */
interface Outcome {
  received: Buffer;
  closed: boolean;
}

/** Sends `packets`, then waits until the connection is closed or `expect` holds of what came back. */
async function exchange(port: number, packets: Buffer[], expect: (o: Outcome) => boolean): Promise<Outcome> {
  const s = net.connect(port, '127.0.0.1');
  const o: Outcome = { received: Buffer.alloc(0), closed: false };
  s.on('data', (d: Buffer) => (o.received = Buffer.concat([o.received, d])));
  s.on('close', () => (o.closed = true));
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  for (const p of packets) s.write(p);
  try {
    await until(() => o.closed || expect(o), { timeoutMs: 5000, what: 'an answer' });
  } finally {
    s.destroy();
  }
  return { ...o };
}

type Case = [rule: string, what: string, packets: Buffer[], expect: 'connack-1' | 'connack-2' | 'closed' | 'open', answer?: Buffer];

const SUB_A = subscribePacket('a/b');
const CASES: Case[] = [
  ['MQTT-3.1.3-8', 'zero-length client id with clean session 0', [connect('MQTT', 4, 0x00, '')], 'connack-2'],
  ['MQTT-3.1.3-6', 'zero-length client id with clean session 1 (an id is assigned)', [connect('MQTT', 4, 0x02, '')], 'open', ACCEPTED],
  ['client id limit', 'a 60,000-character client id (MQTT 3.1.1)', [connect('MQTT', 4, 0x02, 'x'.repeat(60_000))], 'connack-2'],
  ['client id limit', 'a 129-character client id (MQTT 3.1.1)', [connect('MQTT', 4, 0x02, 'x'.repeat(129))], 'connack-2'],
  ['client id limit', 'a 128-character client id is fine', [connect('MQTT', 4, 0x02, 'y'.repeat(128))], 'open', ACCEPTED],
  ['client id limit', 'a 60,000-character client id (MQTT 3.1)', [connect('MQIsdp', 3, 0x02, 'x'.repeat(60_000))], 'connack-2'],
  ['MQTT-3.1.2-2', 'protocol level 99', [connect('MQTT', 99, 0x02, 'lv99')], 'connack-1'],
  ['MQTT-3.1.2-2', 'protocol level 2', [connect('MQTT', 2, 0x02, 'lv2')], 'connack-1'],
  ['MQTT-3.1.2-2', 'protocol level 5 (MQTT 5 is not served)', [connect('MQTT', 5, 0x02, 'lv5')], 'connack-1'],
  ['MQTT-3.1.2-1', 'name MQIsdp with level 4', [connect('MQIsdp', 4, 0x02, 'mq4')], 'connack-1'],
  ['MQTT-3.1.2-1', 'name MQTT with level 3', [connect('MQTT', 3, 0x02, 'mq3')], 'connack-1'],
  ['MQTT-3.1.2-1', 'unknown protocol name', [connect('MQXX', 4, 0x02, 'mqxx')], 'closed'],
  ['MQTT-3.1.2-3', 'reserved connect flag set', [connect('MQTT', 4, 0x03, 'rsv')], 'closed'],
  ['MQTT-3.1.2-14', 'will QoS 3', [connect('MQTT', 4, 0x1e, 'wq3', Buffer.concat([str('a/b'), str('x')]))], 'closed'],
  ['MQTT-3.3.2-2', 'a will topic with a wildcard', [connect('MQTT', 4, 0x06, 'wt+', Buffer.concat([str('a/+'), str('x')]))], 'closed'],
  ['MQTT-1.5.3-2', 'U+0000 in a will topic', [connect('MQTT', 4, 0x06, 'wt0', Buffer.concat([str('a\u0000b'), str('x')]))], 'closed'],
  ['MQTT-3.1.2-22', 'a password without a user name', [connect('MQTT', 4, 0x42, 'pw', str('secret'))], 'closed'],
  ['MQTT-1.5.3-2', 'U+0000 in the client id', [connect('MQTT', 4, 0x02, 'a\u0000b')], 'closed'],
  ['MQTT-1.5.3-1', 'invalid UTF-8 in the client id', [connect('MQTT', 4, 0x02, Buffer.from([0x61, 0xc3, 0x28]))], 'closed'],
  ['MQTT-3.1.0-1', 'first packet not a CONNECT', [SUB_A], 'closed'],
  ['MQTT-3.1.0-2', 'a second CONNECT', [connectPacket('c2'), connectPacket('c2b')], 'closed'],
  ['MQTT-2.2.2-2', 'CONNECT with header flags 0001', [Buffer.concat([Buffer.from([0x11]), connectPacket('f1').subarray(1)])], 'closed'],
  ['MQTT-3.8.3-3', 'SUBSCRIBE without a filter', [connectPacket('s0'), frame(0x82, Buffer.from([0, 1]))], 'closed'],
  ['MQTT-3.10.3-2', 'UNSUBSCRIBE without a filter', [connectPacket('u0'), frame(0xa2, Buffer.from([0, 1]))], 'closed'],
  ['MQTT-3.8.1-1', 'SUBSCRIBE with header flags 0000', [connectPacket('s1'), frame(0x80, Buffer.concat([Buffer.from([0, 1]), str('a/b'), Buffer.from([1])]))], 'closed'],
  ['MQTT-3.10.1-1', 'UNSUBSCRIBE with header flags 0000', [connectPacket('u1'), frame(0xa0, Buffer.concat([Buffer.from([0, 1]), str('a/b')]))], 'closed'],
  ['MQTT-3.8.3-4', 'SUBSCRIBE asking QoS 3', [connectPacket('s2'), frame(0x82, Buffer.concat([Buffer.from([0, 1]), str('a/b'), Buffer.from([3])]))], 'closed'],
  ['MQTT-3.8.3-4', 'SUBSCRIBE with reserved option bits', [connectPacket('s3'), frame(0x82, Buffer.concat([Buffer.from([0, 1]), str('a/b'), Buffer.from([0x41])]))], 'closed'],
  ['MQTT-4.7.1-2', 'filter a/b#', [connectPacket('s4'), subscribePacket('a/b#')], 'closed'],
  ['MQTT-4.7.1-2', 'filter #/a', [connectPacket('s5'), subscribePacket('#/a')], 'closed'],
  ['MQTT-4.7.1-3', 'filter a+/b', [connectPacket('s6'), subscribePacket('a+/b')], 'closed'],
  ['MQTT-4.7.3-1', 'empty filter', [connectPacket('s7'), subscribePacket('')], 'closed'],
  ['MQTT-1.5.3-2', 'U+0000 in a filter', [connectPacket('s8'), subscribePacket('a\u0000b')], 'closed'],
  ['MQTT-4.7.1-2', 'UNSUBSCRIBE from a/#/b', [connectPacket('u2'), frame(0xa2, Buffer.concat([Buffer.from([0, 1]), str('a/#/b')]))], 'closed'],
  ['MQTT-4.7.1-3', 'UNSUBSCRIBE from a+', [connectPacket('u3'), frame(0xa2, Buffer.concat([Buffer.from([0, 1]), str('a+')]))], 'closed'],
  ['MQTT-3.8.4-1', 'a valid SUBSCRIBE gets its SUBACK', [connectPacket('s9'), SUB_A], 'open', Buffer.from([0x90, 0x03, 0x00, 0x01, 0x01])],
  ['MQTT-3.3.2-2', 'PUBLISH on a/+', [connectPacket('w0'), publishPacket('a/+', 'x')], 'closed'],
  ['MQTT-3.3.2-2', 'PUBLISH on a/#', [connectPacket('w1'), publishPacket('a/#', 'x')], 'closed'],
  ['MQTT-4.7.3-1', 'PUBLISH on an empty topic', [connectPacket('w2'), publishPacket('', 'x')], 'closed'],
  ['MQTT-3.3.1-4', 'PUBLISH at QoS 3', [connectPacket('w3'), frame(0x36, Buffer.concat([str('a/b'), Buffer.from([0, 1, 0x78])]))], 'closed'],
  ['MQTT-3.3.1-2', 'QoS 0 PUBLISH with DUP set', [connectPacket('w4'), frame(0x38, Buffer.concat([str('a/b'), Buffer.from('x')]))], 'closed'],
  ['MQTT-1.5.3-1', 'invalid UTF-8 in a topic', [connectPacket('w5'), publishPacket(Buffer.from([0x61, 0xc3, 0x28]), 'x')], 'closed'],
  ['MQTT-1.5.3-2', 'U+0000 in a topic', [connectPacket('w6'), publishPacket(Buffer.from([0x61, 0x00, 0x62]), 'x')], 'closed'],
  ['MQTT-3.3.4-1', 'a valid QoS 1 PUBLISH gets its PUBACK', [connectPacket('w7'), publishPacket('a/b', 'x')], 'open', Buffer.from([0x40, 0x02, 0x00, 0x01])],
  ['MQTT-3.6.1-1', 'PUBREL with header flags 0000', [connectPacket('r0'), Buffer.from([0x60, 0x02, 0, 1])], 'closed'],
  ['MQTT-3.14.1-1', 'DISCONNECT with reserved flags', [connectPacket('d0'), Buffer.from([0xe1, 0x00])], 'closed'],
  ['MQTT-2.2.1', 'reserved packet type 15', [connectPacket('t15'), Buffer.from([0xf0, 0x00])], 'closed'],
  ['MQTT-3.12.4-1', 'PINGREQ gets PINGRESP', [connectPacket('pg'), Buffer.from([0xc0, 0x00])], 'open', Buffer.from([0xd0, 0x00])],
];

test('MQTT 3.1.1 conformance over raw sockets: every statement the server must enforce', { timeout: 120_000 }, async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t) });
  t.after(() => broker.close());
  for (const [rule, what, packets, expect, answer] of CASES) {
    await t.test(`${rule}: ${what}`, async () => {
      const wanted = expect === 'connack-1' ? Buffer.from([0x20, 0x02, 0x00, 0x01]) : expect === 'connack-2' ? Buffer.from([0x20, 0x02, 0x00, 0x02]) : answer;
      const o = await exchange(broker.port, packets, (x) => wanted !== undefined && x.received.includes(wanted));
      if (expect === 'open') {
        assert.ok(o.received.includes(wanted as Buffer), `answered ${o.received.toString('hex')}`);
        assert.equal(o.closed, false, 'still open');
      } else if (expect === 'closed') {
        assert.equal(o.closed, true, `closed (got ${o.received.toString('hex')})`);
        // Closed without accepting the bad packet: at most the CONNACK of a good CONNECT before it.
        assert.ok(o.received.length === 0 || o.received.equals(ACCEPTED), `only a CONNACK 0 before the close, got ${o.received.toString('hex')}`);
      } else {
        assert.ok(o.received.equals(wanted as Buffer), `CONNACK ${expect}, got ${o.received.toString('hex')}`);
      }
    });
  }
  // The refused CONNECTs closed the connection after their CONNACK.
  await t.test('a CONNACK 1 or 2 is followed by the close', async () => {
    for (const packets of [[connect('MQTT', 4, 0x00, '')], [connect('MQTT', 99, 0x02, 'x')]]) {
      const o = await exchange(broker.port, packets, (x) => x.closed);
      assert.equal(o.closed, true);
    }
  });
  assert.equal(broker.aedes.closed, false, 'the broker is up');
  console.log(`# ${CASES.length} cases; violations counted: ${broker.hub.counters.get('mqtt.violations')}, protocol-level refusals: ${broker.hub.counters.get('connections.protocol-level')}`);
});

test('checkPacket: the rules on decoded packets', () => {
  assert.deepEqual(checkPacket({ cmd: 'connect', clientId: 'ok', clean: true }, 128), { ok: true });
  assert.equal(checkPacket({ cmd: 'connect', clientId: '', clean: false }, 128).ok, false);
  assert.equal(checkPacket({ cmd: 'subscribe', subscriptions: [{ topic: 'a/+/b' }, { topic: 'a/#' }, { topic: '+' }] }, 128).ok, true);
  assert.equal(checkPacket({ cmd: 'subscribe', subscriptions: [{ topic: 'a/+/b' }, { topic: 'a#' }] }, 128).ok, false);
  assert.equal(checkPacket({ cmd: 'publish', qos: 1, dup: true, topic: 'a/b' }, 128).ok, true);
});
