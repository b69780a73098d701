/**
 * Helpers for the hub cluster's end-to-end tests (test/cluster/e2e-*.test.ts): one
 * `hamsync broker --cluster redis://… --node-id N` child per node (admin HTTP API on, so its
 * replica can be read with `GET /v1/keys`), the live view of any replica (a node or a daemon),
 * the winner HAM picks among acknowledged puts, and a `mosquitto_sub -v` child recording lines.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { canonical, ham } from '../../src/index.js';
import { api, type Harness, type KeyView, type Proc } from './procs.js';
import { until } from './wait.js';

const LOG_LEVEL = process.env.HAMSYNC_E2E_LOG_LEVEL ?? 'info';

export interface NodeOptions {
  /** The shared Redis, redis://127.0.0.1:<port>. */
  redis: string;
  nodeId: string;
  /** Default 0 (any free port); a restart passes the port it had (and --advertise with it). */
  port?: number;
  /** Default: a fresh temp dir. */
  dataDir?: string;
  /** More flags, e.g. ['--cluster-log-max', '100']. */
  args?: string[];
  /** Process name in failure messages; default the node id. */
  name?: string;
}

export interface ClusterNode {
  proc: Proc;
  nodeId: string;
  port: number;
  /** mqtt://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> of its admin HTTP API. */
  http: string;
  dataDir: string;
  options: NodeOptions;
}

/**
 * `hamsync broker --cluster <redis> --node-id <id> --host 127.0.0.1 --port <0|port> --http 127.0.0.1:0`,
 * once it listens. With a given port (a restart) it also passes `--advertise mqtt://127.0.0.1:<port>`;
 * on port 0 it relies on the default (the listen host and port).
 */
export async function startNode(h: Harness, options: NodeOptions): Promise<ClusterNode> {
  const dataDir = options.dataDir ?? h.tempDir(`node-${options.nodeId}`);
  const port = options.port ?? 0;
  const args = ['broker', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir, '--http', '127.0.0.1:0', '--log-level', LOG_LEVEL, '--rate-limit', '0'];
  args.push('--cluster', options.redis, '--node-id', options.nodeId);
  if (port !== 0) args.push('--advertise', `mqtt://127.0.0.1:${port}`);
  args.push(...(options.args ?? []));
  const proc = h.spawn(options.name ?? options.nodeId, args);
  const l = await proc.listening(20_000);
  assert.ok(Number.isInteger(l.port) && (l.port as number) > 0, `node ${options.nodeId} printed a bad port: ${proc.stdout}`);
  assert.ok(Number.isInteger(l.http) && (l.http as number) > 0, `node ${options.nodeId} printed no admin HTTP port: ${proc.stdout}`);
  const p = l.port as number;
  return { proc, nodeId: options.nodeId, port: p, url: `mqtt://127.0.0.1:${p}`, http: `127.0.0.1:${l.http as number}`, dataDir, options: { ...options, dataDir } };
}

/** Starts the same node again (same id, port and data dir) after it stopped or was killed. */
export function restartNode(h: Harness, node: ClusterNode, name = `${node.nodeId}#2`): Promise<ClusterNode> {
  return startNode(h, { ...node.options, port: node.port, dataDir: node.dataDir, name });
}

/** A replica's live view, key -> {k, v, s, src}, through `GET /v1/keys` (a node's admin API or a daemon's API). */
export async function liveView(http: string, prefix = ''): Promise<Map<string, KeyView>> {
  const res = await api(http, 'GET', `/v1/keys?limit=1000&prefix=${encodeURIComponent(prefix)}`);
  assert.equal(res.status, 200, `GET /v1/keys on ${http} answered HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  const body = res.body as { rows: KeyView[]; more: boolean };
  assert.equal(body.more, false, `${http} holds more than 1,000 keys under ${JSON.stringify(prefix)}: read them by smaller prefixes`);
  return new Map(body.rows.map((r) => [r.k, { k: r.k, v: r.v, s: r.s, src: r.src }]));
}

/** Canonical text of a view (sorted by key), for comparing two replicas. */
export function viewText(view: Map<string, KeyView>): string {
  return [...view.values()]
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((r) => canonical({ k: r.k, v: r.v, s: r.s, src: r.src }))
    .join('\n');
}

/** The first few differences between two views, for a failure message. */
export function viewDiff(a: Map<string, KeyView>, b: Map<string, KeyView>, max = 5): string[] {
  const out: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(k);
    const y = b.get(k);
    if (x && y && canonical(x) === canonical(y)) continue;
    out.push(`${k}: ${x ? canonical(x) : 'missing'} vs ${y ? canonical(y) : 'missing'}`);
    if (out.length >= max) break;
  }
  return out;
}

export interface Written {
  k: string;
  v: unknown;
  s: number;
  src: string;
}

/** HAM's winner between two updates of one key, both in the past (the project's own `ham`, so ties break as the replicas break them). */
export function winner(current: Written, incoming: Written): Written {
  return ham(Number.MAX_SAFE_INTEGER, { state: incoming.s, value: incoming.v }, { state: current.s, value: current.v }) === 'apply' ? incoming : current;
}

/** The live view every replica must end with, from every acknowledged put. */
export function expectedView(puts: Iterable<Written>): Map<string, KeyView> {
  const view = new Map<string, KeyView>();
  for (const p of puts) {
    const cur = view.get(p.k);
    const w = cur ? winner(cur as Written, p) : p;
    view.set(p.k, { k: w.k, v: w.v, s: w.s, src: w.src });
  }
  return view;
}

/** Waits until every replica's view (under `prefix`) equals `expected`; the error names the first replica that differs. */
export async function converged(replicas: { name: string; http: string }[], expected: Map<string, KeyView>, timeoutMs: number, prefix = ''): Promise<void> {
  const want = viewText(expected);
  await until(
    async () => {
      for (const r of replicas) {
        const got = await liveView(r.http, prefix);
        if (viewText(got) !== want) throw new Error(`${r.name} holds ${got.size} keys, expected ${expected.size}; first differences (got vs expected): ${viewDiff(got, expected).join('; ')}`);
      }
      return true;
    },
    { timeoutMs, intervalMs: 250, what: `${replicas.map((r) => r.name).join(', ')} to converge on the expected ${expected.size} keys` },
  );
}

/** One `mosquitto_sub -v` line: its topic and JSON payload. */
export interface SubLine {
  topic: string;
  json: { v?: unknown; s?: number; src?: string };
  at: number;
}

/** `mosquitto_sub -v -q 1` on host:port, recording every line; killed when the test ends. */
export class MosquittoSub {
  readonly lines: SubLine[] = [];
  readonly bad: string[] = [];
  private readonly child: ChildProcess;
  private readonly closed: Promise<void>;
  private buffer = '';
  stderr = '';

  constructor(h: Harness, port: number, filter: string, clientId: string) {
    this.child = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-v', '-i', clientId, '-t', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => this.take(s));
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.child.on('error', (err) => (this.stderr += `[spawn error] ${err.message}\n`));
    this.closed = new Promise((resolve) => this.child.once('close', () => resolve()));
    h.defer(() => this.stop());
  }

  private take(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      const sp = line.indexOf(' ');
      try {
        this.lines.push({ topic: line.slice(0, sp), json: JSON.parse(line.slice(sp + 1)) as SubLine['json'], at: Date.now() });
      } catch {
        this.bad.push(line);
      }
    }
  }

  on(topic: string): SubLine[] {
    return this.lines.filter((l) => l.topic === topic);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    await this.closed;
  }
}
