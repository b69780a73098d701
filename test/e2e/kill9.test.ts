/**
 * End-to-end durability: the broker runs as a real child process (the CLI), a publisher in this
 * process sends single-update QoS 1 puts, and the broker is SIGKILLed and restarted (same port,
 * same data directory) several times while they flow. A message counts as acknowledged only when
 * its publish callback resolved without error (the PUBACK arrived); unacknowledged ones are resent
 * on the next connection. At the end the data directory is opened directly: every acknowledged
 * update must be there (lost = 0).
 *
 * Seeded: set KILL9_SEED to replay a run (the seed is printed with the ledger and on failure).
 * Note: SIGKILL loses the process, not the OS page cache; this checks write-before-PUBACK, not fsync.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { canonical, ManualClock, Replica } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { prng, randomSeed, seedFromEnv } from '../helpers/seed.js';
import { sleep } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const MESSAGES = 3000;
const KEYS = 50;
const KILLS = 4;
/** Most puts in flight (sent, PUBACK not yet received) on one connection. */
const WINDOW = 64;
const SOURCE = 'kill9-pub';
const TOPIC = `hamsync/default/put/${SOURCE}`;
const DEADLINE_MS = 75_000;
const READY_TIMEOUT_MS = 15_000;

const keyOf = (i: number): string => `k/${i % KEYS}`;
const stateOf = (i: number): number => i + 1;
const payloadOf = (i: number): string => JSON.stringify({ src: SOURCE, u: [{ k: keyOf(i), v: i, s: stateOf(i) }] });



