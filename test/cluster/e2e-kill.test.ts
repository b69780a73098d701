/**
 * Issue 12, test 2, with real processes: three `hamsync broker --cluster` nodes on a private
 * redis-server; three daemons, each given two nodes (`--broker <own> --broker <next>`), and one
 * plain QoS 1 mqtt.js publisher per node, all writing new keys while node 1 is SIGKILLed. Node 1's
 * daemon must fail over to node 2 (a put it acknowledged after the kill reaches node 2 while node 1
 * is down); node 1 then restarts on its port and data dir and catches up. A ledger keeps every put
 * a daemon's HTTP API acknowledged and every put a node PUBACKed: each must be on every node at the
 * end (lost = 0, the counts printed).
 *
 * Seeded (the kill point): set CLUSTER_KILL_SEED to replay a run; the seed is printed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { restartNode, startNode, type ClusterNode, type Written } from '../helpers/cluster.js';
import { connectMqtt, getKey, Harness, putApi, statusOf, type DaemonProc } from '../helpers/procs.js';
import { PrivateRedis } from '../helpers/redis.js';
import { prng, randomSeed, seedFromEnv } from '../helpers/seed.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { hubView } from '../helpers/v2.js';
import { poll, sleep, until } from '../helpers/wait.js';

/** Most puts of one writer (the loop also ends when the test says stop). */
const MAX_PUTS = 1500;
/** Pause between two puts of one writer, ms. */
const PACE_MS = 15;
const DEADLINE_MS = 150_000;
const BASE = Date.now() - 3_600_000;

interface Ledger {
  /** Acknowledged puts by key (every key is written once). */
  acked: Map<string, Written>;
  /** Acknowledged by a daemon's HTTP API / PUBACKed by a node. */
  byDaemons: number;
  byNodes: number;
  stop: boolean;
}

/** One daemon's writer: new keys `<id>/w/<i>` through its HTTP API until told to stop (bounded). */
async function daemonWriter(d: DaemonProc, ledger: Ledger, deadline: number, onAck: (w: Written) => void): Promise<void> {
  for (let i = 0; i < MAX_PUTS && !ledger.stop && Date.now() < deadline; i++) {
    const k = `${d.id}/w/${i}`;
    const [r] = await putApi(d.http, [{ k, v: i }]);
    assert.ok(r && r.decision === 'apply', `${d.id}'s put of ${k}: ${JSON.stringify(r)}`);
    const w = { k, v: i, s: r.s, src: d.id };
    ledger.acked.set(k, w);
    ledger.byDaemons++;
    onAck(w);
    await sleep(PACE_MS);
  }
}

/** Connects (no automatic reconnect); undefined while nothing listens. */
async function tryConnect(url: string, label: string): Promise<MqttClient | undefined> {
  try {
    return await connectMqtt(url, label);
  } catch {
    return undefined;
  }
}

/**
 * A plain QoS 1 publisher on one node, device `src`: new keys `<src>/<i>`, one put at a time; a
 * put counts once its PUBACK arrived. On a lost connection it reconnects to the same node and
 * sends the unacknowledged put again (a duplicate at worst).
 */
async function mqttWriter(url: string, src: string, ledger: Ledger, deadline: number, onAck: (w: Written) => void): Promise<{ connections: number }> {
  let conn: { client: MqttClient; closed: Promise<never> } | undefined;
  let connections = 0;
  try {
    for (let i = 0; i < MAX_PUTS && !ledger.stop && Date.now() < deadline; ) {
      if (!conn) {
        const client = await tryConnect(url, src);
        if (!client) {
          await sleep(100);
          continue;
        }
        connections++;
        const closed = new Promise<never>((_, reject) => client.once('close', () => reject(new Error('connection closed'))));
        closed.catch(() => undefined);
        conn = { client, closed };
      }
      const k = `${src}/${i}`;
      const w = { k, v: i, s: BASE + i, src };
      try {
        await Promise.race([conn.client.publishAsync(`hamsync/default/put/${src}`, JSON.stringify({ src, u: [{ k, v: w.v, s: w.s }] }), { qos: 1 }), conn.closed]);
      } catch {
        await conn.client.endAsync(true).catch(() => undefined);
        conn = undefined;
        continue;
      }
      ledger.acked.set(k, w);
      ledger.byNodes++;
      onAck(w);
      i++;
      await sleep(PACE_MS);
    }
  } finally {
    await conn?.client.endAsync(true).catch(() => undefined);
  }
  return { connections };
}

