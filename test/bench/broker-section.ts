/**
 * The `mqtt` section of `npm run bench`: the hub against plain Aedes, run after run alternating
 * (the order reversed every other run), `benchRuns()` runs of each kind with equal warm-up and
 * measured windows; every row is the median with the spread (min–max) of the runs.
 *
 *  - throughput at 1 and 100 updates/msg (broker.ts `throughput`), with the broker child's CPU per
 *    message split by thread (main = the event loop; LMDB's writer; V8's and libuv's pools) and the
 *    bytes it wrote to storage per update (/proc/<pid>/io write_bytes; also data.mdb's size);
 *  - put -> state p50/p99 at 2,000 updates/s with, in the same alternation, plain Aedes' put ->
 *    subscriber and the PUBACK floor (raw lmdb-js put -> flushed, broker-latency.ts).
 *
 * Standalone: `node dist/test/bench/broker-section.js` prints the rows.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEVICES, MEASURE_MS, SCRAPE_MS, throughput, WARM_MS, WINDOW, type Kind, type Row, type Throughput } from './broker.js';
import { latency, LATENCY_RATE, pubackFloor, type Latency } from './broker-latency.js';
import { benchRuns, median, minMax } from './stats.js';

const LATENCY_MS = 5_000;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const r2 = (n: number): number => Math.round(n * 100) / 100;
const x2 = (n: number): string => n.toFixed(2);
const ms2 = (n: number): string => n.toFixed(2);

/** Run `r` takes the kinds in order, run `r + 1` in reverse: each kind is as often early as late. */
function alternate<T>(kinds: readonly T[], run: number): T[] {
  return run % 2 === 0 ? [...kinds] : [...kinds].reverse();
}

/** Median µs/msg per thread role over the runs (proc-usage.ts), with the most threads a role had. */
function threads(runs: Throughput[]): string {
  const roles = new Set(runs.flatMap((t) => t.threadUsPerMsg.map(([role]) => role)));
  const med = [...roles].map((role) => {
    const of = runs.map((t) => t.threadUsPerMsg.find(([r]) => r === role));
    return { role, us: median(of.map((x) => x?.[1] ?? 0)), n: Math.max(...of.map((x) => x?.[2] ?? 0)) };
  });
  return med
    .sort((a, b) => b.us - a.us)
    .map((x) => `${x.role}${x.role === 'main' ? '' : ` (${x.n} thr.)`} ${x.us.toFixed(1)}`)
    .join(', ') + ' µs/msg';
}

