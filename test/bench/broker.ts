/**
 * Broker benchmark: how much the hub (HAM resolution + LMDB durability before every PUBACK, plus
 * the retained state publish) costs against a plain Aedes that only acknowledges.
 *
 *  (a) updates/s from 10 simulated devices (10 mqtt.js clients, each its own device id, QoS 1,
 *      a fixed in-flight window per client) with 1 and with 100 updates per message, through our
 *      broker and through a plain Aedes with no hub; same clients, same payloads.
 *      At 100 updates per message also "hub, signed puts": every update signed by its device's
 *      Ed25519 key (signed before the run, in this process), the hub holding the 10 public keys
 *      and verifying each update before HAM; reported against the unsigned hub.
 *      Also "hub, /metrics scraped every second": the hub with its admin API on (so the put path's
 *      latency histograms are observed) and this process fetching /metrics once a second during the
 *      run, against the plain hub (no admin API): what the metrics cost the hub.
 *  (b) p50/p99 put -> state-topic latency at a fixed 2,000 updates/s (paced publisher, subscriber
 *      on hamsync/default/state/#, send time embedded in the value), with two references: plain
 *      Aedes forwarding the put to a subscriber, and the disk's floor (raw lmdb-js put -> flushed
 *      at the same rate; the hub cannot acknowledge sooner). On a shared machine the p99s follow
 *      the disk's fsync tail: read them next to the floor.
 *
 * Arrangement: each broker runs alone in a child process (this file with `--serve hub|aedes`),
 * fresh (and with a fresh temp data dir) for every run; the clients share this process. So the
 * clients cannot steal the broker's event loop, and both brokers get exactly the same treatment.
 * Broker and client CPU use over each measured window are reported to show which side saturated.
 *
 * Standalone: `node dist/test/bench/broker.js` prints a table. `BENCH_BROKER_PROF=<dir>` runs the
 * broker children with `--cpu-prof --cpu-prof-dir=<dir>`.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { generateKeyPairSync, sign as edSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { sleep } from '../helpers/wait.js';

export interface Row {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const SELF = fileURLToPath(import.meta.url);
const HOST = '127.0.0.1';
const NS = 'default';
const DEVICES = 10;
/** Messages in flight (sent, PUBACK not yet received) per client, by updates per message. */
const WINDOW: Record<number, number> = { 1: 64, 100: 8 };
const KEYS_PER_DEVICE = 100;
const WARM_MS = 1_000;
const MEASURE_MS = 3_000;
const REPS = 2;
const LATENCY_RATE = 2_000;
const LATENCY_WARM_MS = 2_000;
const LATENCY_MS = 10_000;
const AEDES_LATENCY_MS = 5_000;
/** States well in the past of the hub's wall clock (nothing deferred), increasing per device. */
const STATE_BASE = Date.now() - 1e9;

export type Kind = 'hub' | 'aedes' | 'hub-signed' | 'hub-scraped';
/** How often the 'hub-scraped' runs fetch /metrics, in ms (Prometheus' tightest usual interval). */
const SCRAPE_MS = 1_000;
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

class BrokerChild {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly exited: Promise<number | null>;

