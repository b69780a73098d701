/**
 * The `cluster` section of `npm run bench` (issue 12): hub nodes sharing one private redis-server,
 * each in its own child process, fresh per run; `benchRuns()` runs of everything, alternating.
 *
 *  - Hub updates/s (devices spread over the nodes, 100 updates per put) and put -> state p50/p99
 *    (paced one-update puts into n1, the state observed on the last node) with 1, 2 and 3 nodes,
 *    against a plain broker (no --cluster) in the same alternation. On a 2-vCPU machine every node
 *    applies every update on the same two cores: this shows the cluster's overhead, not its scaling.
 *  - Replication lag n1 -> n2 at a fixed 2,000 updates/s: per update, its state message on n2
 *    minus on n1 (p50/p99), with n1's own put -> state in the same runs as the reference.
 *  - Catch-up: n2 (and a daemon following # on n1, the in-run baseline) stopped while
 *    HAMSYNC_BENCH_CLUSTER_CATCHUP updates (default 1,000,000) go into n1; restarted, the time
 *    until each holds the last one; updates/s. The two restart in turns, the order alternating.
 *
 * Standalone: `node dist/test/bench/cluster.js` prints the rows.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasTool } from '../helpers/tools.js';
import { Cluster, type NodeKid } from './cluster-procs.js';
import { catchUp, paced, throughput, type CatchUp, type Paced, type Throughput } from './cluster-load.js';
import { benchRuns, median, minMax, spread, type SectionRow } from './stats.js';

export const CLUSTER_SECTION = 'cluster: hub nodes on one Redis, each node a child process (median (min–max) of alternating runs)';

const DEVICES = 6;
const PER_PUT = 100;
const WINDOW = 4;
const WARM_MS = 1_000;
const MEASURE_MS = 3_000;
const LAT_RATE = 1_000;
const LAG_RATE = 2_000;
const LAG_PER_PUT = 10;
const PACE_WARM_MS = 2_000;
const PACE_MS = 5_000;
/** Cluster sizes; 0 is the plain broker (no --cluster, no Redis): the baseline. */
const SIZES = [0, 1, 2, 3] as const;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms2 = (n: number): string => n.toFixed(2);
const x2 = (n: number): string => n.toFixed(2);

function catchUpSize(): number {
  const text = process.env.HAMSYNC_BENCH_CLUSTER_CATCHUP ?? '';
  if (text === '') return 1_000_000;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 100) throw new Error(`HAMSYNC_BENCH_CLUSTER_CATCHUP must be a whole number of updates, at least 100, got ${JSON.stringify(text)}`);
  return n;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function alternate<T>(kinds: readonly T[], run: number): T[] {
  return run % 2 === 0 ? [...kinds] : [...kinds].reverse();
}

const label = (size: number): string => (size === 0 ? 'plain broker (no --cluster)' : `cluster, ${size} node${size === 1 ? '' : 's'}`);

interface SizeRun {
  tp: Throughput;
  lat: Paced;
}

async function sizeRun(size: number): Promise<SizeRun> {
  const cluster = await Cluster.start(size);
  try {
    const first = cluster.nodes[0] as NodeKid;
    const last = cluster.nodes.at(-1) as NodeKid;
    const lat = await paced(first, [last], LAT_RATE, 1, PACE_WARM_MS, PACE_MS);
    const tp = await throughput(cluster, DEVICES, PER_PUT, WINDOW, WARM_MS, MEASURE_MS);
    return { tp, lat };
  } finally {
    await cluster.stop();
  }
}

async function lagRun(): Promise<Paced> {
  const cluster = await Cluster.start(2);
  try {
    const [n1, n2] = cluster.nodes as [NodeKid, NodeKid];
    const r = await paced(n1, [n1, n2], LAG_RATE, LAG_PER_PUT, PACE_WARM_MS, PACE_MS);
    if (r.lag.length < r.sent / 2) throw new Error(`n2 showed only ${r.lag.length} of ${r.sent} updates put into n1 within 30 s of the end: no replication?`);
    return r;
  } finally {
    await cluster.stop();
  }
}