async function throughputRows(perMessage: 1 | 100, runs: number, rows: Row[]): Promise<void> {
  const kinds: Kind[] = perMessage === 100 ? ['aedes', 'hub', 'hub-scraped', 'hub-signed'] : ['aedes', 'hub', 'hub-scraped'];
  const got: Record<Kind, Throughput[]> = { hub: [], aedes: [], 'hub-signed': [], 'hub-scraped': [] };
  for (let run = 0; run < runs; run++) for (const kind of alternate(kinds, run)) got[kind].push(await throughput(kind, perMessage));
  const unit = perMessage === 1 ? 'msgs/s' : 'updates/s';
  const value = (t: Throughput): number => (perMessage === 1 ? t.msgsPerSec : t.updatesPerSec);
  const label = `${perMessage} update${perMessage === 1 ? '' : 's'}/msg`;
  const med = (kind: Kind): number => median(got[kind].map(value));
  const detail = (kind: Kind): string => {
    const t = got[kind];
    return (
      `(${minMax(t.map(value), fmt)}); broker CPU ${fmt(median(t.map((x) => x.brokerCpu)))}% (${fmt(median(t.map((x) => x.brokerUsPerMsg)))} µs/msg), clients CPU ${fmt(median(t.map((x) => x.clientCpu)))}%` +
      (perMessage === 1 ? '' : `; ${fmt(median(t.map((x) => x.msgsPerSec)))} msgs/s`)
    );
  };
  const ratio = (a: Kind, b: Kind): number[] => got[a].map((t, i) => value(t) / value(got[b][i] as Throughput));
  rows.push({ name: `plain Aedes, ${DEVICES} clients, QoS 1, ${label}`, value: med('aedes'), unit, note: detail('aedes') });
  rows.push({ name: `hub (HAM + LMDB before PUBACK), ${label}`, value: med('hub'), unit, note: detail('hub') });
  const hubVsAedes = med('hub') / med('aedes');
  rows.push({
    name: `hub / plain Aedes, ${label}`,
    value: r2(hubVsAedes),
    unit: 'x',
    note:
      `per run ${minMax(ratio('hub', 'aedes'), x2)}; ` +
      (perMessage === 1
        ? `aim >= 0.7x (stretch 0.9x): ${hubVsAedes >= 0.9 ? 'stretch met' : hubVsAedes >= 0.7 ? 'met' : 'MISSED'}`
        : `hub aim >= 120,000 updates/s: ${med('hub') >= 120_000 ? 'met' : 'MISSED'}`),
  });
  for (const kind of ['aedes', 'hub'] as const) {
    const t = got[kind];
    rows.push({ name: `${kind === 'hub' ? 'hub' : 'plain Aedes'}: broker CPU per message by thread, ${label}`, value: median(t.map((x) => x.brokerUsPerMsg)), unit: 'µs/msg', note: threads(t) });
  }
  const disk = got.hub.map((t) => t.diskBytesPerUpdate);
  rows.push({
    name: `hub: disk written per update, ${label}`,
    value: median(disk),
    unit: 'B',
    note:
      `(${minMax(disk, fmt)}) /proc/<pid>/io write_bytes over the window; data.mdb size per update ${fmt(median(got.hub.map((t) => t.fileBytesPerUpdate)))} B; ` +
      `plain Aedes ${fmt(median(got.aedes.map((t) => t.diskBytesPerUpdate)))} B` +
      (perMessage === 100 ? `; aim <= 1,500 B: ${median(disk) <= 1500 ? 'met' : 'MISSED'}` : ''),
  });
  rows.push({ name: `hub, /metrics scraped every ${SCRAPE_MS / 1000} s (admin API on), ${label}`, value: med('hub-scraped'), unit, note: detail('hub-scraped') });
  rows.push({ name: `hub scraped / hub, ${label}`, value: r2(med('hub-scraped') / med('hub')), unit: 'x', note: `per run ${minMax(ratio('hub-scraped', 'hub'), x2)}; what metrics cost the hub` });
  if (got['hub-signed'].length > 0) {
    rows.push({ name: `hub, signed puts (Ed25519 verified before HAM), ${label}`, value: med('hub-signed'), unit, note: detail('hub-signed') });
    const perUpdate = (kind: Kind): string => `${fmt(median(got[kind].map((t) => t.brokerUsPerMsg)) / perMessage)} µs`;
    rows.push({ name: `hub signed / hub unsigned, ${label}`, value: r2(med('hub-signed') / med('hub')), unit: 'x', note: `per run ${minMax(ratio('hub-signed', 'hub'), x2)}; broker CPU per update: ${perUpdate('hub-signed')} signed, ${perUpdate('hub')} unsigned` });
  }
}

