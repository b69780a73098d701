/**
 * Bench section `verify`: Ed25519 verification of signed puts, in updates/s and CPU µs/update
 * (process CPU, every thread), for
 * - the native floor: `crypto.verify` in a loop on one thread;
 * - the old path: the pool as it was before batching (one structured-cloned message per call,
 *   chunks of 128, at most 4 workers), rebuilt here so both run in the same process;
 * - the new path: src/sign/verify-pool.ts;
 * at 1 and 100 updates per message, the same keys and messages for all three, runs alternating,
 * median of REPS. Messages are kept IN_FLIGHT at once, as a hub's connections keep puts in flight.
 * Then, end to end, signed puts against the hub (broker.ts's `hub-signed` load, a keys file).
 */
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { signingBytes } from '../../src/sign/message.js';
import { VerifyPool, type VerifyItem } from '../../src/sign/verify-pool.js';
import { throughput } from './broker.js';
import { median } from './stats.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const REPS = 3;
const IN_FLIGHT = 64;
const UPDATES = Math.max(200, Math.round(6_000 * SCALE));
const SOURCES = 10;

export interface VerifyRow {
  what: string;
  rate: string;
  vs: string;
}

interface Run {
  perSec: number;
  cpuUs: number;
}

/** The pre-batching pool, kept only as the bench's baseline (same protocol: items cloned, 128 per message). */
class OldPool {
  private readonly workers: { w: Worker; load: number; jobs: Map<number, (ok: Uint8Array) => void> }[] = [];
  private next = 0;
  constructor(size = Math.min(4, availableParallelism())) {
    const code = `const { verify, createPublicKey } = require('node:crypto'); const { parentPort } = require('node:worker_threads');
      const keys = new Map();
      parentPort.on('message', (job) => {
        const ok = new Uint8Array(job.items.length);
        job.items.forEach((it, i) => {
          let k = keys.get(it.pub);
          if (!k) { k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: it.pub }, format: 'jwk' }); keys.set(it.pub, k); }
          try { ok[i] = verify(null, it.data, k, it.sig) ? 1 : 0; } catch { ok[i] = 0; }
        });
        parentPort.postMessage({ id: job.id, ok }, [ok.buffer]);
      });`;
    for (let i = 0; i < size; i++) {
      const slot = { w: new Worker(code, { eval: true }), load: 0, jobs: new Map<number, (ok: Uint8Array) => void>() };
      slot.w.on('message', (r: { id: number; ok: Uint8Array }) => {
        slot.jobs.get(r.id)?.(r.ok);
        slot.jobs.delete(r.id);
      });
      this.workers.push(slot);
    }
  }
  async verify(items: readonly VerifyItem[]): Promise<boolean[]> {
    const parts: Promise<Uint8Array>[] = [];
    for (let i = 0; i < items.length; i += 128) {
      const chunk = items.slice(i, i + 128);
      const slot = this.workers.reduce((a, b) => (b.load < a.load ? b : a));
      const id = this.next++;
      slot.load += chunk.length;
      parts.push(new Promise<Uint8Array>((resolve) => {
        slot.jobs.set(id, resolve);
        slot.w.postMessage({ id, items: chunk });
      }).finally(() => (slot.load -= chunk.length)));
    }
    return (await Promise.all(parts)).flatMap((ok) => Array.from(ok, (b) => b === 1));
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((s) => s.w.terminate()));
  }
}

/** Signed messages as the hub would build them: canonical bytes (a pooled Buffer) and the decoded signature. */
function makeMessages(perMessage: number): { messages: VerifyItem[][]; keys: Map<string, KeyObject> } {
  const pairs = Array.from({ length: SOURCES }, () => generateKeyPairSync('ed25519'));
  const keys = new Map<string, KeyObject>();
  const messages: VerifyItem[][] = [];
  for (let m = 0; m * perMessage < UPDATES; m++) {
    const s = m % SOURCES;
    const pair = pairs[s] as (typeof pairs)[number];
    const pub = pair.publicKey.export({ format: 'jwk' }).x as string;
    keys.set(pub, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub }, format: 'jwk' }));
    messages.push(Array.from({ length: perMessage }, (_, i) => {
      const data = signingBytes(`dev-${s}`, `dev-${s}/k${i}`, 1.7e12 + m, String(m * perMessage + i));
      return { pub, data, sig: Buffer.from(sign(null, data, pair.privateKey).toString('base64url'), 'base64url') };
    }));
  }
  return { messages, keys };
}