/** One catch-up run; the nodes keep 2N change log entries, so the daemon resumes from its position (no snapshot). */
export async function catchUpRun(n: number, nodeFirst: boolean): Promise<CatchUp> {
  const cluster = await Cluster.start(2, ['--sync-log-max', String(2 * n + 10_000)]);
  try {
    return await catchUp(cluster, n, nodeFirst);
  } finally {
    await cluster.stop();
  }
}

export async function benchCluster(): Promise<{ rows: SectionRow[]; notes: string[]; skipped?: string }> {
  const section = CLUSTER_SECTION;
  if (!hasTool('redis-server')) return { rows: [], notes: [], skipped: 'cluster: skipped, redis-server is not installed (apt-get install redis-server)' };
  const runs = benchRuns();
  const rows: SectionRow[] = [];

  // Updates/s and put -> state by cluster size, the plain broker in the same alternation.
  const got = new Map<number, SizeRun[]>(SIZES.map((s) => [s, []]));
  for (let run = 0; run < runs; run++) for (const size of alternate(SIZES, run)) got.get(size)?.push(await sizeRun(size));
  const plain = got.get(0) as SizeRun[];
  for (const size of SIZES) {
    const r = got.get(size) as SizeRun[];
    const ups = r.map((x) => x.tp.updatesPerSec);
    const ratio = r.map((x, i) => x.tp.updatesPerSec / (plain[i] as SizeRun).tp.updatesPerSec);
    rows.push({ section, what: `${label(size)}: updates/s, ${PER_PUT} updates/put, ${DEVICES} devices over the nodes`, rate: `${fmt(median(ups))} updates/s`, vs: size === 0 ? `(${minMax(ups, fmt)}); the baseline` : `(${minMax(ups, fmt)}); ${x2(median(ups) / median(plain.map((x) => x.tp.updatesPerSec)))}x plain, per run ${minMax(ratio, x2)}` });
  }
  for (const size of SIZES) {
    const r = got.get(size) as SizeRun[];
    const where = size <= 1 ? 'the same node' : `n${size}`;
    for (const p of [50, 99] as const) {
      const xs = r.map((x) => percentile(x.lat.latency[0] as number[], p));
      const base = plain.map((x) => percentile(x.lat.latency[0] as number[], p));
      rows.push({ section, what: `${label(size)}: put into n1 -> state on ${where} p${p} @ ${fmt(LAT_RATE)} updates/s`, rate: `${ms2(median(xs))} ms`, vs: `(${minMax(xs, ms2)})${size === 0 ? '' : `; plain broker ${ms2(median(base))} ms`}; ${fmt(median(r.map((x) => x.lat.latency[0]?.length ?? 0)))} of ${fmt(median(r.map((x) => x.lat.sent)))} timed per run` });
    }
  }

  // Replication lag n1 -> n2 at a fixed rate (a failure is a row: the other parts still report).
  const lag: Paced[] = [];
  try {
    for (let run = 0; run < runs; run++) lag.push(await lagRun());
  } catch (err) {
    rows.push({ section, what: 'replication lag n1 -> n2', rate: 'FAILED', vs: (err as Error).message.slice(0, 300) });
  }
  for (const p of lag.length > 0 ? ([50, 99] as const) : []) {
    const xs = lag.map((x) => percentile(x.lag, p));
    const local = lag.map((x) => percentile(x.latency[0] as number[], p));
    rows.push({ section, what: `replication lag n1 -> n2 p${p} @ ${fmt(LAG_RATE)} updates/s (puts of ${LAG_PER_PUT})`, rate: `${ms2(median(xs))} ms`, vs: `(${minMax(xs, ms2)}); n1's own put -> state p${p} ${spread(local, ms2)} ms; achieved ${fmt(median(lag.map((x) => x.rate)))} updates/s, ${fmt(median(lag.map((x) => x.lag.length)))} of ${fmt(median(lag.map((x) => x.sent)))} seen on both` });
  }

  // Catch-up of a node that was down, against a daemon catching up the same backlog.
  const n = catchUpSize();
  const c: CatchUp[] = [];
  try {
    for (let run = 0; run < runs; run++) c.push(await catchUpRun(n, run % 2 === 0));
  } catch (err) {
    rows.push({ section, what: `catch-up of a node down for ${fmt(n)} updates`, rate: 'FAILED', vs: (err as Error).message.slice(0, 300) });
  }
  if (c.length > 0) pushCatchUp(rows, c, n);
  return { rows, notes: notes(runs, n) };
}

