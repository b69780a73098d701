/**
 * The loads of the cluster bench (cluster.ts), on a running Cluster (cluster-procs.ts):
 *  - `throughput`: mqtt.js devices spread round-robin over the nodes, 100 updates per QoS 1 put,
 *    a fixed window each; updates PUBACKed per second over the measured window;
 *  - `paced`: one-update-per-key puts paced at a fixed rate into one node, a subscriber on the state
 *    topics of each observed node; per update, the time from send to its state message on each;
 *  - `catchUp`: a node (and, as the in-run baseline, a daemon following `#`) stopped while a
 *    backlog is written to another node, then restarted: the time until it holds the last update.
 */
import type { MqttClient } from 'mqtt';
import { api, connectMqtt, statusOf } from '../helpers/procs.js';
import { publishPuts, syncOf } from '../helpers/v2.js';
import { poll, sleep, until } from '../helpers/wait.js';
import type { Cluster, NodeKid } from './cluster-procs.js';
import { startDaemon } from './fleet-procs.js';

const NS = 'default';
/** States well in the past of every node's clock (nothing deferred), increasing. */
const STATE_BASE = Date.now() - 1e9;

async function end(c: MqttClient): Promise<void> {
  await c.endAsync(true).catch(() => undefined);
}

export interface Throughput {
  updatesPerSec: number;
  msgsPerSec: number;
}

/** `devices` publishers (round-robin over the nodes), `perPut` updates per put, `window` puts in flight each. */
export async function throughput(cluster: Cluster, devices: number, perPut: number, window: number, warmMs: number, measureMs: number): Promise<Throughput> {
  const clients = await Promise.all(Array.from({ length: devices }, (_, i) => connectMqtt((cluster.nodes[i % cluster.nodes.length] as NodeKid).url, `bench-tp${i}`)));
  let counting = false;
  let stop = false;
  let acked = 0;
  let seq = 0;
  const loops = clients.map(
    (c, d) =>
      new Promise<void>((resolve, reject) => {
        const src = `tp${d}`;
        let inflight = 0;
        const send = (): void => {
          if (stop) {
            if (inflight === 0) resolve();
            return;
          }
          const u: string[] = [];
          for (let j = 0; j < perPut; j++) {
            const n = seq++;
            u.push(`{"k":"${src}/m${n % 1000}","v":${n},"s":${STATE_BASE + n}}`);
          }
          inflight++;
          c.publish(`hamsync/${NS}/put/${src}`, `{"src":"${src}","u":[${u.join(',')}]}`, { qos: 1 }, (err) => {
            inflight--;
            if (err) return reject(err);
            if (counting) acked++;
            send();
          });
        };
        for (let w = 0; w < window; w++) send();
      }),
  );
  await sleep(warmMs);
  counting = true;
  const t0 = performance.now();
  await sleep(measureMs);
  const n = acked;
  const ms = performance.now() - t0;
  counting = false;
  stop = true;
  await Promise.all(loops);
  await Promise.all(clients.map(end));
  return { updatesPerSec: (n * perPut * 1000) / ms, msgsPerSec: (n * 1000) / ms };
}

export interface Paced {
  /** Per observed node (in the order given): send -> state message on that node, ms, sorted. */
  latency: number[][];
  /** Per update seen on both: arrival on observed node 2 minus arrival on observed node 1, ms, sorted. */
  lag: number[];
  sent: number;
  /** Achieved rate over the measured window, updates/s. */
  rate: number;
}

/**
 * `rate` updates/s in puts of `perPut` (a 1 ms timer sends what is due) into `into`; subscribers on
 * the state topics of each node in `observe`. Updates sent after `warmMs` are timed for `measureMs`.
 */
export async function paced(into: NodeKid, observe: NodeKid[], rate: number, perPut: number, warmMs: number, measureMs: number): Promise<Paced> {
  const subs = await Promise.all(observe.map((n, i) => connectMqtt(n.url, `bench-sub${i}`)));
  const pub = await connectMqtt(into.url, 'bench-pace');
  const arrivals = observe.map(() => new Map<number, number>());
  try {
    await Promise.all(
      subs.map(async (s, o) => {
        s.on('message', (_topic, payload) => {
          const now = performance.now();
          const v = (JSON.parse(payload.toString('utf8')) as { v?: { i?: number } }).v;
          if (typeof v?.i === 'number' && !(arrivals[o] as Map<number, number>).has(v.i)) (arrivals[o] as Map<number, number>).set(v.i, now);
        });
        await s.subscribeAsync(`hamsync/${NS}/state/pace/#`, { qos: 1 });
      }),
    );
    const sentAt = new Map<number, number>();
    let sent = 0;
    let first = Infinity;
    let last = Infinity;
    let failure: Error | undefined;
    const start = performance.now();
    const total = warmMs + measureMs;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const elapsed = performance.now() - start;
        if (elapsed >= warmMs && first === Infinity) first = sent;
        const due = Math.floor((Math.min(elapsed, total) * rate) / 1000);
        while (sent + perPut <= due) {
          const t = performance.now();
          const u: string[] = [];
          for (let j = 0; j < perPut; j++) {
            const i = sent++;
            sentAt.set(i, t);
            u.push(`{"k":"pace/${i % 1000}","v":{"i":${i}},"s":${STATE_BASE + i}}`);
          }
          pub.publish(`hamsync/${NS}/put/pacer`, `{"src":"pacer","u":[${u.join(',')}]}`, { qos: 1 }, (err) => {
            if (err) failure ??= err;
          });
        }
        if (elapsed >= total) {
          last = sent;
          done();
        } else setTimeout(tick, 1);
      };
      tick();
    });
    const measured = performance.now() - start - warmMs;
    // The last updates arrive (bounded: a node far behind shows as missing samples, reported).
    const deadline = performance.now() + 30_000;
    while (arrivals.some((a) => a.size < sent) && performance.now() < deadline) await sleep(20);
    if (failure) throw failure;
    const latency = arrivals.map((a) => {
      const xs: number[] = [];
      for (let i = first; i < last; i++) {
        const at = a.get(i);
        if (at !== undefined) xs.push(at - (sentAt.get(i) as number));
      }
      return xs.sort((x, y) => x - y);
    });
    const lag: number[] = [];
    if (arrivals.length > 1) {
      for (let i = first; i < last; i++) {
        const a = arrivals[0]?.get(i);
        const b = arrivals[1]?.get(i);
        if (a !== undefined && b !== undefined) lag.push(b - a);
      }
    }
    return { latency, lag: lag.sort((x, y) => x - y), sent: last - first, rate: ((last - first) * 1000) / measured };
  } finally {
    await Promise.all([...subs, pub].map(end));
  }
}

