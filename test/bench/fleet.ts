/**
 * Fleet benchmark of sync protocol v2 (`npm run bench`, section "fleet"; or standalone
 * `node dist/test/bench/fleet.js`). Not run by `npm test`.
 *
 *  (a) Fleet: 1,000 simulated devices (mqtt.js clients in a child process, fleet-devices.ts), each
 *      publishing one put of 10 updates per second, plus 20 daemons each following only its own
 *      device's prefix (`dev-<i>/#`, i < 20), each behind a counting TCP proxy; a 3 s warm-up,
 *      then a measured window (default 20 s): hub CPU per update (/proc/<pid>/stat), hub RSS
 *      (peak of 200 ms samples), PUBACK p50/p99, put → interested daemon p50/p99 (the daemon's
 *      history `rx` minus the device's state, which is its send time), bytes per update received
 *      by a daemon. Baseline in the same run: the same devices against a plain Aedes (no hub, no
 *      daemons); the two alternate (FLEET_REPS runs each, default 3) and medians are reported
 *      with the spread of the runs.
 *  (b) Backlog catch-up: a daemon that synced once and stopped; N updates pass (default
 *      1,000,000, HAMSYNC_BENCH_BACKLOG to change it) in puts of 100; restarted, it catches up
 *      (status backlog 0): updates/s, hub peak RSS during the catch-up, daemon peak RSS.
 *
 * No protocol v1 run here: the v1 comparison is the protocol section's (protocol.ts).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CountingProxy } from '../helpers/count-proxy.js';
import { connectMqtt, historyOf, statusOf } from '../helpers/procs.js';
import { percentile, procCpuMs, procStatusKiB, publishPuts, syncOf } from '../helpers/v2.js';
import { sleep, until } from '../helpers/wait.js';
import { Kid, RssSampler, startAedes, startDaemon, startDevices, startHub } from './fleet-procs.js';
import { median } from './stats.js';

export interface FleetRow {
  what: string;
  rate: string;
  vs: string;
}

const DEVICES = Number(process.env.FLEET_DEVICES ?? 1000);
const PER_PUT = 10;
const PUTS_PER_SECOND = 1;
const FOLLOWERS = 20;
const WARM_MS = 3_000;
const MEASURE_MS = Number(process.env.FLEET_MS ?? 20_000);
const REPS = Number(process.env.FLEET_REPS ?? 3);
const BACKLOG = Number(process.env.HAMSYNC_BENCH_BACKLOG ?? 1_000_000);
const BACKLOG_PER_PUT = 100;
const BACKLOG_KEYS = 100_000;

const fmt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const mibOf = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;

function spread(xs: number[], show: (n: number) => string): string {
  return `runs: ${xs.map(show).join(', ')}`;
}

interface FleetRun {
  updates: number;
  cpuUsPerUpdate: number;
  hubPeakRssKiB: number;
  hubPeakAnonKiB: number;
  ackP50: number;
  ackP99: number;
  latP50: number;
  latP99: number;
  latSamples: number;
  bytesPerUpdate: number;
  errors: number;
}

interface Report {
  sent: number;
  acked: number;
  errors: number;
  ackMs: { p50: number; p99: number; max: number };
  windowMs: number;
}

/** One measured window with `broker` ('hub': the hamsync hub and 20 followers; 'aedes': plain Aedes alone). */
async function fleetRun(kind: 'hub' | 'aedes'): Promise<FleetRun> {
  const kids: Kid[] = [];
  const proxies: CountingProxy[] = [];
  try {
    const broker = kind === 'hub' ? await startHub() : await startAedes();
    kids.push(broker.kid);
    const followers: { id: string; http: string }[] = [];
    if (kind === 'hub') {
      for (let i = 0; i < FOLLOWERS; i++) {
        const proxy = new CountingProxy(broker.port);
        await proxy.start(0);
        proxies.push(proxy);
        const d = await startDaemon(`follower-${i}`, proxy.url, [`dev-${i}/#`]);
        d.kid.dirs.push(d.dataDir);
        kids.push(d.kid);
        followers.push({ id: `dev-${i}`, http: d.http });
      }
      for (const f of followers) {
        await until(async () => syncOf(await statusOf(f.http)).mode === 'hub', { timeoutMs: 30_000, what: `${f.id}'s follower in hub mode` });
      }
    }
    const devices = await startDevices(broker.port, DEVICES, PER_PUT, PUTS_PER_SECOND);
    kids.push(devices);
    const rss = new RssSampler([broker.kid.pid]);
    try {
      await sleep(WARM_MS);
      for (const p of proxies) p.reset();
      const cpu0 = procCpuMs(broker.kid.pid);
      const wall0 = Date.now();
      devices.send('mark');
      await sleep(MEASURE_MS);
      devices.send('report');
      const cpu1 = procCpuMs(broker.kid.pid);
      const wall1 = Date.now();
      const r = await devices.record<Report>('sent', 30_000);
      const bytes = proxies.reduce((a, p) => a + p.down, 0);
      const hubPeak = rss.peak(broker.kid.pid);
      const hubPeakAnon = rss.peakAnon(broker.kid.pid);
      await devices.stop(true);
      // put -> interested daemon: rx (its receipt) - s (the device's send time), puts sent in the window.
      const lat: number[] = [];
      let delivered = 0;
      for (const f of followers) {
        await until(async () => syncOf(await statusOf(f.http)).backlog === 0, { timeoutMs: 30_000, what: `${f.id}'s follower caught up` }).catch(() => undefined);
        for (const row of await historyOf(f.http, `${f.id}/m0`)) {
          if (row.s < wall0 || row.s > wall1) continue;
          lat.push(row.rx - row.s);
          delivered += PER_PUT;
        }
      }
      lat.sort((a, b) => a - b);
      const updates = r.acked * PER_PUT;
      return {
        updates,
        cpuUsPerUpdate: ((cpu1 - cpu0) * 1000) / Math.max(1, updates),
        hubPeakRssKiB: hubPeak,
        hubPeakAnonKiB: hubPeakAnon,
        ackP50: r.ackMs.p50,
        ackP99: r.ackMs.p99,
        latP50: percentile(lat, 50),
        latP99: percentile(lat, 99),
        latSamples: lat.length,
        bytesPerUpdate: delivered > 0 ? bytes / delivered : NaN,
        errors: r.errors,
      };
    } finally {
      rss.stop();
    }
  } finally {
    for (const k of kids.reverse()) await k.stop(k.name === 'devices');
    for (const p of proxies) await p.sever();
  }
}

