/**
 * The Pi section (issue 13, the Raspberry Pi budget): `hamsync daemon` over a data dir of N stored
 * updates (HAMSYNC_BENCH_PI_N, default 1,000,000; pi-dir.ts), against the same daemon on an
 * empty data dir and a bare `node -e` HTTP server (the floor), runs alternating, 3 of each
 * (HAMSYNC_BENCH_PI_RUNS). Each run reports:
 *   ready     spawn -> the daemon's /readyz answering 200 (the floor: its first HTTP answer), and
 *             the CPU time the child had used by then (steadier than wall time on a busy machine);
 *   idle RSS  VmRSS and RssAnon of /proc/<pid>/status after 5 s idle.
 * And, on the N-update daemon, the cost of a device writing one update per request
 * (POST /v1/put, each durable): the daemon's CPU time per put, from /proc/<pid>/stat.
 *
 * The daemon gets the node flags of systemd/hamsync.service's NODE_OPTIONS (what ships), or
 * HAMSYNC_BENCH_PI_NODE_FLAGS when set (space-separated; "none" for none) to try others.
 * The floor runs with the same flags. The broker is an in-process Aedes on port 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import { median, minMax } from './stats.js';
import { emptyDir, piDataDir } from './pi-dir.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const UNIT = fileURLToPath(new URL('../../../systemd/hamsync.service', import.meta.url));
const IDLE_MS = 5000;
const PUTS = 1000;
const TICK_MS = 10; // /proc/<pid>/stat counts CPU in clock ticks (USER_HZ = 100 on Linux)

/** The section's title in `npm run bench`'s table. */
export const PI_SECTION = 'pi: the daemon on a Raspberry Pi budget (median (min–max) of alternating runs)';

export interface PiRow {
  what: string;
  rate: string;
  vs: string;
}

export interface Run {
  readyMs: number;
  /** CPU time (user + system) the child had used when ready: less noisy than readyMs on a busy machine. */
  readyCpuMs: number;
  rssKb: number;
  anonKb: number;
  cpuMsPerPut?: number;
  putsPerSecond?: number;
}

/** The node flags in the unit's `Environment=NODE_OPTIONS=...` line (none if it has none). */
export function unitNodeFlags(text = readFileSync(UNIT, 'utf8')): string[] {
  const m = /^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m.exec(text);
  return m?.[1]?.split(/\s+/).filter((f) => f !== '') ?? [];
}

function flags(): string[] {
  const env = process.env.HAMSYNC_BENCH_PI_NODE_FLAGS;
  if (env === undefined) return unitNodeFlags();
  return env === 'none' ? [] : env.split(/\s+/).filter((f) => f !== '');
}

function procStatus(pid: number): { rssKb: number; anonKb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), anonKb: field('RssAnon') };
}

function cpuTicks(pid: number): number {
  // Fields after the ")" of the command name: utime and stime are the 12th and 13th.
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(rest[11]) + Number(rest[12]);
}

function get(port: number, path: string, agent?: Agent): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, ...(agent ? { agent } : {}) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