/** One run of `hamsync broker` as a child process. */
class BrokerProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  stderr = '';

  private constructor(child: ChildProcessByStdio<null, Readable, Readable>) {
    this.child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** Spawns the broker and resolves with the port once it printed `{"listening":…}`. */
  static async start(dataDir: string, port: number): Promise<{ proc: BrokerProcess; port: number }> {
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, [MAIN, 'broker', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const proc = new BrokerProcess(child);
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    const listening = new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (s: string) => {
        out += s;
        const m = /\{"listening":\{"port":(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      void proc.exited.then(({ code, signal }) => reject(new Error(`broker exited before listening (code ${code}, signal ${signal}); stderr:\n${proc.stderr}`)));
      timer = setTimeout(() => reject(new Error(`broker not listening after ${READY_TIMEOUT_MS} ms; stderr:\n${proc.stderr}`)), READY_TIMEOUT_MS);
    });
    try {
      return { proc, port: await listening };
    } catch (err) {
      child.kill('SIGKILL');
      await proc.exited;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.child.kill(signal);
    return this.exited;
  }
}

/** Connects once; resolves undefined when the broker is not there (yet). */
function connectOnce(port: number): Promise<MqttClient | undefined> {
  return new Promise((resolve) => {
    const client = mqtt.connect({ host: '127.0.0.1', port, clientId: 'kill9-publisher', clean: true, reconnectPeriod: 0, connectTimeout: 2_000, keepalive: 0 });
    const fail = (): void => {
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end(true);
      resolve(undefined);
    };
    client.once('connect', () => {
      client.off('close', fail);
      client.off('error', fail);
      (client.stream as Socket).setNoDelay?.(true);
      resolve(client);
    });
    client.once('close', fail);
    client.once('error', fail);
  });
}

interface Ledger {
  acked: Set<number>;
  /** Set when the test failed elsewhere: the publisher stops. */
  aborted: boolean;
  sent: number;
  connections: number;
  errors: number;
}

/**
 * Publishes every message until all are acknowledged (or the deadline), reconnecting after each
 * loss of the broker and resending whatever was not acknowledged.
 */
async function publishAll(port: number, ledger: Ledger, deadline: number, progress: () => void): Promise<void> {
  const pending: number[] = Array.from({ length: MESSAGES }, (_, i) => MESSAGES - 1 - i); // a stack: pop() gives the lowest
  /** message -> connection number it is in flight on. */
  const inflight = new Map<number, number>();
  let gen = 0;
  while (ledger.acked.size < MESSAGES) {
    if (ledger.aborted) return;
    if (Date.now() > deadline) throw new Error(`publisher gave up: ${ledger.acked.size}/${MESSAGES} acknowledged at the deadline`);
    const client = await connectOnce(port);
    if (!client) {
      await sleep(20);
      continue;
    }
    const g = ++gen;
    ledger.connections++;
    await new Promise<void>((done) => {
      let open = true;
      const finish = (): void => {
        if (!open) return;
        open = false;
        // Whatever is in flight on this connection may or may not be stored: send it again.
        for (const [i, on] of inflight) {
          if (on !== g) continue;
          inflight.delete(i);
          if (!ledger.acked.has(i)) pending.push(i);
        }
        client.removeAllListeners('close');
        client.on('error', () => undefined);
        client.end(true);
        done();
      };
      const pump = (): void => {
        if (ledger.aborted) return finish();
        while (open && inflight.size < WINDOW && pending.length > 0) {
          const i = pending.pop() as number;
          if (ledger.acked.has(i)) continue;
          inflight.set(i, g);
          ledger.sent++;
          client.publish(TOPIC, payloadOf(i), { qos: 1 }, (err) => {
            if (!err) {
              // A PUBACK: the broker says it is durable, whichever connection carried it.
              ledger.acked.add(i);
              progress();
            } else {
              ledger.errors++;
            }
            if (inflight.get(i) === g) {
              inflight.delete(i);
              if (err && !ledger.acked.has(i)) pending.push(i);
            }
            if (ledger.acked.size === MESSAGES) finish();
            else pump();
          });
        }
      };
      client.on('close', finish);
      client.on('error', finish);
      pump();
    });
  }
}

test('every PUBACKed put survives SIGKILL of the broker (child process, same port and data dir)', { timeout: 90_000 }, async (t) => {
  const seed = seedFromEnv(randomSeed(), 'KILL9_SEED');
  const rand = prng(seed);
  const dataDir = tempDir(t);
  const started = Date.now();
  const events: string[] = [];
  const ledger: Ledger = { acked: new Set(), aborted: false, sent: 0, connections: 0, errors: 0 };
  let broker: BrokerProcess | undefined;
  try {
    const first = await BrokerProcess.start(dataDir, 0);
    broker = first.proc;
    const port = first.port;

    // Kill points: when the acknowledged count passes a random threshold, after a random 0-20 ms.
    const thresholds = Array.from({ length: KILLS }, () => Math.floor(MESSAGES * (0.05 + 0.85 * rand()))).sort((a, b) => a - b);
    let wake: () => void = () => undefined;
    const progress = (): void => wake();
    const killer = (async () => {
      for (let k = 0; k < KILLS; k++) {
        const threshold = thresholds[k] as number;
        while (ledger.acked.size < threshold) await new Promise<void>((r) => (wake = r));
        wake = () => undefined;
        const jitter = Math.floor(rand() * 20);
        await sleep(jitter);
        const at = ledger.acked.size;
        const victim = broker as BrokerProcess;
        const ended = await victim.kill('SIGKILL');
        assert.equal(ended.signal, 'SIGKILL', `broker ended by ${ended.signal}, not by the kill; stderr:\n${victim.stderr}`);
        const down = Math.floor(rand() * 200);
        // PUBACKs the broker wrote before it died may still arrive after the signal was sent.
        events.push(`kill ${k + 1}: at ${at} acked (${ledger.acked.size} once it was gone; threshold ${threshold} + ${jitter} ms), down ${down} ms`);
        await sleep(down);
        broker = (await BrokerProcess.start(dataDir, port)).proc;
      }
    })();
    const deadline = started + DEADLINE_MS;
    await Promise.all([
      publishAll(port, ledger, deadline, progress),
      killer.catch((err: unknown) => {
        ledger.aborted = true;
        throw err;
      }),
    ]);

    const { code, signal } = await broker.kill('SIGTERM');
    assert.equal(code, 0, `broker did not stop cleanly on SIGTERM (code ${code}, signal ${signal}); stderr:\n${broker.stderr}`);
    assert.equal(broker.stderr, '', `broker wrote warnings or errors:\n${broker.stderr}`);
    broker = undefined;

    // Open the data directory directly: far-future clock, so nothing counts as from the future.
    const replica = await Replica.open({ dataDir, clock: new ManualClock(8_000_000_000_000_000), mapSize: 1024 ** 3 });
    let stored = 0;
    const lost: number[] = [];
    try {
      const history = new Map<string, Set<string>>();
      const live = new Map<string, string>();
      for (let k = 0; k < KEYS; k++) {
        const key = `k/${k}`;
        history.set(key, new Set(replica.history(key).map((h) => `${h.state}\u0000${h.source}\u0000${canonical(h.value)}`)));
        const e = replica.get(key);
        if (e) live.set(key, `${e.state}\u0000${e.source}\u0000${canonical(e.value)}`);
      }
      for (let i = 0; i < MESSAGES; i++) {
        const fp = `${stateOf(i)}\u0000${SOURCE}\u0000${canonical(i)}`;
        const there = history.get(keyOf(i))?.has(fp) === true || live.get(keyOf(i)) === fp;
        if (there) stored++;
        else if (ledger.acked.has(i)) lost.push(i);
      }
      // Nothing unasked-for: every history row is one of ours.
      for (const [key, rows] of history) for (const r of rows) assert.ok(r.split('\u0000')[1] === SOURCE, `${key} has a foreign row ${r}`);
    } finally {
      await replica.close();
    }
    const line = `kill9 ledger (seed ${seed}): messages ${MESSAGES}, acked ${ledger.acked.size}, stored ${stored}, lost ${lost.length}; sent ${ledger.sent} (resent ${ledger.sent - MESSAGES}), connections ${ledger.connections}, publish errors ${ledger.errors}, ${Date.now() - started} ms\n  ${events.join('\n  ')}`;
    console.log(line);
    assert.equal(events.length, KILLS, 'not every kill happened');
    assert.equal(ledger.acked.size, MESSAGES, 'every message is acknowledged in the end');
    assert.deepEqual(lost.slice(0, 20), [], `acknowledged but not stored: ${lost.length} messages (first: ${lost.slice(0, 20).join(', ')})`);
  } catch (err) {
    ledger.aborted = true;
    console.error(`kill9 failed; replay with KILL9_SEED=${seed}\n  ${events.join('\n  ')}\n  acked ${ledger.acked.size}, sent ${ledger.sent}, connections ${ledger.connections}`);
    throw err;
  } finally {
    if (broker) await broker.kill('SIGKILL');
  }
});
