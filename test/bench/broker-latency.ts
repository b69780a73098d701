/**
 * Latency at a paced rate (LATENCY_RATE updates/s, one update per put): put -> state topic through
 * the hub, put -> forwarded put through plain Aedes, and the PUBACK floor (raw lmdb-js put ->
 * flushed at the same rate) the hub's PUBACK, and so its state publish, cannot beat.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../helpers/wait.js';
import { BrokerChild, connect, end, NS, STATE_BASE } from './broker.js';

export const LATENCY_RATE = 2_000;
const LATENCY_WARM_MS = 2_000;

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
 * The PUBACK floor: raw lmdb-js, one put per message at the same paced rate, each timed until
 * `flushed` (what every PUBACK from the hub waits for), in ms. The fsync-bound latency below which
 * no put -> PUBACK (and so no put -> state, the state publish following durability) can go.
 */
export async function pubackFloor(ms: number, rate = LATENCY_RATE): Promise<{ p50: number; p99: number }> {
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

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Paced single-update puts at `rate`/s (a 1 ms timer sends whatever is due); a subscriber times
 * the resolved state message (hub) or, for plain Aedes, the forwarded put itself.
 */
export async function latency(kind: 'hub' | 'aedes', measureMs: number): Promise<Latency> {
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