function post(port: number, path: string, body: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The first stdout line carrying the HTTP port ({"listening":{"http":N}} or a bare number). */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"http":(\d+)|^(\d+)$/m.exec(buf);
      if (m) resolve(Number(m[1] ?? m[2]));
    });
    child.on('exit', (code) => reject(new Error(`exited (${String(code)}) before listening: ${err}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** One run: spawn, wait until `path` answers 200, idle, read the memory, optionally put. */
export async function measure(args: string[], readyPath: string, puts: number): Promise<Run> {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const port = await listeningPort(child);
    while ((await get(port, readyPath)) !== 200) await new Promise((r) => setTimeout(r, 2));
    const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const readyCpuMs = cpuTicks(child.pid as number) * TICK_MS;
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const run: Run = { readyMs, readyCpuMs, ...procStatus(child.pid as number) };
    if (puts > 0) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const ticks = cpuTicks(child.pid as number);
      const t = process.hrtime.bigint();
      for (let i = 0; i < puts; i++) {
        const status = await post(port, '/v1/put', JSON.stringify({ k: `pi/m${i % 20}`, v: { u: 'C', v: i / 10 } }), agent);
        if (status !== 200) throw new Error(`POST /v1/put answered ${status}`);
      }
      run.putsPerSecond = puts / (Number(process.hrtime.bigint() - t) / 1e9);
      run.cpuMsPerPut = ((cpuTicks(child.pid as number) - ticks) * TICK_MS) / puts;
      agent.destroy();
    }
    return run;
  } finally {
    await stop(child);
  }
}

const FLOOR = `require('http').createServer((q,s)=>s.end('ok')).listen(0,'127.0.0.1',function(){console.log(this.address().port)})`;

export async function benchPi(): Promise<{ rows: PiRow[]; notes: string[] }> {
  const n = Number(process.env.HAMSYNC_BENCH_PI_N ?? 1_000_000);
  const runs = Number(process.env.HAMSYNC_BENCH_PI_RUNS ?? 3);
  const nodeFlags = flags();
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const broker = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const t = Date.now();
    const full = await piDataDir(n);
    const buildS = (Date.now() - t) / 1000;
    const daemon = (dir: string): string[] => [...nodeFlags, CLI, 'daemon', '--id', 'pi-bench', '--broker', broker, '--data-dir', dir, '--http', '127.0.0.1:0', '--log-level', 'warn'];
    const results = { floor: [] as Run[], empty: [] as Run[], full: [] as Run[] };
    for (let i = 0; i < runs; i++) {
      results.floor.push(await measure([...nodeFlags, '-e', FLOOR], '/', 0));
      results.empty.push(await measure(daemon(emptyDir()), '/readyz', 0));
      results.full.push(await measure(daemon(full), '/readyz', PUTS));
    }
    const fmt = (xs: number[], show: (x: number) => string): string => `${show(median(xs))} (${minMax(xs, show)})`;
    const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MiB`;
    const ms = (x: number): string => `${x.toFixed(0)} ms`;
    const rows: PiRow[] = [];
    const fullN = `daemon, ${n.toLocaleString('en-US')} stored updates`;
    for (const [label, rs, aim] of [['bare node HTTP server (floor)', results.floor, ''], ['daemon, empty data dir', results.empty, ''], [fullN, results.full, 'aim <= 60 MiB, <= 500 ms']] as const) {
      rows.push({ what: `${label}: idle RSS after 5 s`, rate: fmt(rs.map((r) => r.rssKb), mb), vs: `RssAnon ${fmt(rs.map((r) => r.anonKb), mb)}${aim ? `; ${aim.split(',')[0] as string}` : ''}` });
      const cpu = `CPU used by then ${fmt(rs.map((r) => r.readyCpuMs), ms)}`;
      rows.push({ what: `${label}: spawn -> ready`, rate: fmt(rs.map((r) => r.readyMs), ms), vs: aim ? `${cpu}; ${aim.split(', ')[1] as string}` : cpu });
    }
    const put = results.full;
    rows.push({ what: `${fullN}: ${PUTS} POST /v1/put, one update each, durable`, rate: `${fmt(put.map((r) => r.putsPerSecond ?? NaN), (x) => x.toFixed(0))} puts/s`, vs: `daemon CPU ${fmt(put.map((r) => r.cpuMsPerPut ?? NaN), (x) => `${x.toFixed(2)} ms`)}/put` });
    const notes = [
      `pi: node flags ${nodeFlags.length > 0 ? nodeFlags.join(' ') : '(none)'} (${process.env.HAMSYNC_BENCH_PI_NODE_FLAGS === undefined ? "systemd/hamsync.service's NODE_OPTIONS" : 'HAMSYNC_BENCH_PI_NODE_FLAGS'}); ` +
        `median (min–max) of ${runs} alternating runs; the ${n.toLocaleString('en-US')}-update dir built in ${buildS.toFixed(1)} s (once per bench run); broker: in-process Aedes.`,
    ];
    return { rows, notes };
  } finally {
    await new Promise((r) => server.close(r));
    await new Promise<void>((r) => aedes.close(() => r()));
  }
}

if (process.argv[1]?.endsWith('/bench/pi.js') && process.env.NODE_TEST_CONTEXT === undefined) {
  const { rows, notes } = await benchPi();
  for (const r of rows) console.log(`${r.what} | ${r.rate} | ${r.vs}`);
  for (const n of notes) console.log(`- ${n}`);
}