async function latencyRows(runs: number, rows: Row[]): Promise<void> {
  const got = { hub: [] as Latency[], aedes: [] as Latency[], floor: [] as { p50: number; p99: number }[] };
  for (let run = 0; run < runs; run++) {
    for (const kind of alternate(['hub', 'aedes', 'floor'] as const, run)) {
      if (kind === 'floor') got.floor.push(await pubackFloor(LATENCY_MS));
      else got[kind].push(await latency(kind, LATENCY_MS));
    }
  }
  const rate = `@ ${fmt(LATENCY_RATE)} updates/s`;
  const p = (xs: { p50: number; p99: number }[], which: 'p50' | 'p99'): number[] => xs.map((x) => x[which]);
  const note = (xs: number[], l?: Latency[]): string =>
    `(${minMax(xs, ms2)})` + (l ? `; ${fmt(median(l.map((x) => x.received)))} timed per run at ${fmt(median(l.map((x) => x.rate)))}/s; PUBACK p99 ${ms2(median(l.map((x) => x.ackP99)))} ms` : '');
  const hub99 = p(got.hub, 'p99');
  const gap = got.hub.map((h, i) => h.p99 - (got.floor[i] as { p99: number }).p99);
  const met = median(hub99) < 7 && median(gap) <= 2;
  rows.push({ name: `hub: put -> state topic p50 ${rate}`, value: r2(median(p(got.hub, 'p50'))), unit: 'ms', note: note(p(got.hub, 'p50'), got.hub) });
  rows.push({ name: `hub: put -> state topic p99 ${rate}`, value: r2(median(hub99)), unit: 'ms', note: `${note(hub99)}; hub p99 - PUBACK floor p99, per run: ${minMax(gap, ms2)} ms; aim < 7 ms and within 2 ms of the floor: ${met ? 'met' : 'MISSED'}` });
  rows.push({ name: `plain Aedes: put -> subscriber p50 ${rate}`, value: r2(median(p(got.aedes, 'p50'))), unit: 'ms', note: note(p(got.aedes, 'p50'), got.aedes) });
  rows.push({ name: `plain Aedes: put -> subscriber p99 ${rate}`, value: r2(median(p(got.aedes, 'p99'))), unit: 'ms', note: `${note(p(got.aedes, 'p99'))}; reference: forwarded put, no hub` });
  const floor = `PUBACK floor: raw lmdb-js put -> flushed ${rate}`;
  rows.push({ name: `${floor}, p50`, value: r2(median(p(got.floor, 'p50'))), unit: 'ms', note: `${note(p(got.floor, 'p50'))}; no hamsync code: the hub cannot PUBACK (nor publish state) sooner` });
  rows.push({ name: `${floor}, p99`, value: r2(median(p(got.floor, 'p99'))), unit: 'ms', note: note(p(got.floor, 'p99')) });
}

/** Runs the whole broker benchmark (a few minutes) and returns its rows; the arrangement goes to `notes`. */
export async function benchBroker(notes: string[] = []): Promise<Row[]> {
  const runs = benchRuns();
  const rows: Row[] = [];
  await throughputRows(1, runs, rows);
  await throughputRows(100, runs, rows);
  await latencyRows(runs, rows);
  notes.push(
    `mqtt: each broker alone in a child process (fresh per run, fresh temp LMDB dir for the hub); ${DEVICES} mqtt.js clients in the parent, TCP_NODELAY both ends; ` +
      `window ${WINDOW[1]} msgs/client at 1 update/msg, ${WINDOW[100]} at 100; ${WARM_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured per run, every kind; ` +
      `${runs} runs of each kind, alternating (order reversed every other run); values are medians, (min–max) the spread. ` +
      `Latency: one-update puts paced at ${fmt(LATENCY_RATE)}/s, 2 s warm-up + ${LATENCY_MS / 1000} s timed, hub / plain Aedes / PUBACK floor alternating (floor: ${LATENCY_MS / 1000} s, in the bench process). ` +
      `CPU per thread: utime + stime of /proc/<pid>/task/*/stat over the measured window; Node 20 names no thread, so by role: main (the event loop), storage writers (threads whose own task io write_bytes grew: LMDB's commits and fsyncs), other (V8 and libuv pools). Disk: /proc/<pid>/io write_bytes over the measured window. ` +
      `The machine is shared (2 vCPUs, other work running): read hub figures against the plain Aedes and floor figures of the same run.`,
  );
  return rows;
}

export function formatRows(rows: Row[]): string {
  const value = (r: Row): string => (r.unit === 'x' || r.unit === 'ms' ? String(r.value) : fmt(r.value));
  const w = [Math.max(...rows.map((r) => r.name.length)), Math.max(...rows.map((r) => value(r).length)), Math.max(...rows.map((r) => r.unit.length))] as const;
  return rows.map((r) => `${r.name.padEnd(w[0])}  ${value(r).padStart(w[1])} ${r.unit.padEnd(w[2])}  ${r.note ?? ''}`.trimEnd()).join('\n');
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain && process.env.NODE_TEST_CONTEXT !== undefined) {
  console.log('bench: skipped under node --test; run `node dist/test/bench/broker-section.js`');
} else if (isMain) {
  const started = Date.now();
  const notes: string[] = [];
  benchBroker(notes).then(
    (rows) => {
      console.log(formatRows(rows));
      for (const n of notes) console.log(`- ${n}`);
      console.log(`- node ${process.version}, ${(Date.now() - started) / 1000} s total`);
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