export async function benchFleet(): Promise<{ rows: FleetRow[]; notes: string[] }> {
  const rows: FleetRow[] = [];
  const hub: FleetRun[] = [];
  const aedes: FleetRun[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    aedes.push(await fleetRun('aedes'));
    hub.push(await fleetRun('hub'));
  }
  const m = (runs: FleetRun[], f: (r: FleetRun) => number): number => median(runs.map(f));
  const cpuHub = m(hub, (r) => r.cpuUsPerUpdate);
  const cpuAedes = m(aedes, (r) => r.cpuUsPerUpdate);
  rows.push({ what: `hub CPU per update (${fmt(DEVICES)} devices x ${PER_PUT} updates/s, ${FOLLOWERS} followers)`, rate: `${f2(cpuHub)} µs`, vs: `${f2(cpuHub / cpuAedes)}x plain Aedes (${f2(cpuAedes)} µs); ${spread(hub.map((r) => r.cpuUsPerUpdate), f2)}` });
  rows.push({ what: 'hub peak RSS during the window', rate: mibOf(m(hub, (r) => r.hubPeakRssKiB)), vs: `plain Aedes ${mibOf(m(aedes, (r) => r.hubPeakRssKiB))}; ${spread(hub.map((r) => r.hubPeakRssKiB / 1024), fmt)} MiB` });
  rows.push({ what: 'hub peak RssAnon during the window', rate: mibOf(m(hub, (r) => r.hubPeakAnonKiB)), vs: `plain Aedes ${mibOf(m(aedes, (r) => r.hubPeakAnonKiB))}; ${spread(hub.map((r) => r.hubPeakAnonKiB / 1024), fmt)} MiB; without LMDB's mapped pages` });
  rows.push({ what: 'PUBACK p50', rate: `${f2(m(hub, (r) => r.ackP50))} ms`, vs: `plain Aedes ${f2(m(aedes, (r) => r.ackP50))} ms; ${spread(hub.map((r) => r.ackP50), f2)}` });
  rows.push({ what: 'PUBACK p99', rate: `${f2(m(hub, (r) => r.ackP99))} ms`, vs: `plain Aedes ${f2(m(aedes, (r) => r.ackP99))} ms; ${spread(hub.map((r) => r.ackP99), f2)}` });
  rows.push({ what: 'put -> interested daemon p50', rate: `${f2(m(hub, (r) => r.latP50))} ms`, vs: `${spread(hub.map((r) => r.latP50), f2)}; ${fmt(m(hub, (r) => r.latSamples))} puts timed per run` });
  rows.push({ what: 'put -> interested daemon p99', rate: `${f2(m(hub, (r) => r.latP99))} ms`, vs: spread(hub.map((r) => r.latP99), f2) });
  rows.push({ what: 'bytes per update received by a following daemon', rate: f2(m(hub, (r) => r.bytesPerUpdate)), vs: `${spread(hub.map((r) => r.bytesPerUpdate), f2)}; incl. MQTT framing and page headers` });
  const errors = [...hub, ...aedes].reduce((a, r) => a + r.errors, 0);
  const c = await catchUp(BACKLOG);
  rows.push({ what: `backlog catch-up, ${fmt(BACKLOG)} updates, one daemon following #`, rate: `${fmt(c.perSecond)} updates/s`, vs: `${(c.ms / 1000).toFixed(1)} s; mode ${c.last}; ingest took ${(c.ingestMs / 1000).toFixed(1)} s` });
  rows.push({ what: 'hub peak RSS during the catch-up', rate: mibOf(c.hubPeakKiB), vs: `before it ${mibOf(c.hubBeforeKiB)}; RssAnon peak ${mibOf(c.hubPeakAnonKiB)} (before ${mibOf(c.hubBeforeAnonKiB)}); RSS includes LMDB's mapped pages` });
  rows.push({ what: 'daemon peak RSS during the catch-up', rate: mibOf(c.daemonPeakKiB), vs: `RssAnon peak ${mibOf(c.daemonPeakAnonKiB)}; VmHWM of the daemon process (it ran only for the catch-up)` });
  const notes = [
    `fleet: ${fmt(DEVICES)} mqtt.js devices in one child process, each one put of ${PER_PUT} updates every ${1000 / PUTS_PER_SECOND} ms (QoS 1), staggered; ${FOLLOWERS} daemons each following dev-<i>/# through a counting proxy; ` +
      `${WARM_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured; ${REPS} runs each of plain Aedes and the hub, alternating; medians. Publish errors: ${errors}.`,
    'fleet put -> interested daemon: the daemon\'s history rx (its replica clock when it resolved the update) minus the update\'s state (the device\'s clock at send); one sample per put.',
    `fleet catch-up: ${fmt(BACKLOG)} updates in puts of ${BACKLOG_PER_PUT} on ${fmt(BACKLOG_KEYS)} keys while the daemon was stopped; restart to status backlog 0 (HAMSYNC_BENCH_BACKLOG to change N).`,
    'fleet: v2 figures, with plain Aedes as the in-run baseline; the comparison with protocol v1 is the protocol section\'s (HAMSYNC_BENCH_V1, docs/bench.md).',
  ];
  return { rows, notes };
}

