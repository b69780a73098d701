/**
 * `npm run bench`, section "protocol": sync protocol v2 (this checkout) against protocol v1 (a
 * build of commit 4aac33c; test/bench/build-v1.sh makes one) in the same run, on the scenario of
 * protocol-run.ts: bytes to a `sat/#` daemon while another device publishes, hub memory while sat
 * is offline, sat's catch-up, hub CPU per update. Runs alternate v1, v2, v1, v2, …
 * (HAMSYNC_BENCH_RUNS each, default 3; HAMSYNC_BENCH_N updates per phase, default 50,000); each
 * figure is reported as the median and the spread (min–max) of each build's runs, with the v2/v1
 * ratio of the medians. Without HAMSYNC_BENCH_V1 (the v1 build's directory) it is skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { kib, mib } from '../helpers/v2.js';
import { CLI } from './fleet-procs.js';
import { SAT_PER_PHASE } from './protocol-load.js';
import { LIVE_PER_PUT, protocolRun, type Build, type ProtocolRun } from './protocol-run.js';
import { benchRuns, median, minMax, type SectionRow } from './stats.js';

export const V1_COMMIT = '4aac33c';
export const PROTOCOL_SECTION = 'protocol: v2 vs v1 in the same run (v2 median; v2/v1 of the medians; spread = min–max of the runs)';

export type ProtocolRow = Omit<SectionRow, 'section'>;

interface Figure {
  what: string;
  get: (r: ProtocolRun) => number;
  show: (n: number) => string;
}

const bytes = (n: number): string => (Math.abs(n) < 1024 * 1024 ? kib(n) : mib(n));
const FIGURES: Figure[] = [
  { what: 'live: bytes broker -> sat (sat/#) for N pi-1 updates', get: (r) => r.liveBytes, show: bytes },
  { what: 'live: hub CPU (utime + stime) per update', get: (r) => r.hubCpuUsPerUpdate, show: (n) => `${n.toFixed(2)} µs` },
  { what: 'offline: hub RssAnon growth over N one-update puts', get: (r) => r.offlineGrowthKiB, show: (n) => mib(n * 1024) },
  { what: 'catch-up: bytes broker -> sat on its reconnect', get: (r) => r.catchUpBytes, show: bytes },
  { what: 'catch-up: wall time, sat\'s TCP connect to caught up', get: (r) => r.catchUpMs, show: (n) => `${Math.round(n)} ms` },
];

/** This checkout: its resume pages hold exactly the matching updates after sat's position. */
const V2: Build = { label: 'v2', cli: CLI, catchUpUpdates: (_online, offline) => offline };

/** A v1 build: its catch-up answer holds every sat key, and its session replays each sat put made while sat was away. */
function v1Build(dir: string): Build {
  const cli = join(resolve(dir), 'dist/src/cli/main.js');
  const fix = "build one with `test/bench/build-v1.sh DIR` and set HAMSYNC_BENCH_V1=DIR (docs/bench.md)";
  if (!existsSync(cli)) throw new Error(`HAMSYNC_BENCH_V1=${dir}: there is no ${cli}; ${fix}`);
  const help = spawnSync(process.execPath, [cli, 'daemon', '--help'], { encoding: 'utf8' });
  if (help.status !== 0) throw new Error(`HAMSYNC_BENCH_V1=${dir}: \`${cli} daemon --help\` exited ${String(help.status)}: ${help.stderr.slice(0, 300)}`);
  if (/^\s+--sync\s/m.test(help.stdout)) throw new Error(`HAMSYNC_BENCH_V1=${dir}: that build speaks protocol v2 (its daemon has --sync); ${fix}`);
  return { label: 'v1', cli, catchUpUpdates: (online, offline) => online + 2 * offline };
}

function positive(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return n;
}

/** The section's rows and notes, or `skipped` (one line saying how to get the v1 baseline). */
export async function benchProtocol(): Promise<{ rows: ProtocolRow[]; notes: string[]; skipped?: string }> {
  const dir = process.env.HAMSYNC_BENCH_V1;
  if (dir === undefined || dir === '') {
    return { rows: [], notes: [], skipped: `protocol: skipped (no v1 baseline): run \`test/bench/build-v1.sh /tmp/hamsync-v1\`, then \`HAMSYNC_BENCH_V1=/tmp/hamsync-v1 npm run bench\` (docs/bench.md)` };
  }
  const v1 = v1Build(dir);
  const runs = benchRuns();
  const n = positive('HAMSYNC_BENCH_N', 50_000);
  const results = { v1: [] as ProtocolRun[], v2: [] as ProtocolRun[] };
  const started = Date.now();
  // Alternating pairs, the order reversed every other run (as the other sections do).
  for (let i = 0; i < runs; i++) {
    for (const build of i % 2 === 0 ? [v1, V2] : [V2, v1]) results[build === v1 ? 'v1' : 'v2'].push(await protocolRun(build, n));
  }
  const rows = FIGURES.map((f) => {
    const a = results.v1.map(f.get);
    const b = results.v2.map(f.get);
    const ratio = median(b) / median(a);
    return {
      what: f.what,
      rate: f.show(median(b)),
      vs: `v2/v1 = ${ratio.toPrecision(2)}; v1 ${f.show(median(a))}; spread v2 ${minMax(b, f.show)}, v1 ${minMax(a, f.show)}`,
    };
  });
  const notes = [
    `protocol: N = ${n.toLocaleString('en-US')} (HAMSYNC_BENCH_N), ${runs} runs of each build (HAMSYNC_BENCH_RUNS), alternating v1, v2; v1 = ${v1.cli} (commit ${V1_COMMIT}), ${Math.round((Date.now() - started) / 1000)} s in all. ` +
      `Per run: a fresh hub (--rate-limit 0) and daemon sat --subscribe 'sat/#' behind a counting proxy; pi-1 publishes N updates in puts of ${LIVE_PER_PUT} while sat is online, then N one-update puts while it is stopped, ${SAT_PER_PHASE} of each phase's puts carrying a sat/ update; then sat restarts.`,
    'protocol: hub CPU over the live phase (first put to sat holding the last sat update); RssAnon read after full GCs in the hub (SIGUSR2, test/helpers/gc-hook.ts) before and after the offline puts; ' +
      'catch-up ends when sat has completed a sync, replicated what the build sends it (v1: its catch-up answer of every sat key plus its session\'s replay of each sat put made meanwhile; v2: the sat updates after its position) and holds the last sat update. ' +
      `v2 catch-ups began as: ${results.v2.map((r) => r.catchUpMode).join(', ')}.`,
  ];
  return { rows, notes };
}