async function timed(updates: number, body: () => Promise<void>): Promise<Run> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await body();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { perSec: updates / seconds, cpuUs: (c.user + c.system) / updates };
}

function floor(messages: VerifyItem[][], keys: Map<string, KeyObject>): Promise<Run> {
  const n = messages.reduce((a, m) => a + m.length, 0);
  return timed(n, async () => {
    for (const m of messages) for (const it of m) if (!verify(null, it.data, keys.get(it.pub) as KeyObject, it.sig)) throw new Error('floor: a signature did not verify');
  });
}

/** Every message through `pool`, IN_FLIGHT at once; all must verify. */
function through(pool: { verify(items: readonly VerifyItem[]): Promise<boolean[]> }, messages: VerifyItem[][]): Promise<Run> {
  const n = messages.reduce((a, m) => a + m.length, 0);
  return timed(n, async () => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < messages.length) {
        const ok = await pool.verify(messages[next++] as VerifyItem[]);
        if (ok.includes(false)) throw new Error('a signature did not verify');
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  });
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const med = (runs: Run[], f: (r: Run) => number): number => median(runs.map(f));

export async function benchVerify(): Promise<VerifyRow[]> {
  const rows: VerifyRow[] = [];
  for (const perMessage of [1, 100]) {
    const { messages, keys } = makeMessages(perMessage);
    const oldPool = new OldPool();
    const newPool = new VerifyPool();
    const runs = { floor: [] as Run[], old: [] as Run[], new: [] as Run[] };
    try {
      await through(oldPool, messages.slice(0, 50));
      await through(newPool, messages.slice(0, 50));
      for (let rep = 0; rep < REPS; rep++) {
        runs.floor.push(await floor(messages, keys));
        runs.old.push(await through(oldPool, messages));
        runs.new.push(await through(newPool, messages));
      }
    } finally {
      await oldPool.close();
      await newPool.close();
    }
    const f = med(runs.floor, (r) => r.perSec);
    const fc = med(runs.floor, (r) => r.cpuUs);
    for (const [name, rs] of [['floor: crypto.verify loop, 1 thread', runs.floor], ['old path (per-call messages, cloned items)', runs.old], [`new path (batched, packed, ${newPool.size} workers)`, runs.new]] as const) {
      const rate = med(rs, (r) => r.perSec);
      const cpu = med(rs, (r) => r.cpuUs);
      rows.push({
        what: `${perMessage}/msg ${name}`,
        rate: `${fmt(rate)} updates/s, ${cpu.toFixed(1)} µs CPU/update`,
        vs: rs === runs.floor ? `runs: ${rs.map((r) => fmt(r.perSec)).join(', ')}` : `x floor: ${(rate / f).toFixed(2)} rate, ${(cpu / fc).toFixed(2)} CPU (runs: ${rs.map((r) => fmt(r.perSec)).join(', ')})`,
      });
    }
  }
  if (process.env.HAMSYNC_BENCH_VERIFY_HUB !== '0') {
    for (const perMessage of [1, 100]) {
      const t = await throughput('hub-signed', perMessage);
      rows.push({
        what: `${perMessage}/msg hub end to end (signed puts, keys file)`,
        rate: `${fmt(t.updatesPerSec)} updates/s`,
        vs: `broker CPU ${((t.brokerUsPerMsg) / perMessage).toFixed(1)} µs/update (all threads), ${t.brokerCpu.toFixed(0)} % of a core; aim >= 30,000 at 100/msg`,
      });
    }
  }
  return rows;
}
