/**
 * End-to-end helpers: the real CLI (`node dist/src/cli/main.js ...`) as child processes, temp
 * directories, the daemon's HTTP API and plain MQTT clients. A `Harness` owns everything a test
 * starts: `stopAll()` stops it with SIGTERM and asserts exit code 0; whatever is left when the
 * test ends (a failure) is SIGKILLed, and every temp directory is removed.
 *
 * Set HAMSYNC_E2E_VERBOSE=1 to copy the children's stderr (JSON logs) to ours, and
 * HAMSYNC_E2E_LOG_LEVEL to change their log level (default info).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { request } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { sleep } from './wait.js';

/** The built CLI entry point (this file runs from dist/test/helpers/). */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const VERBOSE = process.env.HAMSYNC_E2E_VERBOSE === '1';
const LOG_LEVEL = process.env.HAMSYNC_E2E_LOG_LEVEL ?? 'info';
const STDERR_KEEP = 256 * 1024;

/** Anything with node:test's `after` hook (a TestContext). */
export interface HasAfter {
  after(fn: () => unknown): void;
}

/** How to launch a CLI child other than plainly: a command in front (e.g. setpriv), more env, a cwd. */
export interface Launch {
  /** Run as `prefix... node CLI args...` (the prefix must exec, so the pid stays node's). */
  prefix?: readonly string[];
  /** Added to childEnv(). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Another copy of the built CLI entry point to run instead of CLI. */
  cli?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A short random suffix, so ids, client ids and namespaces never collide between runs. */
export function uniqueId(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** The environment of a child: ours, minus the test runner's marker and any HAMSYNC_* setting. */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.STATE_DIRECTORY;
  for (const k of Object.keys(env)) if (k.startsWith('HAMSYNC_')) delete env[k];
  return env;
}

/** childEnv() without the npm_* variables of an enclosing `npm test` (they would steer an npm or npx we run). */
export function npmFreeEnv(): NodeJS.ProcessEnv {
  const env = childEnv();
  for (const k of Object.keys(env)) if (/^npm_/i.test(k)) delete env[k];
  return { ...env, npm_config_update_notifier: 'false' };
}

/** Resolves with the promise's value, or rejects after `ms` (the timer is cleared either way). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function showExit(e: Exit | undefined): string {
  return e ? (e.signal ? `signal ${e.signal}` : `code ${String(e.code)}`) : 'running';
}

/** One CLI child process, its output kept in memory. */
export class Proc {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout = '';
  stderr = '';
  exit: Exit | undefined;

  constructor(
    readonly name: string,
    readonly args: readonly string[],
    launch: Launch = {},
  ) {
    const [cmd, ...pre] = [...(launch.prefix ?? []), process.execPath];
    this.child = spawn(cmd as string, [...pre, launch.cli ?? CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...childEnv(), ...launch.env }, ...(launch.cwd ? { cwd: launch.cwd } : {}) });
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s;
    });
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      if (this.stderr.length > STDERR_KEEP * 2) this.stderr = this.stderr.slice(-STDERR_KEEP);
      if (VERBOSE) process.stderr.write(s.replace(/^(?=.)/gm, `[${this.name}] `));
    });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.stderr += `\n[spawn error] ${err.message}\n`;
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
      this.child.once('close', (code, signal) => {
        this.exit ??= { code, signal };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The end of stderr, for failure messages. */
  tail(chars = 3000): string {
    return this.stderr.length > chars ? `...${this.stderr.slice(-chars)}` : this.stderr;
  }

  /** Waits for the one `{"listening":{...}}` line on stdout; fails fast if the process exits first. */
  async listening(timeoutMs = 15_000): Promise<Record<string, number>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const line of this.stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const o = JSON.parse(line) as { listening?: Record<string, number> };
          if (o.listening) return o.listening;
        } catch {
          // not (yet) a whole line
        }
      }
      if (this.exit) throw new Error(`${this.name} exited (${showExit(this.exit)}) before printing its listening line; stdout: ${this.stdout}; stderr: ${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} printed no listening line within ${timeoutMs} ms; stdout: ${this.stdout}; stderr: ${this.tail()}`);
      await sleep(20);
    }
  }

  /** SIGTERM, then asserts a clean exit (code 0) within `timeoutMs`. Returns how long it took, in ms. */
  async stop(timeoutMs = 5000): Promise<number> {
    assert.equal(this.exit, undefined, `${this.name} had already exited (${showExit(this.exit)}); stderr: ${this.tail()}`);
    const t0 = Date.now();
    this.child.kill('SIGTERM');
    let exit: Exit;
    try {
      exit = await withTimeout(this.exited, timeoutMs, `${this.name} to exit after SIGTERM`);
    } catch (err) {
      await this.kill();
      throw new Error(`${(err as Error).message}; stderr: ${this.tail()}`, { cause: err });
    }
    assert.deepEqual(exit, { code: 0, signal: null }, `${this.name} must exit 0 on SIGTERM, got ${showExit(exit)}; stderr: ${this.tail()}`);
    return Date.now() - t0;
  }

  /** SIGKILL if still running, and wait (bounded) for it to be gone. */
  async kill(): Promise<void> {
    if (this.exit) return;
    this.child.kill('SIGKILL');
    await withTimeout(this.exited, 5000, `${this.name} to die after SIGKILL`).catch(() => undefined);
  }
}

