import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { CountingProxy } from '../helpers/count-proxy.js';
import { PrivateRedis } from '../helpers/redis.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

/** One RESP command over a fresh connection; resolves with the reply text, or 'timeout'. */
function command(port: number, line: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(`${line}\r\n`));
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, ms);
    s.once('data', (b) => {
      clearTimeout(timer);
      s.destroy();
      resolve(b.toString());
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      resolve(`error ${err.message}`);
    });
  });
}

test('the private Redis keeps its data over a restart, and starts empty when asked', { skip: skipUnlessTools('redis-server') }, async (t) => {
  const redis = await PrivateRedis.start(t);
  assert.equal(await command(redis.port, 'SET k v', 5000), '+OK\r\n');
  await redis.restart();
  assert.equal(await command(redis.port, 'GET k', 5000), '$1\r\nv\r\n');
  await redis.restart({ empty: true });
  assert.equal(await command(redis.port, 'GET k', 5000), '$-1\r\n');
});

test('a partitioned proxy forwards nothing until healed, then delivers what was held', { skip: skipUnlessTools('redis-server') }, async (t) => {
  const redis = await PrivateRedis.start(t, { persist: false });
  const proxy = new CountingProxy(redis.port);
  await proxy.start();
  t.after(() => proxy.sever());
  assert.equal(await command(proxy.port, 'PING', 5000), '+PONG\r\n');
  proxy.partition();
  const held = command(proxy.port, 'PING', 10_000);
  // The proxy holds the new connection, unconnected to Redis, until the heal.
  await until(() => proxy.heldConnections === 1, { what: 'the connection to be held' });
  assert.equal(proxy.connections, 1);
  proxy.heal();
  assert.equal(proxy.connections, 2);
  assert.equal(await held, '+PONG\r\n');
});
