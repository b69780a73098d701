/**
 * The hub stops promptly on SIGTERM even while a connection has not sent its CONNECT yet (a
 * device half way through connecting, or a client that never speaks MQTT): Aedes only closes
 * the clients it registered, and the listener's close waits for every open connection.
 * Found by system-property.test.ts (a hub restart right after daemons started, ~1 run in 15).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { Harness } from '../helpers/procs.js';
import { brokerV2 } from '../helpers/v2.js';

test('the hub exits 0 within 5 s of SIGTERM while a TCP connection has not sent CONNECT', { timeout: 30_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await brokerV2(h);
  const socket = net.connect({ host: '127.0.0.1', port: broker.port });
  socket.on('error', () => undefined);
  h.defer(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const ms = await broker.proc.stop(5000);
  t.diagnostic(`stopped in ${ms} ms`);
  assert.ok(ms < 5000);
});