export interface BrokerProc {
  proc: Proc;
  port: number;
  /** mqtt://127.0.0.1:<port> */
  url: string;
  dataDir: string;
}

export interface BrokerOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default: a fresh temp dir. */
  dataDir?: string;
  ns?: string;
  name?: string;
}

export interface DaemonOptions {
  id: string;
  /** Broker URL, e.g. mqtt://127.0.0.1:1234. */
  broker: string;
  /** Default: a fresh temp dir. */
  dataDir?: string;
  ns?: string;
  /** Passed as --clock-offset=<value>, e.g. "+5s". */
  clockOffset?: string;
  subscribe?: string[];
  name?: string;
  /** More flags, e.g. ['--max-clock-ahead', '1m']. */
  args?: string[];
  /** Added to the daemon's environment (e.g. libfaketime's). */
  env?: NodeJS.ProcessEnv;
  /** --reconnect-max; default 2s here (tests restart brokers and wait for reconnects), 60s in production. */
  reconnectMax?: string;
}

export interface DaemonProc {
  proc: Proc;
  id: string;
  /** 127.0.0.1:<port> of its HTTP API, for --http and `api`. */
  http: string;
  port: number;
  dataDir: string;
  options: DaemonOptions;
}

/** Owns a test's processes, MQTT clients and temp dirs; cleans up when the test ends. */
export class Harness {
  private readonly procs: Proc[] = [];
  private readonly dirs: string[] = [];
  private readonly cleanups: (() => unknown)[] = [];
  private readonly clients: MqttClient[] = [];

  constructor(t: HasAfter) {
    t.after(() => this.cleanup());
  }

