/**
 * `npm run bench`: resolver decisions/s (hamsync vs GUN's HAM), replica ingest updates/s
 * (vs a raw lmdb-js loop writing the same rows), the MQTT hub vs plain Aedes (throughput, latency),
 * replay vs a raw range scan, the sync v2 fleet (1,000 devices, 20 followers, a backlog catch-up;
 * fleet.ts), v2 against a protocol v1 build in the same run (protocol.ts; needs HAMSYNC_BENCH_V1),
 * and peak RSS, printed as one table. HAMSYNC_BENCH_ONLY=<section>[,<section>…] runs only those
 * sections (resolver, ingest, mqtt, replay, fleet, protocol, pi, verify, cluster); see docs/bench.md.
 *
 * A script, not a test. `node --test dist/test/` also picks up this file: it then exits at once.
 * Sizes scale with BENCH_SCALE (default 1; e.g. 0.1 for a smoke run).
 */
import { benchResolver } from './resolver-section.js';
import { benchIngest } from './ingest-section.js';
import { benchBroker } from './broker-section.js';
import { benchReplay } from './replay.js';
import { benchFleet } from './fleet.js';
import { benchProtocol, PROTOCOL_SECTION } from './protocol.js';
import { benchPi, PI_SECTION } from './pi.js';
import { benchVerify } from './verify.js';
import { benchCluster, CLUSTER_SECTION } from './cluster.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;

const SECTIONS = ['resolver', 'ingest', 'mqtt', 'replay', 'fleet', 'protocol', 'pi', 'verify', 'cluster'] as const;

/** The sections HAMSYNC_BENCH_ONLY names (all when unset); an unknown name is an error naming it. */
function selected(): Set<string> {
  const text = process.env.HAMSYNC_BENCH_ONLY ?? '';
  const names = text.split(',').map((x) => x.trim()).filter((x) => x !== '');
  for (const name of names) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`HAMSYNC_BENCH_ONLY: unknown section ${JSON.stringify(name)}; sections: ${SECTIONS.join(', ')}`);
  }
  return new Set(names.length > 0 ? names : SECTIONS);
}

interface Row {
  section: string;
  what: string;
  rate: string;
  vs: string;
}

async function main(): Promise<void> {
  const started = Date.now();
  const rows: Row[] = [];
  const notes: string[] = [];
  const want = selected();
  if (want.has('ingest')) await benchIngest(SCALE, rows, notes);
  const rssAfterIngest = process.resourceUsage().maxRSS;
  if (want.has('resolver')) benchResolver(SCALE, rows, notes);

  // (d) MQTT: the hub vs plain Aedes (brokers in child processes), and put -> state latency.
  if (want.has('mqtt')) {
    for (const r of await benchBroker(notes)) {
      const value = r.unit === 'x' ? r.value.toFixed(2) : r.unit === 'ms' ? r.value.toFixed(2) : fmt(r.value);
      rows.push({ section: 'mqtt: hub vs plain Aedes', what: r.name, rate: `${value} ${r.unit}`, vs: r.note ?? '' });
    }
  }

  // (e) Replay of stored telemetry, vs a raw range scan of the same rows.
  if (want.has('replay')) {
    gc();
    for (const r of await benchReplay(Math.round(1_000_000 * SCALE))) rows.push({ section: 'replay (rows/s)', what: r.what, rate: r.rate, vs: r.vs });
  }

  // (f) Fleet: sync v2 with 1,000 devices and 20 following daemons, and a backlog catch-up (child processes).
  if (want.has('fleet')) {
    const fleet = await benchFleet();
    for (const r of fleet.rows) rows.push({ section: 'fleet: sync v2 vs plain Aedes (v1 baseline: see the protocol section)', what: r.what, rate: r.rate, vs: r.vs });
    notes.push(...fleet.notes);
  }

  // (g) Protocol: v2 against a v1 build, alternating runs (child processes).
  if (want.has('protocol')) {
    const protocol = await benchProtocol();
    if (protocol.skipped !== undefined) console.log(protocol.skipped);
    for (const r of protocol.rows) rows.push({ section: PROTOCOL_SECTION, ...r });
    notes.push(...protocol.notes);
  }

  // (h) Pi budget: the daemon over 1 M stored updates, idle RSS and ready time (child processes).
  if (want.has('pi')) {
    const pi = await benchPi();
    for (const r of pi.rows) rows.push({ section: PI_SECTION, ...r });
    notes.push(...pi.notes);
  }

  // (h) Signed puts: Ed25519 verification against the native floor, old and new pool, and through the hub (verify.ts).
  if (want.has('verify')) for (const r of await benchVerify()) rows.push({ section: 'verify: signed puts vs crypto.verify on one thread (median of 3)', ...r });

  // (i) Cluster: hub nodes on one Redis, 1-3 nodes vs a plain broker; replication lag; catch-up (cluster.ts).
  if (want.has('cluster')) {
    const cluster = await benchCluster();
    if (cluster.skipped !== undefined) console.log(cluster.skipped);
    for (const r of cluster.rows) rows.push({ ...r, section: CLUSTER_SECTION });
    notes.push(...cluster.notes);
  }

  // (c) Memory.
  if (want.has('ingest')) rows.push({ section: 'memory', what: 'peak RSS after the ingest runs (run first)', rate: mib(rssAfterIngest), vs: 'process.resourceUsage().maxRSS' });
  rows.push({ section: 'memory', what: 'peak RSS, whole run', rate: mib(process.resourceUsage().maxRSS), vs: want.has('resolver') ? 'incl. resolver vectors held in memory' : 'process.resourceUsage().maxRSS' });

  // Print in the order (a) resolver, (b) ingest, (c) memory, whatever order they ran in.
  const order = ['resolver', 'ingest', 'mqtt', 'replay', 'fleet', 'protocol', 'pi', 'verify', 'cluster', 'memory'];
  const rank = (text: string): number => {
    const i = text.startsWith('WARNING') ? 0 : order.findIndex((o) => text.startsWith(o));
    return i < 0 ? 1 : i;
  };
  if (rows.length > 0) printTable(rows.sort((x, y) => rank(x.section) - rank(y.section)));
  for (const n of notes.sort((x, y) => rank(x) - rank(y))) console.log(`- ${n}`);
  console.log(`- node ${process.version}, ${(Date.now() - started) / 1000} s total`);
}

function printTable(rows: Row[]): void {
  const w = [Math.max(...rows.map((r) => r.what.length)), Math.max(...rows.map((r) => r.rate.length)), Math.max(...rows.map((r) => r.vs.length))];
  const line = `+${'-'.repeat((w[0] as number) + 2)}+${'-'.repeat((w[1] as number) + 2)}+${'-'.repeat((w[2] as number) + 2)}+`;
  let section = '';
  console.log('');
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      console.log(line);
      console.log(`| ${section.padEnd(line.length - 4)} |`);
      console.log(line);
    }
    console.log(`| ${r.what.padEnd(w[0] as number)} | ${r.rate.padStart(w[1] as number)} | ${r.vs.padEnd(w[2] as number)} |`);
  }
  console.log(line);
}

if (process.env.NODE_TEST_CONTEXT !== undefined) {
  console.log('bench: skipped under node --test; run `npm run bench`');
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
