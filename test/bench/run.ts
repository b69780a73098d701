/**
 * `npm run bench`: resolver decisions/s (hamsync vs GUN's HAM), replica ingest updates/s
 * (vs raw lmdb-js puts of the same records), the MQTT hub vs plain Aedes (throughput, latency),
 * replay vs a raw range scan, the sync v2 fleet (1,000 devices, 20 followers, a backlog catch-up;
 * fleet.ts), v2 against a protocol v1 build in the same run (protocol.ts; needs HAMSYNC_BENCH_V1),
 * and peak RSS, printed as one table. HAMSYNC_BENCH_ONLY=<section>[,<section>…] runs only those
 * sections (resolver, ingest, mqtt, replay, fleet, protocol); see docs/bench.md.
 *
 * A script, not a test. `node --test dist/test/` also picks up this file: it then exits at once.
 * Sizes scale with BENCH_SCALE (default 1; e.g. 0.1 for a smoke run).
 */
import { disagreements, loadGun, makeVectors, measure, runGun, runHam, runHamCanonical } from './resolver.js';
import { benchBroker } from './broker.js';
import { benchReplay } from './replay.js';
import { benchFleet } from './fleet.js';
import { benchProtocol, PROTOCOL_SECTION } from './protocol.js';
import { benchVerify } from './verify.js';
import { median } from './stats.js';
import { COMMITS_IN_FLIGHT, makeRecords, rawPipelined, rawNewRows, rawStrict, replicaPipelined, replicaStrict, UPDATES_PER_COMMIT_WAIT } from './ingest.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const VECTORS = Math.round(250_000 * SCALE);
const RESOLVER_REPS = 7;
const INGEST: { batch: number; updates: number }[] = [
  { batch: 1, updates: Math.round(20_000 * SCALE) },
  { batch: 100, updates: Math.round(100_000 * SCALE) },
  { batch: 1000, updates: Math.round(100_000 * SCALE) },
];
const ROWS_UPDATES = Math.round(100_000 * SCALE);
const STRICT_UPDATES = Math.round(2_000 * SCALE);
const INGEST_REPS = 3;

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;