export interface CatchUp {
  /** Node n2 restarted -> it holds the last update, ms. */
  nodeMs: number;
  /** The daemon restarted -> it holds the last update, ms. */
  daemonMs: number;
  ingestMs: number;
  /** Live keys of n1 and of n2 after the catch-up (must be equal). */
  live: [number, number];
  /** How the daemon's last sync started (status sync.last: resume or snapshot). */
  daemonSync: string;
}

const MARKER = 'catchup/last';

/** Time from calling `start` until `has` holds (polled every 50 ms, bounded). */
async function timed(start: () => Promise<void>, has: () => Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await start();
  await until(has, { timeoutMs, intervalMs: 50, what });
  return performance.now() - t0;
}

/**
 * Two nodes and a daemon following `#` on n1. n2 and the daemon stop; `n` updates (puts of 100 on
 * up to 100,000 keys, then one last marker put) go into n1; then n2 and the daemon restart, one
 * after the other (`nodeFirst` says which first), each timed until it holds the marker.
 */
export async function catchUp(cluster: Cluster, n: number, nodeFirst: boolean): Promise<CatchUp> {
  const [n1, n2] = cluster.nodes as [NodeKid, NodeKid];
  let d = await startDaemon('catcher', n1.url, ['#']);
  const dataDir = d.dataDir;
  try {
    await until(async () => syncOf(await statusOf(d.http)).backlog === 0, { timeoutMs: 60_000, what: 'the daemon synced once' });
    await n2.halt();
    await d.kid.stop();
    const pub = await connectMqtt(n1.url, 'bench-backlog');
    const t0 = performance.now();
    try {
      await publishPuts(pub, `hamsync/${NS}/put/bulk`, Math.ceil(n / 100), (i) => {
        const u: string[] = [];
        for (let j = 0; j < 100; j++) {
          const k = i * 100 + j;
          u.push(`{"k":"bk/${k % 100_000}","v":${k},"s":${STATE_BASE + k}}`);
        }
        return `{"src":"bulk","u":[${u.join(',')}]}`;
      }, 8, 3_600_000);
      await pub.publishAsync(`hamsync/${NS}/put/bulk`, `{"src":"bulk","u":[{"k":"${MARKER}","v":"end","s":${STATE_BASE + n + 1}}]}`, { qos: 1 });
    } finally {
      await end(pub);
    }
    const ingestMs = performance.now() - t0;
    /** A catch-up slower than 1,000 updates/s (plus two minutes) counts as stuck. */
    const limit = 120_000 + n;
    const node = (): Promise<number> => timed(() => n2.restart(), async () => (await n2.get(MARKER))?.v === 'end', 'the restarted node to hold the last update', limit);
    const daemon = (): Promise<number> =>
      timed(
        async () => {
          d = await startDaemon('catcher', n1.url, ['#'], dataDir);
        },
        async () => (await statusOf(d.http)).live > 0 && (await fetchKey(d.http, MARKER)) === 'end',
        'the restarted daemon to hold the last update',
        limit,
      );
    let nodeMs: number;
    let daemonMs: number;
    if (nodeFirst) {
      nodeMs = await node();
      daemonMs = await daemon();
    } else {
      daemonMs = await daemon();
      nodeMs = await node();
    }
    const count = (): Promise<number[]> => Promise.all([n1, n2].map(async (x) => ((await api(x.http, 'GET', '/v1/status')).body as { live: number }).live));
    let live = await count();
    // Unequal: asked again for up to 10 s, so a count read mid-commit is told from a key n2 lacks.
    await poll(async () => (live = await count())[0] === live[1], { timeoutMs: 10_000, intervalMs: 500 });
    const daemonSync = syncOf(await statusOf(d.http)).last ?? '?';
    return { nodeMs, daemonMs, ingestMs, live: live as [number, number], daemonSync };
  } finally {
    d.kid.dirs.push(dataDir);
    await d.kid.stop();
  }
}

async function fetchKey(http: string, key: string): Promise<unknown> {
  const res = await api(http, 'GET', `/v1/keys/${encodeURIComponent(key)}`);
  return res.status === 200 ? (res.body as { v: unknown }).v : undefined;
}
