/**
 * Broker benchmark, the parts that run brokers and clients: how much the hub (HAM resolution +
 * LMDB durability before every PUBACK; no state subscriber here, so no state publish) costs
 * against a plain Aedes that only acknowledges. The section's rows: broker-section.ts; latency: broker-latency.ts.
 *
 * `throughput`: updates/s from 10 simulated devices (10 mqtt.js clients, each its own device id,
 * QoS 1, a fixed in-flight window per client) with 1 or 100 updates per message, through our
 * broker or a plain Aedes with no hub; same clients, same payloads. Kinds: 'hub-signed' (every
 * update signed by its device's Ed25519 key before the run, the hub verifying each before HAM),
 * 'hub-scraped' (admin API on, /metrics fetched once a second). Over the measured window it reads
 * the broker child's CPU per thread (/proc/<pid>/task) and its storage writes (/proc/<pid>/io).
 *
 * Arrangement: each broker runs alone in a child process (this file with `--serve <kind>`), fresh
 * (and with a fresh temp data dir) for every run; the clients share the parent process. So the
 * clients cannot steal the broker's event loop, and both brokers get exactly the same treatment.
 * `BENCH_BROKER_PROF=<dir>` runs the broker children with `--cpu-prof --cpu-prof-dir=<dir>`.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { generateKeyPairSync, sign as edSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { sleep } from '../helpers/wait.js';
import { snapshot, threadDelta } from './proc-usage.js';

export interface Row {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const SELF = fileURLToPath(import.meta.url);
const HOST = '127.0.0.1';
export const NS = 'default';
export const DEVICES = 10;
/** Messages in flight (sent, PUBACK not yet received) per client, by updates per message. */
export const WINDOW: Record<number, number> = { 1: 64, 100: 8 };
const KEYS_PER_DEVICE = 100;
export const WARM_MS = 1_000;
export const MEASURE_MS = 3_000;
/** States well in the past of the hub's wall clock (nothing deferred), increasing per device. */
export const STATE_BASE = Date.now() - 1e9;

export type Kind = 'hub' | 'aedes' | 'hub-signed' | 'hub-scraped';
/** How often the 'hub-scraped' runs fetch /metrics, in ms (Prometheus' tightest usual interval). */
export const SCRAPE_MS = 1_000;
/** Signed put messages made ahead of a signed run, per device (enough for its warm-up and measured window; more are signed on the fly). */
const SIGNED_POOL = 60;


// ---------------------------------------------------------------------------------------------
// Child: one broker, controlled over stdin ("usage" -> one JSON line on stdout, "quit" -> exit).

async function serve(kind: Kind, dataDir: string, keysFile?: string): Promise<void> {
  let port: number;
  let http: number | undefined;
  let close: () => Promise<void>;
  let stats: () => Record<string, number> = () => ({});
  if (kind === 'hub' || kind === 'hub-signed' || kind === 'hub-scraped') {
    const { startBroker } = await import('../../broker/server.js');
    // The per-device rate limit is off here: the bench measures how fast the hub can go.
    const broker = await startBroker({ port: 0, host: HOST, dataDir, ns: NS, rateLimit: { perSecond: 0 }, ...(keysFile ? { keysFile } : {}), ...(kind === 'hub-scraped' ? { http: { host: HOST, port: 0 } } : {}) });
    port = broker.port;
    http = broker.httpPort;
    close = () => broker.close();
    stats = () => broker.hub.counters.snapshot();
  } else {
    const aedes = await Aedes.createBroker();
    const server = createServer({ noDelay: true }, (socket) => aedes.handle(socket));
    await new Promise<void>((r) => server.listen(0, HOST, r));
    port = (server.address() as AddressInfo).port;
    close = async () => {
      await new Promise((r) => server.close(r));
      await new Promise<void>((r) => aedes.close(() => r()));
    };
  }
  const quit = (): void => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'usage') {
      const cpu = process.cpuUsage();
      process.stdout.write(`${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, stats: stats() })}\n`);
    } else if (line === 'quit') {
      quit();
    }
  });
  process.stdin.on('end', quit);
  process.stdout.write(`${JSON.stringify(http === undefined ? { port } : { port, http })}\n`);
}

// ---------------------------------------------------------------------------------------------
// Parent side.

interface Usage {
  cpuMs: number;
  stats: Record<string, number>;
}

export class BrokerChild {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly exited: Promise<number | null>;

  private constructor(
    child: ChildProcessByStdio<Writable, Readable, null>,
    /** Callers waiting for the child's next stdout line, in order. */
    private readonly waiting: ((line: string) => void)[],
    readonly port: number,
    /** The hub's data directory (empty for plain Aedes); removed on stop. */
    readonly dataDir: string,
    /** The admin API's port ('hub-scraped'). */
    readonly http?: number,
  ) {
    this.child = child;
    this.exited = new Promise((r) => child.on('close', (code) => r(code)));
  }

