/**
 * Issue 12, test 1, with real processes: three `hamsync broker --cluster` nodes on a private
 * redis-server and three `hamsync daemon`s, each daemon on a different node. All three daemons
 * write the same shared keys (newer states, and equal-state ties) and their own keys, through
 * their HTTP APIs. Then:
 *  - all six replicas (3 nodes, read through their admin API; 3 daemons) hold the same live view,
 *    and it is the view HAM picks from every acknowledged put (key, value, state, source);
 *  - a `mosquitto_sub -v` on node 3, subscribed to the state topics before the writes, saw changes
 *    made through node 1: the final value of every key, on d1's own keys only values d1 put, and on
 *    no topic a message twice or an older value after a newer one. State topics carry the resolved
 *    state: like a single hub (puts committed in one batch), a node announces a key's last change
 *    per committed batch, so node 3 may skip intermediate values node 1 showed (docs/cluster.md);
 *    how many it skipped is printed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonical, ham } from '../../src/index.js';
import { converged, expectedView, MosquittoSub, startNode, type ClusterNode, type Written } from '../helpers/cluster.js';
import { Harness, putApi, statusOf, uniqueId, type DaemonProc } from '../helpers/procs.js';
import { PrivateRedis } from '../helpers/redis.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

const ROUNDS = 4;
const OWN = 30;
const SHARED = 20;
const TIES = 5;
const STATE = 'hamsync/default/state/';

test('three cluster nodes and three daemons (one per node) converge, and mosquitto_sub on node 3 sees node 1\'s changes once, never an older after a newer', { timeout: 150_000, skip: skipUnlessTools('redis-server', 'mosquitto_sub') }, async (t) => {
  const h = new Harness(t);
  const redis = await PrivateRedis.start(t);
  const nodes: ClusterNode[] = [];
  for (const id of ['n1', 'n2', 'n3']) nodes.push(await startNode(h, { redis: redis.url, nodeId: id }));
  const daemons: DaemonProc[] = [];
  for (const [i, node] of nodes.entries()) daemons.push(await h.daemon({ id: `d${i + 1}`, broker: node.url }));
  for (const d of daemons) await until(async () => (await statusOf(d.http)).connected, { timeoutMs: 15_000, what: `${d.id} connected to its node` });
  const [d1] = daemons as [DaemonProc, DaemonProc, DaemonProc];

  // The subscriber on node 3, up before any write: a put through node 1 reaches it first.
  const sub = new MosquittoSub(h, (nodes[2] as ClusterNode).port, `${STATE}#`, uniqueId('e2e-sub-n3-'));
  // And one on node 1, for comparison (how many of node 1's own changes it shows).
  const sub1 = new MosquittoSub(h, (nodes[0] as ClusterNode).port, `${STATE}#`, uniqueId('e2e-sub-n1-'));
  const [probe] = await putApi(d1.http, [{ k: 'probe/n1', v: 'hello from node 1' }]);
  await until(
    () => {
      if (sub.on(`${STATE}probe/n1`).length > 0 && sub1.on(`${STATE}probe/n1`).length > 0) return true;
      throw new Error(`nothing yet; mosquitto_sub ${sub.running ? 'running' : 'exited'}, stderr: ${JSON.stringify(sub.stderr)}`);
    },
    { timeoutMs: 20_000, what: 'mosquitto_sub on node 3 to see a put made through node 1' },
  );

  // The writes: each round, each daemon puts its own keys and the shared ones; and once, the same state on the tie keys.
  const puts: Written[] = [{ k: 'probe/n1', v: 'hello from node 1', s: probe?.s as number, src: 'd1' }];
  const tieState = Date.now() - 60_000;
  const record = (d: DaemonProc, sent: { k: string; v: unknown }[], results: { k: string; s: number; decision: string }[]): void => {
    assert.equal(results.length, sent.length);
    results.forEach((r, j) => {
      assert.ok(!['defer', 'quarantine'].includes(r.decision), `${d.id}'s put of ${r.k} was ${r.decision}`);
      puts.push({ k: r.k, v: sent[j]?.v, s: r.s, src: d.id });
    });
  };
  await Promise.all(
    daemons.map(async (d) => {
      for (let round = 0; round < ROUNDS; round++) {
        const own = Array.from({ length: OWN }, (_, j) => ({ k: `${d.id}/k/${j}`, v: `${d.id}:${round}:${j}` }));
        record(d, own, await putApi(d.http, own));
        const shared = Array.from({ length: SHARED }, (_, j) => ({ k: `shared/${j}`, v: { by: d.id, round, j } }));
        record(d, shared, await putApi(d.http, shared));
      }
      const ties = Array.from({ length: TIES }, (_, j) => ({ k: `tie/${j}`, v: `${d.id}:tie:${j}`, s: tieState + j }));
      record(d, ties, await putApi(d.http, ties));
    }),
  );
  const expected = expectedView(puts);
  assert.equal(expected.size, 1 + 3 * OWN + SHARED + TIES);
  for (let j = 0; j < TIES; j++) assert.equal(expected.get(`tie/${j}`)?.v, `d3:tie:${j}`, 'a tie goes to the lexically greatest value');

  // All six replicas converge on that view.
  const replicas = [...nodes.map((n) => ({ name: `node ${n.nodeId}`, http: n.http })), ...daemons.map((d) => ({ name: `daemon ${d.id}`, http: d.http }))];
  await converged(replicas, expected, 60_000);

  // Node 3's subscriber: the final value of every key is the last it saw on that key's topic.
  await until(
    () => {
      for (const e of expected.values()) {
        const last = sub.on(`${STATE}${e.k}`).at(-1)?.json;
        if (!last || canonical({ v: last.v, s: last.s, src: last.src }) !== canonical({ v: e.v, s: e.s, src: e.src })) throw new Error(`last on ${e.k}: ${JSON.stringify(last)}, expected ${JSON.stringify(e)}`);
      }
      return true;
    },
    { timeoutMs: 15_000, what: 'node 3\'s subscriber to see the final value of every key' },
  );
  assert.deepEqual(sub.bad, [], 'every mosquitto_sub line is "topic JSON"');

  // On no topic a message twice, nor an older value after a newer one.
  const byTopic = new Map<string, { v?: unknown; s?: number; src?: string }[]>();
  for (const l of sub.lines) byTopic.set(l.topic, [...(byTopic.get(l.topic) ?? []), l.json]);
  let changes = 0;
  for (const [topic, seen] of byTopic) {
    changes += seen.length;
    for (let i = 1; i < seen.length; i++) {
      const prev = seen[i - 1] as { v?: unknown; s?: number };
      const next = seen[i] as { v?: unknown; s?: number };
      const decision = ham(Number.MAX_SAFE_INTEGER, { state: next.s as number, value: next.v }, { state: prev.s as number, value: prev.v });
      assert.equal(decision, 'apply', `${topic}: message ${i} ${JSON.stringify(next)} after ${JSON.stringify(prev)} is not newer (${decision}: a duplicate or an older value after a newer one)`);
    }
  }

  // The changes made through node 1 to its own keys: node 3 shows some of d1's puts, in put order,
  // ending with the last (the ordering check above makes them a subsequence); how many it skipped
  // is printed: state topics carry the resolved state, coalesced per committed batch (docs/cluster.md).
  const skipped: string[] = [];
  for (let j = 0; j < OWN; j++) {
    const k = `d1/k/${j}`;
    const made = puts.filter((p) => p.k === k).sort((a, b) => a.s - b.s).map((p) => canonical({ v: p.v, s: p.s, src: p.src }));
    assert.equal(made.length, ROUNDS);
    const seen = (byTopic.get(`${STATE}${k}`) ?? []).map((x) => canonical({ v: x.v, s: x.s, src: x.src }));
    for (const x of seen) assert.ok(made.includes(x), `node 3's subscriber on ${k} saw ${x}, which d1 never put`);
    assert.equal(seen.at(-1), made.at(-1), `node 3's subscriber on ${k}: d1's last put last`);
    for (const x of made) if (!seen.includes(x)) skipped.push(`${k} ${x}`);
  }
  const n1Own = sub1.lines.filter((l) => l.topic.startsWith(`${STATE}d1/`)).length;
  t.diagnostic(`converged on ${expected.size} keys from ${puts.length} puts; node 3's subscriber saw ${changes} state changes on ${byTopic.size} topics; of d1's ${OWN * ROUNDS} own puts node 1's subscriber saw ${n1Own}, node 3's ${OWN * ROUNDS - skipped.length}`);

  await sub.stop();
  await sub1.stop();
  await h.stopAll(10_000);
});