  /** A fresh directory under os.tmpdir(), removed when the test ends. */
  tempDir(label = 'dir'): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hamsync-e2e-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Runs `fn` when the test ends, before processes are killed (newest first). */
  defer(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  spawn(name: string, args: readonly string[], launch?: Launch): Proc {
    const p = new Proc(name, args, launch);
    this.procs.push(p);
    return p;
  }

  /** `hamsync broker --host 127.0.0.1 --port <0|port> --data-dir D`, once it listens. */
  async broker(options: BrokerOptions = {}): Promise<BrokerProc> {
    const dataDir = options.dataDir ?? this.tempDir('hub');
    const args = ['broker', '--port', String(options.port ?? 0), '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', LOG_LEVEL];
    if (options.ns) args.push('--ns', options.ns);
    const proc = this.spawn(options.name ?? 'broker', args);
    const { port } = await proc.listening();
    assert.ok(Number.isInteger(port) && (port as number) > 0, `broker printed a bad port: ${proc.stdout}`);
    return { proc, port: port as number, url: `mqtt://127.0.0.1:${String(port)}`, dataDir };
  }

  /** `hamsync daemon --id X --broker URL --data-dir D --http 127.0.0.1:0 ...`, once it listens. */
  async daemon(options: DaemonOptions): Promise<DaemonProc> {
    const dataDir = options.dataDir ?? this.tempDir(options.id);
    const args = ['daemon', '--id', options.id, '--broker', options.broker, '--data-dir', dataDir, '--http', '127.0.0.1:0', '--log-level', LOG_LEVEL];
    if (options.ns) args.push('--ns', options.ns);
    if (options.clockOffset !== undefined) args.push(`--clock-offset=${options.clockOffset}`);
    for (const f of options.subscribe ?? []) args.push('--subscribe', f);
    args.push('--reconnect-max', options.reconnectMax ?? '2s', ...(options.args ?? []));
    const proc = this.spawn(options.name ?? options.id, args, options.env ? { env: options.env } : {});
    const { http: port } = await proc.listening();
    assert.ok(Number.isInteger(port) && (port as number) > 0, `daemon printed a bad port: ${proc.stdout}`);
    return { proc, id: options.id, http: `127.0.0.1:${String(port)}`, port: port as number, dataDir, options: { ...options, dataDir } };
  }

  /** A plain MQTT client with a unique client id, ended when the test ends. */
  async mqtt(url: string, label: string): Promise<MqttClient> {
    const client = await connectMqtt(url, label);
    this.clients.push(client);
    return client;
  }

  /** A plain MQTT subscriber recording every message on `filters` (retained ones included). */
  async watch(url: string, filters: string[], label = 'watch'): Promise<Watcher> {
    const w = new Watcher(await this.mqtt(url, label));
    await w.client.subscribeAsync(filters, { qos: 1 });
    return w;
  }

  /** Ends the test's own MQTT clients (observers). */
  async endClients(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => withTimeout(c.endAsync(true), 5000, 'an MQTT client to end').catch(() => undefined)));
  }

  /**
   * Ends the test's MQTT clients, then stops every process still running, newest first
   * (daemons before their broker), with SIGTERM; asserts each exits 0 within `timeoutMs`.
   */
  async stopAll(timeoutMs = 5000): Promise<Record<string, number>> {
    await this.endClients();
    const took: Record<string, number> = {};
    for (const p of [...this.procs].reverse()) if (p.running) took[p.name] = await p.stop(timeoutMs);
    return took;
  }

  private async cleanup(): Promise<void> {
    await this.endClients();
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await withTimeout(Promise.resolve(fn()), 5000, 'a cleanup step');
      } catch (err) {
        process.stderr.write(`[harness] cleanup step failed: ${(err as Error).message}\n`);
      }
    }
    const left = this.procs.filter((p) => p.running);
    for (const p of left) process.stderr.write(`[harness] ${p.name} still running at test end: SIGKILL; stderr tail:\n${p.tail(1500)}\n`);
    await Promise.all(left.map((p) => p.kill()));
    for (const dir of this.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs one CLI command to completion (bounded); never throws for a non-zero exit. */
export async function runCli(args: readonly string[], timeoutMs = 20_000, launch?: Launch): Promise<CliResult> {
  const t0 = Date.now();
  const p = new Proc(`hamsync ${args[0] ?? ''}`, args, launch);
  let exit: Exit;
  try {
    exit = await withTimeout(p.exited, timeoutMs, `hamsync ${args.join(' ')}`);
  } catch (err) {
    await p.kill();
    throw err;
  }
  return { ...exit, stdout: p.stdout, stderr: p.stderr, ms: Date.now() - t0 };
}

/** Runs a CLI command that must succeed and print JSON on stdout (`--json`); returns it parsed. */
export async function cliJson<T = unknown>(args: readonly string[]): Promise<T> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `hamsync ${args.join(' ')} exited ${String(r.code)}; stderr: ${r.stderr}`);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    assert.fail(`hamsync ${args.join(' ')} printed no JSON: ${JSON.stringify(r.stdout)}`);
  }
}

// --- The daemon's HTTP API ---------------------------------------------------------------

export interface KeyView {
  k: string;
  v: unknown;
  s: number;
  src: string;
  /** The source's signature, when the update was signed. */
  g?: string;
}

export interface HistoryRow extends KeyView {
  outcome: string;
  deferred: boolean;
  rx: number;
}

export interface PutResultView {
  k: string;
  s: number;
  decision: string;
  duplicate: boolean;
}

export interface StatusView {
  id: string;
  ns: string;
  connected: boolean;
  live: number;
  deferred: number;
  outbox: { messages: number; updates: number; inflight: number };
  clock: { now: number; offsetMs: number; wall: number };
  counters: Record<string, number>;
}

