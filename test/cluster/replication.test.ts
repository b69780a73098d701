import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrivateRedis } from '../helpers/redis.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';
import { changeRows, client, converged, node, put } from './kit.js';

const skip = skipUnlessTools('redis-server');

test('three nodes: puts on each (shared and own keys) converge on every hub replica, and the external rows are marked', { skip, timeout: 60_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const nodes = [];
  for (const id of ['n1', 'n2', 'n3']) nodes.push(await node(t, { nodeId: id, url: redis.url }));
  const base = Date.now() - 60_000;
  for (const [i, b] of nodes.entries()) {
    const c = await client(t, b, `hamsync-dev${i}`);
    for (let j = 0; j < 20; j++) {
      // Own keys, and shared keys all three write (HAM picks one winner everywhere).
      await put(c, `dev${i}`, [[`own/${i}/${j}`, j], [`shared/${j % 5}`, { from: i, j }]], base + j * 10 + i);
    }
  }
  const live = await converged(nodes, 3 * 20 + 5);
  assert.match(live, /shared\/0=/);
  for (const [i, b] of nodes.entries()) {
    const rows = changeRows(b);
    const own = rows.filter((r) => r.x === undefined);
    const external = rows.filter((r) => r.x === 1);
    assert.ok(own.length > 0 && own.every((r) => r.src === `dev${i}`), `node ${i}: unmarked rows are its own clients'`);
    assert.ok(external.length > 0 && external.every((r) => r.src !== `dev${i}`), `node ${i}: marked rows came from the others`);
  }
});

test('bad rows in the stream are counted and skipped; the node keeps consuming', { skip, timeout: 60_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n1 = await node(t, { nodeId: 'n1', url: redis.url });
  const n2 = await node(t, { nodeId: 'n2', url: redis.url });
  const base = Date.now() - 60_000;
  const c1 = await client(t, n1, 'hamsync-dev1');
  await put(c1, 'dev1', [['k/0', 0]], base);
  await converged([n1, n2], 1);
  const { Redis } = await import('ioredis');
  const { PUSH_SCRIPT } = await import('../../broker/cluster/pusher.js');
  const { clusterKeys } = await import('../../broker/cluster/stream-codec.js');
  const r = new Redis(redis.url);
  t.after(() => r.disconnect());
  const k = clusterKeys('default');
  const gen = await r.get(k.gen);
  const bad = ['not json', JSON.stringify([['ok/1', base, 'evil', '1'], ['neg', -5, 'evil', '1'], ['k', 1, 'bad source!', '1'], ['x', 1, 'evil', '{']])];
  await r.eval(PUSH_SCRIPT, 3, k.log, k.gen, k.count, gen as string, '1000', 'evil', ...bad);
  await put(c1, 'dev1', [['k/1', 1]], base + 1);
  await converged([n1, n2], 3);
  assert.equal(n2.replica.get('ok/1')?.value, 1, 'the good row of the bad entry was applied');
  assert.equal(n2.hub.counters.get('cluster.rows.rejected'), 4);
});

test('status on a node lists the cluster\'s nodes, their positions and lag, and Redis connectivity', { skip, timeout: 60_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const n1 = await node(t, { nodeId: 'n1', url: redis.url, extra: { http: { host: '127.0.0.1', port: 0 } } });
  const n2 = await node(t, { nodeId: 'n2', url: redis.url });
  const c = await client(t, n2, 'hamsync-dev2');
  await put(c, 'dev2', [['a', 1], ['b', 2]], Date.now() - 60_000);
  await converged([n1, n2], 2);
  const { clusterLines } = await import('../../src/cli/status.js');
  const status = await until(async () => {
    const s = (await (await fetch(`http://127.0.0.1:${n1.httpPort}/v1/status`)).json()) as { cluster?: { nodes: { id: string; position: number }[]; stream: { position: number; head: number } } };
    return s.cluster && s.cluster.nodes.length === 2 && s.cluster.nodes.every((n) => n.position === 1) && s.cluster.stream.head === 1 ? s.cluster : undefined;
  }, { what: 'both nodes registered at position 1' });
  const text = clusterLines(status as Parameters<typeof clusterLines>[0]).join('\n');
  assert.match(text, /cluster {3}node n1; redis connected/);
  assert.match(text, /stream position 1 of head 1 \(behind 0\)/);
  assert.match(text, /node n2 mqtt:\/\/127\.0\.0\.1:\d+: position 1, behind 0, seen/);
  const metrics = await (await fetch(`http://127.0.0.1:${n1.httpPort}/metrics`)).text();
  assert.match(metrics, /^hamsync_cluster_redis_up 1$/m);
  assert.match(metrics, /^hamsync_cluster_behind_entries 0$/m);
});