  private constructor(
    child: ChildProcessByStdio<Writable, Readable, null>,
    /** Callers waiting for the child's next stdout line, in order. */
    private readonly waiting: ((line: string) => void)[],
    readonly port: number,
    private readonly dataDir: string,
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

async function connect(port: number, clientId: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync({ host: HOST, port, clientId, clean: true, reconnectPeriod: 0, keepalive: 0 });
  (client.stream as Socket).setNoDelay(true);
  return client;
}

function end(client: MqttClient): Promise<void> {
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
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    counting = true;
    await sleep(MEASURE_MS);
    counting = false;
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
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
      brokerUsPerMsg: ((u1.cpuMs - u0.cpuMs) * 1000) / Math.max(1, acked),
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

export interface Latency {
  p50: number;
  p99: number;
  max: number;
  ackP50: number;
  ackP99: number;
  sent: number;
  received: number;
  /** Achieved send rate over the measured window, per second. */
  rate: number;
}

/**
 * The disk's floor under the hub's latency: raw lmdb-js, one put per message at the same paced
 * rate, each timed until `flushed` (what every PUBACK from the hub waits for), in ms.
 */
export async function diskFloor(rate = LATENCY_RATE, ms = 3_000): Promise<{ p50: number; p99: number }> {
  const { open } = await import('lmdb');
  const dir = mkdtempSync(join(tmpdir(), 'hamsync-bench-fsync-'));
  const db = open({ path: dir });
  const times: number[] = [];
  try {
    const start = performance.now();
    let n = 0;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const elapsed = performance.now() - start;
        while (n < Math.floor((Math.min(elapsed, ms) * rate) / 1000)) {
          const t = performance.now();
          void db.put(`k${n++}`, { t });
          void db.flushed.then(() => times.push(performance.now() - t));
        }
        if (elapsed >= ms) done();
        else setTimeout(tick, 1);
      };
      tick();
    });
    await db.flushed;
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Paced single-update puts at `rate`/s (a 1 ms timer sends whatever is due); a subscriber times
 * the resolved state message (hub) or, for plain Aedes, the forwarded put itself.
 */
export async function latency(kind: Kind, measureMs: number): Promise<Latency> {
  const broker = await BrokerChild.start(kind);
  try {
    const sub = await connect(broker.port, 'bench-lat-sub');
    const pub = await connect(broker.port, 'bench-lat-pub');
    const device = 'lat-pub';
    const filter = kind === 'hub' ? `hamsync/${NS}/state/#` : `hamsync/${NS}/put/#`;
    await sub.subscribeAsync(filter, { qos: 1 });
    const samples: number[] = [];
    const acks: number[] = [];
    /** Puts with an index in [first, end) are timed: sent after the warm-up. */
    let first = Infinity;
    let endIndex = Infinity;
    const seen = new Set<number>();
    let arrived = 0;
    sub.on('message', (_topic, payload) => {
      const now = performance.now();
      const obj = JSON.parse(payload.toString()) as { v?: { i?: unknown; t?: unknown }; u?: { v?: { i?: unknown; t?: unknown } }[] };
      const v = kind === 'hub' ? obj.v : obj.u?.[0]?.v;
      if (typeof v?.t !== 'number' || typeof v.i !== 'number' || seen.has(v.i)) return;
      seen.add(v.i);
      arrived++;
      if (v.i >= first && v.i < endIndex) samples.push(now - v.t);
    });
    const topic = `hamsync/${NS}/put/${device}`;
    let sent = 0;
    let failure: Error | undefined;
    const start = performance.now();
    const total = LATENCY_WARM_MS + measureMs;
    await new Promise<void>((done) => {
      const tick = (): void => {
        const elapsed = performance.now() - start;
        if (elapsed >= LATENCY_WARM_MS && first === Infinity) first = sent;
        const due = Math.floor((Math.min(elapsed, total) * LATENCY_RATE) / 1000);
        while (sent < due) {
          const i = sent++;
          const t = performance.now();
          const payload = `{"src":"${device}","u":[{"k":"lat/${i % 100}","v":{"i":${i},"t":${t}},"s":${STATE_BASE + i}}]}`;
          pub.publish(topic, payload, { qos: 1 }, (err) => {
            if (err) failure ??= err;
            else if (i >= first) acks.push(performance.now() - t);
          });
        }
        if (elapsed >= total) {
          endIndex = sent;
          done();
        } else setTimeout(tick, 1);
      };
      tick();
    });
    const elapsedMeasured = performance.now() - start - LATENCY_WARM_MS;
    // Let the last messages arrive.
    const deadline = performance.now() + 2_000;
    while (arrived < sent && performance.now() < deadline) await sleep(10);
    if (failure) throw failure;
    await Promise.all([end(pub), end(sub)]);
    samples.sort((a, b) => a - b);
    acks.sort((a, b) => a - b);
    return {
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      max: samples[samples.length - 1] ?? NaN,
      ackP50: percentile(acks, 50),
      ackP99: percentile(acks, 99),
      sent: endIndex - first,
      received: samples.length,
      rate: ((endIndex - first) / elapsedMeasured) * 1000,
    };
  } finally {
    await broker.stop();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (n: number): string => `${Math.round(n)}%`;

/** Runs the whole broker benchmark (about a minute) and returns its rows. */
export async function benchBroker(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const perMessage of [1, 100]) {
    const runs: Record<Kind, Throughput[]> = { hub: [], aedes: [], 'hub-signed': [], 'hub-scraped': [] };
    const kinds: Kind[] = perMessage === 100 ? ['aedes', 'hub', 'hub-scraped', 'hub-signed'] : ['aedes', 'hub', 'hub-scraped'];
    // Alternate the brokers so drift in machine load hits both.
    for (let rep = 0; rep < REPS; rep++) {
      for (const kind of kinds) runs[kind].push(await throughput(kind, perMessage));
    }
    const best = (kind: Kind): Throughput => runs[kind].reduce((a, b) => (b.updatesPerSec > a.updatesPerSec ? b : a));
    const aedes = best('aedes');
    const hub = best('hub');
    const unit = perMessage === 1 ? 'msgs/s' : 'updates/s';
    const value = (t: Throughput): number => (perMessage === 1 ? t.msgsPerSec : t.updatesPerSec);
    const detail = (kind: Kind, t: Throughput): string =>
      `best of ${REPS} (${runs[kind].map((r) => fmt(value(r))).join(', ')}); broker CPU ${pct(t.brokerCpu)} (${t.brokerUsPerMsg.toFixed(0)} µs/msg), clients CPU ${pct(t.clientCpu)}` +
      (perMessage === 1 ? '' : `; ${fmt(t.msgsPerSec)} msgs/s`);
    const label = `${perMessage} update${perMessage === 1 ? '' : 's'}/msg`;
    rows.push({ name: `plain Aedes, ${DEVICES} clients, QoS 1, ${label}`, value: value(aedes), unit, note: detail('aedes', aedes) });
    rows.push({ name: `hub (HAM + LMDB before PUBACK), ${label}`, value: value(hub), unit, note: detail('hub', hub) });
    const ratio = value(hub) / value(aedes);
    rows.push({
      name: `hub / plain Aedes, ${label}`,
      value: Math.round(ratio * 100) / 100,
      unit: 'x',
      note:
        (perMessage === 1 ? `aim >= 0.5: ${ratio >= 0.5 ? 'met' : 'MISSED'}` : `aim >= 100,000 updates/s through the hub: ${hub.updatesPerSec >= 100_000 ? 'met' : 'MISSED'}`) +
        `; broker CPU per message: hub ${(hub.brokerUsPerMsg / aedes.brokerUsPerMsg).toFixed(1)}x plain Aedes`,
    });
    const scraped = best('hub-scraped');
    rows.push({ name: `hub, /metrics scraped every ${SCRAPE_MS / 1000} s (admin API on), ${label}`, value: value(scraped), unit, note: detail('hub-scraped', scraped) });
    rows.push({
      name: `hub scraped / hub, ${label}`,
      value: Math.round((value(scraped) / value(hub)) * 100) / 100,
      unit: 'x',
      note: `what metrics cost the hub; broker CPU per message: ${scraped.brokerUsPerMsg.toFixed(0)} µs scraped, ${hub.brokerUsPerMsg.toFixed(0)} µs plain`,
    });
    if (runs['hub-signed'].length > 0) {
      const signed = best('hub-signed');
      rows.push({ name: `hub, signed puts (Ed25519 verified before HAM), ${label}`, value: value(signed), unit, note: detail('hub-signed', signed) });
      rows.push({
        name: `hub signed / hub unsigned, ${label}`,
        value: Math.round((value(signed) / value(hub)) * 100) / 100,
        unit: 'x',
        note: `broker CPU per update: ${(signed.brokerUsPerMsg / perMessage).toFixed(0)} µs signed, ${(hub.brokerUsPerMsg / perMessage).toFixed(0)} µs unsigned`,
      });
    }
  }

  const hubLat = await latency('hub', LATENCY_MS);
  const aedesLat = await latency('aedes', AEDES_LATENCY_MS);
  const r2 = (n: number): number => Math.round(n * 100) / 100;
  const latNote = (l: Latency): string => `${fmt(l.sent)} puts at ${fmt(l.rate)}/s over ${(l.sent / l.rate).toFixed(1)} s, ${fmt(l.received)} timed; max ${r2(l.max)} ms; PUBACK p50 ${r2(l.ackP50)} ms, p99 ${r2(l.ackP99)} ms`;
  rows.push({ name: `hub: put -> state topic p50 @ ${fmt(LATENCY_RATE)} updates/s`, value: r2(hubLat.p50), unit: 'ms', note: latNote(hubLat) });
  rows.push({ name: `hub: put -> state topic p99 @ ${fmt(LATENCY_RATE)} updates/s`, value: r2(hubLat.p99), unit: 'ms', note: `aim < 10 ms: ${hubLat.p99 < 10 ? 'met' : 'MISSED'}` });
  rows.push({ name: `plain Aedes: put -> subscriber p50 @ ${fmt(LATENCY_RATE)} msgs/s`, value: r2(aedesLat.p50), unit: 'ms', note: latNote(aedesLat) });
  rows.push({ name: `plain Aedes: put -> subscriber p99 @ ${fmt(LATENCY_RATE)} msgs/s`, value: r2(aedesLat.p99), unit: 'ms', note: 'reference: forwarded put, no hub' });
  const floor = await diskFloor();
  const floorName = `disk floor: raw lmdb-js put -> flushed @ ${fmt(LATENCY_RATE)}/s`;
  rows.push({ name: `${floorName}, p50`, value: r2(floor.p50), unit: 'ms', note: 'no hamsync code; the hub cannot PUBACK sooner than this' });
  rows.push({ name: `${floorName}, p99`, value: r2(floor.p99), unit: 'ms' });
  return rows;
}

export function formatRows(rows: Row[]): string {
  const value = (r: Row): string => (r.unit === 'x' || r.unit === 'ms' ? String(r.value) : fmt(r.value));
  const w = [Math.max(...rows.map((r) => r.name.length)), Math.max(...rows.map((r) => value(r).length)), Math.max(...rows.map((r) => r.unit.length))] as const;
  return rows.map((r) => `${r.name.padEnd(w[0])}  ${value(r).padStart(w[1])} ${r.unit.padEnd(w[2])}  ${r.note ?? ''}`.trimEnd()).join('\n');
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === SELF;
if (isMain && process.argv[2] === '--serve') {
  const kind = process.argv[3];
  if (kind !== 'hub' && kind !== 'aedes' && kind !== 'hub-signed' && kind !== 'hub-scraped') throw new Error(`--serve hub|aedes|hub-signed|hub-scraped, got ${kind}`);
  serve(kind, process.argv[4] as string, process.argv[5]).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else if (isMain && process.env.NODE_TEST_CONTEXT !== undefined) {
  console.log('bench: skipped under node --test; run `node dist/test/bench/broker.js`');
} else if (isMain) {
  const started = Date.now();
  benchBroker().then(
    (rows) => {
      console.log(formatRows(rows));
      console.log(
        `- each broker alone in a child process (fresh per run, fresh temp LMDB dir for the hub); ${DEVICES} mqtt.js clients in the parent, TCP_NODELAY both ends; ` +
          `window ${WINDOW[1]} msgs/client at 1 update/msg, ${WINDOW[100]} at 100; ${WARM_MS / 1000} s warm-up + ${MEASURE_MS / 1000} s measured per run.`,
      );
      console.log(`- node ${process.version}, ${(Date.now() - started) / 1000} s total`);
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
