/**
 * Helpers for the sync v2 system tests: a broker with extra flags, the daemon's sync status,
 * the hub's view asked the v2 way (a snapshot feed over MQTT), bulk put publishing with a
 * bounded window, and /proc memory readings.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { MqttClient } from 'mqtt';
import { connectMqtt, statusOf, uniqueId, withTimeout, type BrokerProc, type Harness, type KeyView } from './procs.js';
import { until } from './wait.js';

const LOG_LEVEL = process.env.HAMSYNC_E2E_LOG_LEVEL ?? 'info';

export interface BrokerV2Options {
  port?: number;
  dataDir?: string;
  ns?: string;
  name?: string;
  /** More flags, e.g. ['--rate-limit', '0', '--sync-log-max', '1000']. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/** `hamsync broker` with extra flags, once it listens (Harness.broker without them). */
export async function brokerV2(h: Harness, options: BrokerV2Options = {}): Promise<BrokerProc> {
  const dataDir = options.dataDir ?? h.tempDir('hub');
  const args = ['broker', '--port', String(options.port ?? 0), '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', LOG_LEVEL, ...(options.args ?? [])];
  if (options.ns) args.push('--ns', options.ns);
  const proc = h.spawn(options.name ?? 'broker', args, options.env ? { env: options.env } : {});
  const { port } = await proc.listening();
  assert.ok(Number.isInteger(port) && (port as number) > 0, `broker printed a bad port: ${proc.stdout}`);
  return { proc, port: port as number, url: `mqtt://127.0.0.1:${String(port)}`, dataDir };
}

// --- The daemon's sync status ------------------------------------------------------------