function pushCatchUp(rows: SectionRow[], c: CatchUp[], n: number): void {
  const section = CLUSTER_SECTION;
  const nodeRate = c.map((x) => (n * 1000) / x.nodeMs);
  const daemonRate = c.map((x) => (n * 1000) / x.daemonMs);
  const mismatched = c.filter((x) => x.live[0] !== x.live[1]).length;
  rows.push({
    section,
    what: `catch-up of a node down for ${fmt(n)} updates (restart -> holds the last)`,
    rate: `${fmt(median(nodeRate))} updates/s`,
    vs: `(${minMax(nodeRate, fmt)}); ${spread(c.map((x) => x.nodeMs / 1000), (s) => s.toFixed(1))} s; ${x2(median(nodeRate) / median(daemonRate))}x the daemon's` + (mismatched > 0 ? `; WARNING: in ${mismatched} run(s) n2's live key count differed from n1's` : '; live key counts equal'),
  });
  rows.push({ section, what: `baseline: a daemon following # catching up the same backlog from n1`, rate: `${fmt(median(daemonRate))} updates/s`, vs: `(${minMax(daemonRate, fmt)}); ingest into n1 took ${spread(c.map((x) => x.ingestMs / 1000), (s) => s.toFixed(1))} s; the daemon's sync: ${[...new Set(c.map((x) => x.daemonSync))].join(', ')}` });
}

function notes(runs: number, n: number): string[] {
  return [
    `cluster: on this machine (2 vCPUs, shared with other work while measured) every node applies every update on the same two cores, with Redis and the clients: these figures show the cluster's overhead, not its scaling.`,
    `cluster: each run starts a private redis-server (appendonly, fsync every second) and fresh nodes (\`hamsync broker --cluster … --node-id nN --rate-limit 0\`, temp data dirs); the plain broker runs without --cluster and Redis. ${runs} runs of each size, alternating (order reversed every other run); medians, (min–max) the spread. ` +
      `Updates/s: ${DEVICES} mqtt.js devices in the bench process, round-robin over the nodes, window ${WINDOW}, ${WARM_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured, counted at PUBACK (the accepting node durable; replication to the others continues after). ` +
      `put -> state: one-update puts paced at ${fmt(LAT_RATE)}/s into n1, a subscriber on the last node's state topics (the same node for 1 node and the plain broker), ${PACE_WARM_MS / 1000} s warm-up + ${PACE_MS / 1000} s timed; measured before the throughput window of the same run.`,
    `cluster lag: puts of ${LAG_PER_PUT} paced at ${fmt(LAG_RATE)} updates/s into n1 of 2 nodes, subscribers on both; per update, the arrival of its state message from n2 minus from n1 (both in the bench process). ` +
      `Catch-up: ${fmt(n)} updates in puts of 100 on up to 100,000 keys into n1 while n2 and the daemon were stopped (SIGTERM), then a last marker put; each restarted in turn (order alternating per run) and timed from spawn until it holds the marker (HAMSYNC_BENCH_CLUSTER_CATCHUP to change N). The nodes run with --sync-log-max 2N + 10,000 so that the daemon resumes from its position instead of taking a snapshot of the live keys.`,
  ];
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain && process.env.NODE_TEST_CONTEXT !== undefined) {
  console.log('bench: skipped under node --test; run `node dist/test/bench/cluster.js`');
} else if (isMain) {
  const started = Date.now();
  benchCluster().then(
    ({ rows, notes, skipped }) => {
      if (skipped) console.log(skipped);
      const w = [Math.max(0, ...rows.map((r) => r.what.length)), Math.max(0, ...rows.map((r) => r.rate.length))];
      for (const r of rows) console.log(`${r.what.padEnd(w[0] as number)}  ${r.rate.padStart(w[1] as number)}  ${r.vs}`);
      for (const note of notes) console.log(`- ${note}`);
      console.log(`- node ${process.version}, ${(Date.now() - started) / 1000} s total`);
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