/** One request to a daemon's HTTP API (no keep-alive); resolves with status and parsed JSON. */
export function api(http: string, method: 'GET' | 'POST', pathname: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const [host, port] = http.split(':');
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port: Number(port), method, path: pathname, agent: false, timeout: 10_000, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
          } catch {
            reject(new Error(`${method} ${pathname} on ${http}: HTTP ${String(res.statusCode)} with a body that is not JSON: ${text.slice(0, 200)}`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathname} on ${http} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** POST /v1/put; asserts HTTP 200 and returns the per-update results. */
export async function putApi(http: string, updates: { k: string; v: unknown; s?: number }[]): Promise<PutResultView[]> {
  const res = await api(http, 'POST', '/v1/put', { u: updates });
  assert.equal(res.status, 200, `put on ${http} answered HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  return (res.body as { results: PutResultView[] }).results;
}

/** GET /v1/keys/<key>: the live value, or undefined on 404. */
export async function getKey(http: string, key: string): Promise<KeyView | undefined> {
  const res = await api(http, 'GET', `/v1/keys/${encodeURIComponent(key)}`);
  if (res.status === 404) return undefined;
  assert.equal(res.status, 200, `get ${key} on ${http} answered HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as KeyView;
}

export async function historyOf(http: string, key: string): Promise<HistoryRow[]> {
  const res = await api(http, 'GET', `/v1/history/${encodeURIComponent(key)}`);
  assert.equal(res.status, 200, `history ${key} on ${http} answered HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  return (res.body as { rows: HistoryRow[] }).rows;
}

export async function deferredOf(http: string): Promise<KeyView[]> {
  const res = await api(http, 'GET', '/v1/deferred');
  assert.equal(res.status, 200, `deferred on ${http} answered HTTP ${res.status}`);
  return (res.body as { rows: KeyView[] }).rows;
}

export async function statusOf(http: string): Promise<StatusView> {
  const res = await api(http, 'GET', '/v1/status');
  assert.equal(res.status, 200, `status on ${http} answered HTTP ${res.status}`);
  return res.body as StatusView;
}

// --- Plain MQTT -------------------------------------------------------------------------

/** Connects a plain MQTT client (clean session, no reconnects) with a unique client id. */
export function connectMqtt(url: string, label: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: uniqueId(`e2e-${label}-`), clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
}

export interface Seen {
  topic: string;
  text: string;
  /** The payload parsed as JSON, or undefined. */
  json: unknown;
  retain: boolean;
  /** Wall clock (Date.now()) when it arrived. */
  at: number;
}

/** Records every message a client receives. */
export class Watcher {
  readonly messages: Seen[] = [];

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const text = payload.toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text) as unknown;
      } catch {
        json = undefined;
      }
      this.messages.push({ topic, text, json, retain: packet.retain, at: Date.now() });
    });
  }

  on(topic: string): Seen[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  last(topic: string): Seen | undefined {
    return this.on(topic).at(-1);
  }

  /** `v` of the last state message on `topic`. */
  lastValue(topic: string): unknown {
    return (this.last(topic)?.json as { v?: unknown } | undefined)?.v;
  }
}

/**
 * What the hub holds (live, then deferred), asked the way a device asks: a sync v2 request
 * without a position, so the hub answers with a snapshot; each page is acknowledged, and the
 * last snapshot page (the one with `to`) ends it. Rows as on the wire, without the deferred flag.
 */
export async function hubSnapshot(url: string, ns = 'default', timeoutMs = 10_000): Promise<(KeyView & { src: string })[]> {
  const client = await connectMqtt(url, 'snapshot');
  try {
    const device = uniqueId('e2esnap');
    const id = randomUUID();
    const rows: KeyView[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.on('message', (_topic, payload) => {
        const m = JSON.parse(payload.toString('utf8')) as { id?: string; n?: number; snap?: boolean; to?: number; u?: (KeyView & { d?: 1 })[]; err?: { code: string; message: string } };
        if (m.id !== id) return;
        if (m.err) return reject(new Error(`the hub refused the snapshot request: ${m.err.code}: ${m.err.message}`));
        if (!m.snap) return;
        rows.push(...(m.u ?? []).map(({ d: _d, ...row }) => row));
        client.publish(`hamsync/${ns}/sync/ack/${device}`, JSON.stringify({ pv: 2, id, n: m.n }), { qos: 1 });
        if (m.to !== undefined) resolve();
      });
    });
    await client.subscribeAsync(`hamsync/${ns}/sync/res/${device}`, { qos: 1 });
    await client.publishAsync(`hamsync/${ns}/sync/req/${device}`, JSON.stringify({ pv: 2, id, f: ['#'] }), { qos: 1 });
    await withTimeout(done, timeoutMs, 'the hub\'s snapshot');
    return rows;
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

/** Resolves when something accepts TCP connections on host:port, else rejects (bounded). */
export function probeTcp(host: string, port: number, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => s.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.end();
      resolve();
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A TCP port that nothing listens on (bound, then released): ports.ts's freePort under the name these tests use. */
export { freePort as closedPort } from './ports.js';