  static async start(kind: Kind, keysFile?: string): Promise<BrokerChild> {
    const dataDir = mkdtempSync(join(tmpdir(), `hamsync-bench-broker-${kind}-`));
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const prof = process.env.BENCH_BROKER_PROF;
    const args = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${kind}-${Date.now()}.cpuprofile`] : []), SELF, '--serve', kind, dataDir, ...(keysFile ? [keysFile] : [])];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
    const lines = createInterface({ input: child.stdout });
    const waiting: ((line: string) => void)[] = [];
    const [port, http] = await new Promise<[number, number | undefined]>((res, rej) => {
      let listening = false;
      lines.on('line', (line) => {
        if (listening) return waiting.shift()?.(line);
        const m = /^\{"port":(\d+)(?:,"http":(\d+))?\}$/.exec(line);
        if (m) {
          listening = true;
          res([Number(m[1]), m[2] === undefined ? undefined : Number(m[2])]);
        }
      });
      child.on('close', (code) => rej(new Error(`${kind} broker child exited (${code}) before listening`)));
    });
    return new BrokerChild(child, waiting, port, dataDir, http);
  }

  /** The child's process id (its /proc entries: proc-usage.ts). */
  get pid(): number {
    return this.child.pid as number;
  }

  usage(): Promise<Usage> {
    return new Promise((res) => {
      this.waiting.push((line) => res(JSON.parse(line) as Usage));
      this.child.stdin.write('usage\n');
    });
  }

  async stop(): Promise<void> {
    this.child.stdin.write('quit\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function connect(port: number, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync({ host: HOST, port, clientId, clean: true, reconnectPeriod: 0, keepalive: 0 });
  (client.stream as Socket).setNoDelay(true);
  return client;
}

export function end(client: MqttClient): Promise<void> {
  return new Promise((r) => client.end(false, {}, () => r()));
}

/**
 * One simulated device's put payloads: keys `<dev>/m<n>`, states increasing, values like
 * telemetry; with a private key, each update signed as src/sign does (`prepare` signs ahead).
 */
class Device {
  readonly topic: string;
  private seq = 0;
  private readonly ready: string[] = [];

  constructor(
    readonly id: string,
    private readonly key?: KeyObject,
  ) {
    this.topic = `hamsync/${NS}/put/${id}`;
  }

  /** Makes `messages` payloads of `updates` ahead of time (signing is the costly part). */
  prepare(messages: number, updates: number): void {
    for (let i = 0; i < messages; i++) this.ready.push(this.make(updates));
  }

  payload(updates: number): string {
    return this.ready.shift() ?? this.make(updates);
  }

  private make(updates: number): string {
    const u: string[] = [];
    for (let j = 0; j < updates; j++) {
      const n = this.seq++;
      const k = `${this.id}/m${n % KEYS_PER_DEVICE}`;
      const v = `{"u":"C","v":${(n % 10_000) / 100}}`;
      const s = STATE_BASE + n;
      // The signed bytes (src/sign/message.ts); `v` is already canonical JSON text.
      const g = this.key ? `,"g":"${edSign(null, Buffer.from(JSON.stringify(['hamsync-sig/1', this.id, k, s, v])), this.key).toString('base64url')}"` : '';
      u.push(`{"k":"${k}","v":${v},"s":${s}${g}}`);
    }
    return `{"src":"${this.id}","u":[${u.join(',')}]}`;
  }
}

/** Keys for the devices and the keys file the signed hub reads; removed by the caller. */
function deviceKeys(ids: string[]): { keys: Map<string, KeyObject>; dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hamsync-bench-keys-'));
  const keys = new Map<string, KeyObject>();
  const pubs: Record<string, string> = {};
  for (const id of ids) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    keys.set(id, privateKey);
    pubs[id] = publicKey.export({ format: 'jwk' }).x as string;
  }
  const file = join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify({ version: 1, keys: pubs }));
  return { keys, dir, file };
}

export interface Throughput {
  msgsPerSec: number;
  updatesPerSec: number;
  /** Broker process CPU over the window, in % of one core. */
  brokerCpu: number;
  /** This (client) process's CPU over the window, in % of one core. */
  clientCpu: number;
  /** Broker process CPU time (all threads, LMDB's writer included) per message, in µs. */
  brokerUsPerMsg: number;
  /** Broker CPU per message by thread role (proc-usage.ts: main, storage writers, other), in µs, largest first, with the role's thread count. */
  threadUsPerMsg: [role: string, us: number, threads: number][];
  /** Bytes the broker caused to be written to storage over the window (/proc/<pid>/io write_bytes), per update. */
  diskBytesPerUpdate: number;
  /** Size of the hub's data.mdb after the run, per update the broker accepted over the whole run (0 for plain Aedes). */
  fileBytesPerUpdate: number;
}

export async function throughput(kind: Kind, perMessage: number): Promise<Throughput> {
  const ids = Array.from({ length: DEVICES }, (_, i) => `dev-${i}`);
  const signing = kind === 'hub-signed' ? deviceKeys(ids) : undefined;
  const devices = ids.map((id) => new Device(id, signing?.keys.get(id)));
  if (signing) for (const d of devices) d.prepare(SIGNED_POOL, perMessage);
  const broker = await BrokerChild.start(kind, signing?.file);
  try {
    const clients = await Promise.all(devices.map((d) => connect(broker.port, `bench-${d.id}`)));
    const window = WINDOW[perMessage] ?? 16;
    let counting = false;
    let stopping = false;
    let acked = 0;
    let inflight = 0;
    let failure: Error | undefined;
    let drained: () => void = () => undefined;
    const send = (i: number): void => {
      const client = clients[i] as MqttClient;
      const device = devices[i] as Device;
      inflight++;
      client.publish(device.topic, device.payload(perMessage), { qos: 1 }, (err) => {
        inflight--;
        if (err) failure ??= err;
        else if (counting) acked++;
        if (!stopping && !failure) send(i);
        else if (inflight === 0) drained();
      });
    };
    for (let i = 0; i < DEVICES; i++) for (let w = 0; w < window; w++) send(i);
    const scraper = broker.http === undefined ? undefined : scrapeEvery(broker.http, (err) => (failure ??= err));
    await sleep(WARM_MS);
    const u0 = await broker.usage();
    const p0 = snapshot(broker.pid);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    counting = true;
    await sleep(MEASURE_MS);
    counting = false;
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    const p1 = snapshot(broker.pid);
    const u1 = await broker.usage();
    stopping = true;
    await new Promise<void>((r) => {
      drained = r;
      if (inflight === 0) r();
    });
    const scrapes = await scraper?.stop();
    if (failure) throw failure;
    if (scrapes !== undefined && scrapes < MEASURE_MS / SCRAPE_MS) throw new Error(`only ${scrapes} /metrics scrapes during the run`);
    await Promise.all(clients.map(end));
    const seconds = (t1 - t0) / 1000;
    const msgs = Math.max(1, acked);
    const accepted = (await broker.usage()).stats['updates.accepted'] ?? 0;
    const file = kind === 'aedes' ? 0 : statSync(join(broker.dataDir, 'data.mdb')).size;
    if (kind !== 'aedes') {
      const s = u1.stats;
      const rejected = (s['messages.rejected'] ?? 0) + (s['messages.signature-refused'] ?? 0);
      if (rejected > 0) throw new Error(`hub rejected ${rejected} bench messages: ${JSON.stringify(s)}`);
      if ((s['updates.accepted'] ?? 0) < acked * perMessage) throw new Error(`hub accepted fewer updates than were acknowledged: ${JSON.stringify(s)}`);
      if (kind === 'hub-signed' && (s['sig.verified'] ?? 0) < (s['updates.accepted'] ?? 0)) throw new Error(`signed hub accepted updates it did not verify: ${JSON.stringify(s)}`);
    }
    return {
      msgsPerSec: acked / seconds,
      updatesPerSec: (acked * perMessage) / seconds,
      brokerCpu: ((u1.cpuMs - u0.cpuMs) / (t1 - t0)) * 100,
      clientCpu: ((c1.user + c1.system) / 1000 / (t1 - t0)) * 100,
      brokerUsPerMsg: ((u1.cpuMs - u0.cpuMs) * 1000) / msgs,
      threadUsPerMsg: threadDelta(broker.pid, p0, p1).map(([role, ms, n]) => [role, (ms * 1000) / msgs, n]),
      diskBytesPerUpdate: (p1.writeBytes - p0.writeBytes) / (msgs * perMessage),
      fileBytesPerUpdate: accepted > 0 ? file / accepted : 0,
    };
  } finally {
    await broker.stop();
    if (signing) rmSync(signing.dir, { recursive: true, force: true });
  }
}

/** Fetches /metrics every SCRAPE_MS (each one read whole) until stopped; resolves to the scrapes done. */
function scrapeEvery(port: number, fail: (err: Error) => void): { stop(): Promise<number> } {
  let n = 0;
  let last: Promise<void> = Promise.resolve();
  const one = async (): Promise<void> => {
    const res = await fetch(`http://${HOST}:${port}/metrics`);
    const text = await res.text();
    if (res.status !== 200 || !text.includes('hamsync_put_ack_seconds_count')) throw new Error(`/metrics answered ${res.status}`);
    n++;
  };
  const timer = setInterval(() => {
    last = last.then(one).catch(fail);
  }, SCRAPE_MS);
  return {
    async stop() {
      clearInterval(timer);
      await last;
      return n;
    },
  };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === SELF;
if (isMain && process.argv[2] === '--serve') {
  const kind = process.argv[3];
  if (kind !== 'hub' && kind !== 'aedes' && kind !== 'hub-signed' && kind !== 'hub-scraped') throw new Error(`--serve hub|aedes|hub-signed|hub-scraped, got ${kind}`);
  serve(kind, process.argv[4] as string, process.argv[5]).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