/** The v2 part of a daemon's status (spec §6), whatever it is called in the JSON. */
export interface SyncView {
  mode?: string;
  hub?: string;
  epoch?: number;
  pos?: number;
  head?: number;
  backlog?: number;
  pages?: number;
  last?: string;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Reads the sync fields of a status JSON (status.sync). */
export function syncOf(status: unknown): SyncView {
  const s = ((status as { sync?: unknown }).sync ?? {}) as Record<string, unknown>;
  const hub = (typeof s.hub === 'object' && s.hub !== null ? s.hub : {}) as Record<string, unknown>;
  return {
    mode: str(s.mode),
    hub: str(s.hub) ?? str(hub.id),
    epoch: num(s.epoch) ?? num(hub.epoch),
    pos: num(s.pos) ?? num(s.position),
    head: num(s.head),
    backlog: num(s.backlog),
    pages: num(s.pages),
    last: str(s.last) ?? str(s.lastConnect),
  };
}

export async function syncStatus(http: string): Promise<SyncView & { connected: boolean }> {
  const s = await statusOf(http);
  return { ...syncOf(s), connected: s.connected };
}

/** Waits until the daemon is connected, in hub mode, and its backlog is 0 (caught up). */
export async function caughtUp(http: string, what: string, timeoutMs = 20_000, extra?: (s: SyncView) => boolean): Promise<SyncView> {
  return until(
    async () => {
      const s = await syncStatus(http);
      if (s.connected && s.mode === 'hub' && s.backlog === 0 && (extra ? extra(s) : true)) return s;
      throw new Error(`sync status ${JSON.stringify(s)}`);
    },
    { timeoutMs, intervalMs: 100, what },
  );
}

export async function inHubMode(http: string, what: string, timeoutMs = 15_000): Promise<SyncView> {
  return until(
    async () => {
      const s = await syncStatus(http);
      return s.connected && s.mode === 'hub' && s.hub !== undefined ? s : undefined;
    },
    { timeoutMs, intervalMs: 50, what },
  );
}

// --- The hub's view, asked the v2 way ----------------------------------------------------

export interface HubRow extends KeyView {
  d?: number;
}

export interface HubView {
  hub: string;
  epoch: number;
  head: number;
  live: Map<string, KeyView>;
  deferred: KeyView[];
  pages: number;
}

interface PageMsg {
  pv?: number;
  id?: string;
  n?: number;
  hub?: string;
  epoch?: number;
  mode?: string;
  snap?: boolean;
  to?: number;
  head?: number;
  u?: HubRow[];
  err?: { code: string; message: string };
}

/**
 * What the hub holds (live, then deferred) under `filters`: a v2 request without a position (so a
 * snapshot), every page acknowledged, until the last snapshot page (the one with `to`).
 */
export async function hubView(url: string, ns = 'default', filters: string[] = ['#'], timeoutMs = 15_000): Promise<HubView> {
  const client = await connectMqtt(url, 'hubview');
  try {
    const device = uniqueId('e2eview');
    const id = randomBytes(6).toString('hex');
    const live = new Map<string, KeyView>();
    const deferred: KeyView[] = [];
    let pages = 0;
    const done = new Promise<HubView>((resolve, reject) => {
      client.on('message', (_topic, payload) => {
        const m = JSON.parse(payload.toString('utf8')) as PageMsg;
        if (m.id !== id) return;
        if (m.err) return reject(new Error(`hub answered an error: ${JSON.stringify(m.err)}`));
        pages++;
        for (const r of m.u ?? []) {
          const row: KeyView = { k: r.k, v: r.v, s: r.s, src: r.src, ...(r.g !== undefined ? { g: r.g } : {}) };
          if (r.d) deferred.push(row);
          else live.set(r.k, row);
        }
        client.publish(`hamsync/${ns}/sync/ack/${device}`, JSON.stringify({ pv: 2, id, n: m.n }), { qos: 1 });
        if (!m.snap || m.to !== undefined) resolve({ hub: m.hub as string, epoch: m.epoch as number, head: m.to ?? (m.head as number), live, deferred, pages });
      });
    });
    await client.subscribeAsync(`hamsync/${ns}/sync/res/${device}`, { qos: 1 });
    await client.publishAsync(`hamsync/${ns}/sync/req/${device}`, JSON.stringify({ pv: 2, id, f: filters }), { qos: 1 });
    return await withTimeout(done, timeoutMs, 'the hub\'s snapshot feed');
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

// --- Bulk puts ---------------------------------------------------------------------------

export interface PublishResult {
  acked: number;
  /** PUBACK round trips, ms, in send order. */
  ackMs: number[];
  ms: number;
}

/**
 * Publishes `count` put messages (payload `make(i)`) on `topic`, QoS 1, at most `window` in
 * flight; resolves when all are acknowledged; rejects on the first error or after `timeoutMs`.
 */
export function publishPuts(client: MqttClient, topic: string, count: number, make: (i: number) => string, window = 32, timeoutMs = 120_000, onAck?: (i: number) => void): Promise<PublishResult> {
  const t0 = performance.now();
  const ackMs: number[] = [];
  let next = 0;
  let acked = 0;
  let failed = false;
  const run = new Promise<PublishResult>((resolve, reject) => {
    if (count === 0) return resolve({ acked: 0, ackMs, ms: 0 });
    const send = (): void => {
      if (failed || next >= count) return;
      const i = next++;
      const t = performance.now();
      client.publish(topic, make(i), { qos: 1 }, (err) => {
        if (err) {
          failed = true;
          return reject(err);
        }
        ackMs.push(performance.now() - t);
        acked++;
        onAck?.(i);
        if (acked === count) resolve({ acked, ackMs, ms: performance.now() - t0 });
        else send();
      });
    };
    for (let w = 0; w < window; w++) send();
  });
  return withTimeout(run, timeoutMs, `${count} puts on ${topic} to be acknowledged (${acked} so far)`).catch((err: unknown) => {
    failed = true;
    throw err;
  });
}

/** A put payload from `src`. `v` values are JSON texts already. */
export function putPayload(src: string, updates: { k: string; v: unknown; s: number }[]): string {
  return JSON.stringify({ src, u: updates });
}

// --- Memory ------------------------------------------------------------------------------

/** A field of /proc/<pid>/status in KiB (e.g. RssAnon, VmRSS, VmHWM). */
export function procStatusKiB(pid: number, field: string): number {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  assert.ok(m, `/proc/${pid}/status has no ${field}`);
  return Number(m[1]);
}

/** utime + stime of a process, in ms (from /proc/<pid>/stat; clock ticks of 100 Hz). */
export function procCpuMs(pid: number, ticksPerSecond = 100): number {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: fields after the closing parenthesis.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1000) / ticksPerSecond;
}

/** The environment that makes a CLI child answer SIGUSR2 with a full GC (see gc-hook.ts). */
export function gcHookEnv(): NodeJS.ProcessEnv {
  const hook = new URL('./gc-hook.js', import.meta.url).href;
  const prior = process.env.NODE_OPTIONS ?? '';
  return { NODE_OPTIONS: `${prior} --expose-gc --import=${hook}`.trim() };
}

/** Sends SIGUSR2 to a child started with gcHookEnv() and waits for its `{"gc":n}` line on stdout. */
export async function collect(proc: { child: { pid?: number; kill(sig: NodeJS.Signals): boolean }; stdout: string }, timeoutMs = 10_000): Promise<void> {
  const before = (proc.stdout.match(/^\{"gc":\d+\}$/gm) ?? []).length;
  proc.child.kill('SIGUSR2');
  await until(() => (proc.stdout.match(/^\{"gc":\d+\}$/gm) ?? []).length > before, { timeoutMs, intervalMs: 20, what: 'the child to report a finished GC' });
}

// --- Small things ------------------------------------------------------------------------

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
export const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
