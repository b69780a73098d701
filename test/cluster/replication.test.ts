import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PrivateRedis } from '../helpers/redis.js';
import { skipUnlessTools } from '../helpers/tools.js';
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