interface CatchUp {
  ms: number;
  perSecond: number;
  ingestMs: number;
  hubPeakKiB: number;
  hubBeforeKiB: number;
  hubPeakAnonKiB: number;
  hubBeforeAnonKiB: number;
  daemonPeakKiB: number;
  daemonPeakAnonKiB: number;
  last: string;
}

async function catchUp(n: number): Promise<CatchUp> {
  const kids: Kid[] = [];
  try {
    const hub = await startHub(['--rate-limit', '0']);
    kids.push(hub.kid);
    const url = `mqtt://127.0.0.1:${hub.port}`;
    let d = await startDaemon('catcher', url, ['#']);
    const dataDir = d.dataDir;
    await until(async () => syncOf(await statusOf(d.http)).backlog === 0, { timeoutMs: 30_000, what: 'the catcher synced once' });
    await d.kid.stop();
    const pub = await connectMqtt(url, 'backlog');
    const base = Date.now() - 86_400_000;
    const t0 = performance.now();
    await publishPuts(pub, 'hamsync/default/put/bulk', Math.ceil(n / BACKLOG_PER_PUT), (i) => {
      const u: string[] = [];
      for (let j = 0; j < BACKLOG_PER_PUT; j++) {
        const k = i * BACKLOG_PER_PUT + j;
        u.push(`{"k":"bk/${k % BACKLOG_KEYS}","v":${k},"s":${base + k}}`);
      }
      return `{"src":"bulk","u":[${u.join(',')}]}`;
    }, 8, 3_600_000);
    const ingestMs = performance.now() - t0;
    await pub.endAsync(true);
    const rss = new RssSampler([hub.kid.pid], 100);
    const hubBeforeKiB = rss.peak(hub.kid.pid);
    const hubBeforeAnonKiB = rss.peakAnon(hub.kid.pid);
    const c0 = performance.now();
    d = await startDaemon('catcher', url, ['#'], dataDir);
    kids.push(d.kid);
    d.kid.dirs.push(dataDir);
    const daemonRss = new RssSampler([d.kid.pid], 100);
    const s = await until(async () => {
      const v = syncOf(await statusOf(d.http));
      return v.backlog === 0 && (v.pos ?? 0) >= n ? v : undefined;
    }, { timeoutMs: 3_600_000, intervalMs: 100, what: 'the catcher to catch up' });
    const ms = performance.now() - c0;
    const daemonPeakKiB = procStatusKiB(d.kid.pid, 'VmHWM');
    const hubPeakKiB = rss.peak(hub.kid.pid);
    const hubPeakAnonKiB = rss.peakAnon(hub.kid.pid);
    const daemonPeakAnonKiB = daemonRss.peakAnon(d.kid.pid);
    rss.stop();
    daemonRss.stop();
    return { ms, perSecond: n / (ms / 1000), ingestMs, hubPeakKiB, hubBeforeKiB, hubPeakAnonKiB, hubBeforeAnonKiB, daemonPeakKiB, daemonPeakAnonKiB, last: s.last ?? '?' };
  } finally {
    for (const k of kids.reverse()) await k.stop();
  }
}

const SELF = fileURLToPath(import.meta.url);
const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === SELF;
if (isMain && process.env.NODE_TEST_CONTEXT !== undefined) {
  console.log('bench: skipped under node --test; run `node dist/test/bench/fleet.js`');
} else if (isMain) {
  const started = Date.now();
  benchFleet().then(
    ({ rows, notes }) => {
      const w = [Math.max(...rows.map((r) => r.what.length)), Math.max(...rows.map((r) => r.rate.length))];
      for (const r of rows) console.log(`${r.what.padEnd(w[0] as number)}  ${r.rate.padStart(w[1] as number)}  ${r.vs}`);
      for (const n of notes) console.log(`- ${n}`);
      console.log(`- node ${process.version}, ${(Date.now() - started) / 1000} s total`);
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