const SECTIONS = ['resolver', 'ingest', 'mqtt', 'replay', 'fleet', 'protocol', 'verify'] as const;

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
  if (want.has('ingest')) await benchIngest(rows, notes);
  const rssAfterIngest = process.resourceUsage().maxRSS;
  if (want.has('resolver')) benchResolver(rows, notes);

  // (d) MQTT: the hub vs plain Aedes (brokers in child processes), and put -> state latency.
  if (want.has('mqtt')) {
    for (const r of await benchBroker()) {
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

  // (h) Signed puts: Ed25519 verification against the native floor, old and new pool, and through the hub (verify.ts).
  if (want.has('verify')) for (const r of await benchVerify()) rows.push({ section: 'verify: signed puts vs crypto.verify on one thread (median of 3)', ...r });

  // (c) Memory.
  if (want.has('ingest')) rows.push({ section: 'memory', what: 'peak RSS after the ingest runs (run first)', rate: mib(rssAfterIngest), vs: 'process.resourceUsage().maxRSS' });
  rows.push({ section: 'memory', what: 'peak RSS, whole run', rate: mib(process.resourceUsage().maxRSS), vs: want.has('resolver') ? 'incl. resolver vectors held in memory' : 'process.resourceUsage().maxRSS' });

  // Print in the order (a) resolver, (b) ingest, (c) memory, whatever order they ran in.
  const order = ['resolver', 'ingest', 'mqtt', 'replay', 'fleet', 'protocol', 'memory'];
  const rank = (text: string): number => {
    const i = text.startsWith('WARNING') ? 0 : order.findIndex((o) => text.startsWith(o));
    return i < 0 ? 1 : i;
  };
  if (rows.length > 0) printTable(rows.sort((x, y) => rank(x.section) - rank(y.section)));
  for (const n of notes.sort((x, y) => rank(x) - rank(y))) console.log(`- ${n}`);
  console.log(`- node ${process.version}, ${(Date.now() - started) / 1000} s total`);
}

/** (b) Ingest (run first, so the peak RSS after it is not the resolver vectors'). Raw and replica runs alternate (paired), so load drift on a shared machine hits both. */
async function benchIngest(rows: Row[], notes: string[]): Promise<void> {
  const maxUpdates = Math.max(...INGEST.map((c) => c.updates));
  const records = makeRecords(maxUpdates);
  const pairs = INGEST.map(() => ({ raw: [] as number[], replica: [] as number[], ratio: [] as number[] }));
  const rowsRates: number[] = [];
  for (let rep = 0; rep < INGEST_REPS; rep++) {
    for (const [i, c] of INGEST.entries()) {
      const slice = records.slice(0, c.updates);
      gc();
      const raw = await rawPipelined(slice);
      gc();
      const replica = await replicaPipelined(slice, c.batch);
      const pair = pairs[i] as (typeof pairs)[number];
      pair.raw.push(raw.perSecond);
      pair.replica.push(replica.perSecond);
      pair.ratio.push(raw.perSecond / replica.perSecond);
    }
    gc();
    rowsRates.push((await rawNewRows(records.slice(0, ROWS_UPDATES))).perSecond);
  }
  const section = 'ingest, pipelined (updates/s; median of paired runs)';
  for (const [i, c] of INGEST.entries()) {
    const pair = pairs[i] as (typeof pairs)[number];
    rows.push({ section, what: `raw lmdb-js put loop, ${fmt(c.updates)} records`, rate: fmt(median(pair.raw)), vs: '' });
    rows.push({ section, what: `replica, batches of ${c.batch}`, rate: fmt(median(pair.replica)), vs: `raw/replica = ${median(pair.ratio).toFixed(2)} (runs: ${pair.ratio.map((r) => r.toFixed(1)).join(', ')}; aim <= 2)` });
  }
  rows.push({ section, what: `raw put loop, a new row per record, ${fmt(ROWS_UPDATES)}`, rate: fmt(median(rowsRates)), vs: 'diagnostic: keys [key, state, i], no overwrites' });

  // Strict: two halves, alternating raw and replica; rates over the totals.
  const half = Math.floor(STRICT_UPDATES / 2);
  const strictTotals = { raw: 0, replica: 0 };
  for (let h = 0; h < 2; h++) {
    const slice = records.slice(h * half, (h + 1) * half);
    gc();
    strictTotals.raw += (await rawStrict(slice)).seconds;
    gc();
    strictTotals.replica += (await replicaStrict(slice)).seconds;
  }
  const rawS = (2 * half) / strictTotals.raw;
  const repS = (2 * half) / strictTotals.replica;
  const strict = 'ingest, strict: each update durable before the next (updates/s)';
  rows.push({ section: strict, what: 'raw lmdb-js put + await flushed', rate: fmt(rawS), vs: '' });
  rows.push({ section: strict, what: 'replica, batches of 1, await durable', rate: fmt(repS), vs: `raw/replica = ${(rawS / repS).toFixed(2)}` });
  notes.push(
    `ingest workload: 5000 keys (50 devices x 100 metrics), values {u, v}, states increasing with 10% late by up to 10 s; ManualClock past every state (nothing deferred).`,
    `pipelined: receive() every batch without waiting; the \`committed\` of every ${fmt(UPDATES_PER_COMMIT_WAIT)}th update's batch (every ceil(${UPDATES_PER_COMMIT_WAIT}/batch) batches) ` +
      `joins a pipeline of ${COMMITS_IN_FLIGHT} (the oldest is awaited when a 5th arrives), then the last batch's \`durable\` is awaited. ` +
      `Raw: put() per record into one plain named db (key -> record), same pipeline on put()'s promise, then \`flushed\`. ${INGEST_REPS} paired runs, fresh temp dir each.`,
    `strict: ${fmt(2 * Math.floor(STRICT_UPDATES / 2))} updates each, one at a time, each awaited until flushed (put + \`flushed\` / receive([u]) + \`durable\`), in two alternating halves.`,
  );
}

/** (a) Resolver (printed first). Ours first; then GUN is loaded (banner, global patches) and measured on the same vectors, regenerated from the same seed (one mix in memory at a time). */
function benchResolver(rows: Row[], notes: string[]): void {
  const mixes = [
    { label: 'primitives', objects: 0, seed: 42 },
    { label: '30% objects', objects: 0.3, seed: 43 },
  ];
  const ours = mixes.map((m) => {
    gc();
    const v = makeVectors(VECTORS, m.objects, m.seed);
    const outHam = new Uint8Array(v.n);
    const outCanon = new Uint8Array(v.n);
    const hamRate = measure(runHam, v, outHam, RESOLVER_REPS);
    const canonRate = measure(runHamCanonical, v, outCanon, RESOLVER_REPS);
    return { ...m, outHam, outCanon, hamRate, canonRate };
  });
  loadGun();
  let differ = 0;
  for (const o of ours) {
    gc();
    const v = makeVectors(VECTORS, o.objects, o.seed);
    const outGun = new Uint8Array(v.n);
    const gunRate = measure(runGun, v, outGun, RESOLVER_REPS);
    const diff = disagreements(outGun, o.outHam) + disagreements(outGun, o.outCanon);
    differ += diff;
    if (diff > 0) notes.push(`WARNING: ${diff} decisions differ from GUN on the ${o.label} vectors`);
    const section = `resolver, ${o.label} (decisions/s)`;
    rows.push({ section, what: 'GUN HAM (gun@0.2020.1232)', rate: fmt(gunRate), vs: '1.00x' });
    rows.push({ section, what: 'ham (values)', rate: fmt(o.hamRate), vs: `${(o.hamRate / gunRate).toFixed(2)}x GUN` });
    rows.push({ section, what: 'hamCanonical (canonical texts)', rate: fmt(o.canonRate), vs: `${(o.canonRate / gunRate).toFixed(2)}x GUN` });
  }
  notes.push(
    `resolver: ${fmt(VECTORS)} vectors per mix (10% future, 30% equal state, 30% newer, 30% older); argument objects built before timing; ` +
      `median of ${RESOLVER_REPS} passes after a warm-up; decisions identical to GUN's: ${differ === 0 ? 'yes, all' : `NO (${differ} differ)`}.`,
  );
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