test('kill -9 of a cluster node during writes: its daemon fails over, and every acknowledged put is on every node after it restarts (lost = 0)', { timeout: 240_000, skip: skipUnlessTools('redis-server') }, async (t) => {
  const seed = seedFromEnv(randomSeed(), 'CLUSTER_KILL_SEED');
  const rand = prng(seed);
  t.diagnostic(`seed ${seed} (CLUSTER_KILL_SEED=${seed} replays the kill point)`);
  const h = new Harness(t);
  const redis = await PrivateRedis.start(t);
  const nodes: ClusterNode[] = [];
  for (const id of ['n1', 'n2', 'n3']) nodes.push(await startNode(h, { redis: redis.url, nodeId: id }));
  const [n1, n2] = nodes as [ClusterNode, ClusterNode, ClusterNode];
  // Each daemon: its own node first, the next one as the fallback.
  const daemons: DaemonProc[] = [];
  for (const [i, node] of nodes.entries()) {
    const next = nodes[(i + 1) % nodes.length] as ClusterNode;
    daemons.push(await h.daemon({ id: `d${i + 1}`, broker: node.url, args: ['--broker', next.url] }));
  }
  for (const d of daemons) await until(async () => (await statusOf(d.http)).connected, { timeoutMs: 15_000, what: `${d.id} connected` });
  const d1 = daemons[0] as DaemonProc;

  const ledger: Ledger = { acked: new Map(), byDaemons: 0, byNodes: 0, stop: false };
  const deadline = Date.now() + DEADLINE_MS;
  const killAt = 60 + Math.floor(rand() * 140);
  let phase: 'before' | 'down' | 'after' = 'before';
  const afterKill: Written[] = [];
  const afterRestart: Written[] = [];
  const onAck = (w: Written): void => {
    if (phase === 'down') afterKill.push(w);
    if (phase === 'after') afterRestart.push(w);
  };
  const writers = [
    ...daemons.map((d) => daemonWriter(d, ledger, deadline, onAck).then(() => `${d.id} done`)),
    ...nodes.map((n, i) => mqttWriter(n.url, `p${i + 1}`, ledger, deadline, onAck).then((r) => `p${i + 1} done after ${r.connections} connections`)),
  ];
  const failed = Promise.all(writers).catch((err: unknown) => {
    ledger.stop = true;
    throw err;
  });
  const waitAcks = (pred: () => boolean, what: string): Promise<void> =>
    Promise.race([
      failed.then(() => assert.fail(`the writers ended before ${what}`)),
      until(pred, { timeoutMs: 60_000, intervalMs: 20, what }).then(() => undefined),
    ]);

  try {
    await waitAcks(() => ledger.acked.size >= killAt, `${killAt} acknowledged puts`);
    await n1.proc.kill();
    phase = 'down';
    t.diagnostic(`node n1 SIGKILLed after ${ledger.acked.size} acknowledged puts`);

    // d1 fails over: a put it acknowledged after the kill reaches node 2 while node 1 is down.
    await until(
      async () => {
        const mine = afterKill.filter((w) => w.src === 'd1');
        for (const w of mine.slice(0, 3)) if ((await getKey(n2.http, w.k))?.v === w.v) return true;
        throw new Error(`d1 acknowledged ${mine.length} puts since the kill; none on node 2 yet; d1 connected: ${String((await statusOf(d1.http)).connected)}`);
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'd1 to fail over to node 2 (a put d1 acknowledged after the kill, on node 2)' },
    );
    await waitAcks(() => afterKill.filter((w) => w.src === 'p2' || w.src === 'p3').length >= 20, 'the other nodes to PUBACK while node 1 is down');
    assert.ok(!n1.proc.running);

    // Node 1 back, same port and data dir; writes go on until every writer wrote after it.
    const n1b = await restartNode(h, n1);
    phase = 'after';
    nodes[0] = n1b;
    t.diagnostic(`node n1 restarted after ${afterKill.length} puts acknowledged while it was down`);
    await waitAcks(() => ['d1', 'd2', 'd3', 'p1', 'p2', 'p3'].every((src) => afterRestart.filter((w) => w.src === src).length >= 10), 'ten puts of every writer after the restart');
  } finally {
    ledger.stop = true;
  }
  t.diagnostic(`writers: ${(await failed).join(', ')}`);

  // Every daemon's outbox empty: every put it acknowledged reached a node.
  for (const d of daemons) {
    await until(
      async () => {
        const s = await statusOf(d.http);
        return s.connected && s.outbox.updates === 0 && s.outbox.messages === 0;
      },
      { timeoutMs: 30_000, what: `${d.id}'s outbox to drain` },
    );
  }

  // Every acknowledged put on every node (node 1 catches up after its restart).
  const lostOn = async (node: ClusterNode): Promise<Written[]> => {
    const view = await hubView(node.url, 'default', ['#'], 30_000);
    return [...ledger.acked.values()].filter((w) => {
      const got = view.live.get(w.k);
      return !got || got.v !== w.v || got.s !== w.s || got.src !== w.src;
    });
  };
  const lost = new Map<string, Written[]>();
  const complete = await poll(
    async () => {
      for (const n of nodes) lost.set(n.nodeId, await lostOn(n));
      return [...lost.values()].every((l) => l.length === 0);
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  const counts = [...lost].map(([id, l]) => `${id} lost ${l.length}`).join(', ');
  t.diagnostic(`ledger: ${ledger.acked.size} acknowledged (${ledger.byDaemons} by daemons' HTTP APIs, ${ledger.byNodes} PUBACKed by nodes; ${afterKill.length} while n1 was down, ${afterRestart.length} after its restart); ${counts}`);
  assert.ok(complete, `acknowledged puts missing: ${counts}; e.g. ${JSON.stringify([...lost.values()].flat().slice(0, 5))} (seed ${seed})`);

  await h.stopAll(10_000);
});
