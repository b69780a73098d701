import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { test, type TestContext } from 'node:test';
import type { RunningBroker } from '../../broker/server.js';
import { CountingProxy } from '../helpers/count-proxy.js';
import { PrivateRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/tmp.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';
import { client, converged, node, put } from './kit.js';

const skip = skipUnlessTools('redis-server');
const HTTP = { http: { host: '127.0.0.1', port: 0 } };

async function readyz(b: RunningBroker): Promise<{ code: number; status: string; reason?: string }> {
  const res = await fetch(`http://127.0.0.1:${b.httpPort}/readyz`);
  const body = (await res.json()) as { status: string; reason?: string };
  return { code: res.status, ...body };
}

/** `n` puts of one key each from `device` on `b`, keys `<prefix><i>`. */
async function puts(t: TestContext, b: RunningBroker, device: string, prefix: string, n: number, base: number): Promise<void> {
  const c = await client(t, b, `hamsync-${device}`);
  for (let i = 0; i < n; i++) await put(c, device, [[`${prefix}${i}`, i]], base + i);
  await c.endAsync();
}

test('a node partitioned from Redis keeps accepting and acknowledging, says degraded, and converges when healed', { skip, timeout: 60_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const proxy = new CountingProxy(redis.port);
  await proxy.start();
  t.after(() => proxy.sever());
  const n1 = await node(t, { nodeId: 'n1', url: redis.url });
  const n2 = await node(t, { nodeId: 'n2', url: `redis://127.0.0.1:${proxy.port}`, extra: HTTP });
  const base = Date.now() - 60_000;
  await puts(t, n1, 'a', 'a/', 5, base);
  await converged([n1, n2], 5);
  await until(async () => (await readyz(n2)).status === 'ready', { what: 'n2 ready' });
  proxy.partition();
  const degraded = await until(async () => {
    const r = await readyz(n2);
    return r.status === 'degraded' ? r : undefined;
  }, { timeoutMs: 10_000, what: 'n2 degraded' });
  assert.equal(degraded.code, 200);
  assert.match(degraded.reason ?? '', /cluster: redis unreachable/);
  // Both sides keep serving their own clients (each put resolves at its PUBACK).
  await puts(t, n2, 'b', 'b/', 10, base + 100);
  await puts(t, n1, 'a', 'c/', 10, base + 200);
  assert.equal(n2.replica.get('b/9')?.value, 9);
  assert.ok(n2.cluster && n2.cluster.pusher.unpushed > 0, 'n2 holds unpushed updates while cut off');
  proxy.heal();
  await converged([n1, n2], 25);
  await until(async () => (await readyz(n2)).status === 'ready', { timeoutMs: 15_000, what: 'n2 ready again' });
});

test('Redis restarted with its data: the nodes converge; restarted empty: the gap is detected, peer snapshots run, they converge', { skip, timeout: 90_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n1 = await node(t, { nodeId: 'n1', url: redis.url });
  const n2 = await node(t, { nodeId: 'n2', url: redis.url });
  const base = Date.now() - 60_000;
  await puts(t, n1, 'a', 'a/', 5, base);
  await converged([n1, n2], 5);
  await redis.restart();
  await puts(t, n1, 'a', 'b/', 5, base + 100);
  await puts(t, n2, 'b', 'c/', 5, base + 200);
  await converged([n1, n2], 15);
  assert.equal(n1.hub.counters.get('cluster.snapshots') + n2.hub.counters.get('cluster.snapshots'), 0, 'no snapshot when Redis kept its data');

  // Updates only n2 has (pushed into a stream that is about to be lost): n1 must get them from a snapshot.
  await puts(t, n2, 'b', 'd/', 5, base + 300);
  await converged([n1, n2], 20);
  await redis.stop();
  await puts(t, n1, 'a', 'e/', 3, base + 400);
  await redis.restart({ empty: true });
  await until(() => n1.hub.counters.get('cluster.gaps.generation') > 0 && n2.hub.counters.get('cluster.gaps.generation') > 0, { timeoutMs: 20_000, what: 'both nodes saw the generation change' });
  await until(() => n1.hub.counters.get('cluster.snapshots') > 0 && n2.hub.counters.get('cluster.snapshots') > 0, { timeoutMs: 30_000, what: 'peer snapshots taken' });
  await puts(t, n2, 'b', 'f/', 3, base + 500);
  await converged([n1, n2], 26);
});

test('a stream trimmed past a stopped node\'s position: on restart it takes a peer snapshot and converges', { skip, timeout: 90_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n1 = await node(t, { nodeId: 'n1', url: redis.url, logMax: 5 });
  const dir = tempDir(t);
  let n2 = await node(t, { nodeId: 'n2', url: redis.url, logMax: 5, dataDir: dir });
  const base = Date.now() - 60_000;
  await puts(t, n1, 'a', 'a/', 5, base);
  await converged([n1, n2], 5);
  await n2.close();
  // Far more entries than the stream keeps (MAXLEN ~ trims whole nodes of 100 entries).
  await puts(t, n1, 'a', 'b/', 400, base + 100);
  n2 = await node(t, { nodeId: 'n2', url: redis.url, logMax: 5, dataDir: dir });
  await converged([n1, n2], 405);
  assert.ok(n2.hub.counters.get('cluster.gaps.trimmed') > 0, 'the trimmed position was detected');
  // Counted once the snapshot's connection closed, which may come just after the data converged.
  await until(() => n2.hub.counters.get('cluster.snapshots') > 0, { what: 'a peer snapshot counted' });
});

test('a node restarted on its data dir resumes from its stored position, without a snapshot', { skip, timeout: 60_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n1 = await node(t, { nodeId: 'n1', url: redis.url });
  const dir = tempDir(t);
  let n2 = await node(t, { nodeId: 'n2', url: redis.url, dataDir: dir });
  const base = Date.now() - 60_000;
  await puts(t, n1, 'a', 'a/', 5, base);
  await converged([n1, n2], 5);
  const at = n2.cluster?.consumer.mark;
  await n2.close();
  await puts(t, n1, 'a', 'b/', 20, base + 100);
  n2 = await node(t, { nodeId: 'n2', url: redis.url, dataDir: dir });
  assert.deepEqual(n2.cluster?.consumer.mark, at, 'the stored position is where it stopped');
  await converged([n1, n2], 25);
  assert.equal(n2.hub.counters.get('cluster.snapshots'), 0);
  assert.equal(Object.keys(n2.hub.counters.snapshot()).filter((k) => k.startsWith('cluster.gaps.')).length, 0, 'no gap');
});

test('a crash between the PUBACK and the XADD loses nothing: the pusher pushes from its durable position after the restart', { skip, timeout: 60_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const dir = tempDir(t);
  let failing = true;
  let n1 = await node(t, { nodeId: 'n1', url: redis.url, dataDir: dir });
  const n2 = await node(t, { nodeId: 'n2', url: redis.url });
  const base = Date.now() - 60_000;
  await puts(t, n1, 'a', 'a/', 3, base);
  await converged([n1, n2], 3);
  // From here every XADD of n1 fails, as if the process died right after the PUBACK.
  assert.ok(n1.cluster);
  const pusher = n1.cluster.pusher as unknown as { o: { beforePush?: () => void } };
  pusher.o.beforePush = () => {
    if (failing) throw new Error('injected: killed before the XADD');
  };
  const pushedBefore = n1.cluster.pusher.pushed;
  await puts(t, n1, 'a', 'lost?/', 4, base + 100);
  assert.equal(n1.replica.get('lost?/3')?.value, 3, 'acknowledged and stored on n1');
  await until(() => n1.hub.counters.get('cluster.push.failed') > 0, { what: 'the push failed' });
  assert.equal(n1.cluster.pusher.pushed, pushedBefore, 'the durable pushed position did not move');
  // The crash: n1 goes away with pushed behind its change log; it restarts on the same data dir.
  await n1.close();
  failing = false;
  n1 = await node(t, { nodeId: 'n1', url: redis.url, dataDir: dir });
  await converged([n1, n2], 7);
});

test('kill -9 of a node cut off from Redis after its puts were acknowledged: on restart they reach the others', { skip, timeout: 60_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const proxy = new CountingProxy(redis.port);
  await proxy.start();
  t.after(() => proxy.sever());
  const n2 = await node(t, { nodeId: 'n2', url: redis.url });
  const dir = tempDir(t);
  // n1 reaches Redis only through the proxy.
  const child = spawn(process.execPath, [fileURLToPath(new URL('./node-child.js', import.meta.url)), dir, `redis://127.0.0.1:${proxy.port}`, 'n1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise((r) => child.once('exit', r));
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const { port } = await until(() => (out.includes('\n') ? (JSON.parse(out.split('\n')[0] as string) as { port: number }) : undefined), { what: 'the child listening' });
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'hamsync-k', reconnectPeriod: 0 });
  const base = Date.now() - 60_000;
  await put(c, 'k', [['warm', 0]], base - 1);
  await until(() => n2.replica.get('warm'), { what: 'n1 pushing (in step with the stream)' });
  // Cut off: the next pushes hang and fail, after the PUBACKs.
  proxy.partition();
  for (let i = 0; i < 5; i++) await put(c, 'k', [[`killed/${i}`, i]], base + i);
  // Every put above was PUBACKed (durable on n1). Now the process dies without a chance to push.
  child.kill('SIGKILL');
  await exited;
  c.end(true);
  // Whatever the proxy held never reaches Redis.
  await proxy.sever();
  const n1 = await node(t, { nodeId: 'n1', url: redis.url, dataDir: dir });
  await converged([n1, n2], 6);
});
