/**
 * Ed25519 verification off the event loop, on a few worker threads (verify-worker.ts).
 *
 * Why not `crypto.verify` with a callback: each such call is one job on libuv's thread pool,
 * which costs about as much CPU again as the verification itself (measured: ~260 µs per update
 * at the hub against ~165 µs verifying synchronously), and thousands of them queued at once
 * would also hold lmdb-js's commits and fsyncs, which run on that same pool. A worker verifies a
 * whole chunk of a batch per message, synchronously, at the cost of the verification alone.
 *
 * Workers start at first use and do not keep the process alive while idle. A worker that dies
 * fails the chunks it held (the callers refuse those messages without storing anything: the
 * hub does not acknowledge them) and is replaced at the next call.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface VerifyItem {
  /** The signer's public key, base64url. */
  pub: string;
  /** The signed bytes (src/sign/message.ts). */
  data: Uint8Array;
  /** The raw 64-byte signature. */
  sig: Uint8Array;
}

/** A message to a worker, and its answer (one byte per item: 1 verified, 0 not). */
export interface VerifyJob {
  id: number;
  items: VerifyItem[];
}
export interface VerifyResult {
  id: number;
  ok: Uint8Array;
}

/** Items per worker message: big enough to pay the message once per many verifications, small enough to spread a batch over every worker. */
const CHUNK = 128;

interface Slot {
  worker: Worker;
  jobs: Map<number, { resolve: (ok: Uint8Array) => void; reject: (err: Error) => void }>;
  /** Items sent and not yet answered. */
  load: number;
}

export class VerifyPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;

  /** `size` workers, default one per core (at most 4). */
  constructor(readonly size = Math.min(4, Math.max(1, availableParallelism()))) {}

  /** Whether each item's signature verifies, in order. */
  async verify(items: readonly VerifyItem[]): Promise<boolean[]> {
    if (items.length === 0) return [];
    const parts: Promise<Uint8Array>[] = [];
    for (let i = 0; i < items.length; i += CHUNK) parts.push(this.send(items.slice(i, i + CHUNK)));
    const answers = await Promise.all(parts);
    const out: boolean[] = [];
    for (const ok of answers) for (const b of ok) out.push(b === 1);
    return out;
  }

  /** Stops the workers (pending chunks fail). */
  async close(): Promise<void> {
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private send(items: VerifyItem[]): Promise<Uint8Array> {
    const slot = this.leastLoaded();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject });
      if (slot.load === 0) slot.worker.ref();
      slot.load += items.length;
      const job: VerifyJob = { id, items };
      slot.worker.postMessage(job);
    }).then((ok) => {
      this.done(slot, items.length);
      return ok as Uint8Array;
    });
  }

  private done(slot: Slot, n: number): void {
    slot.load -= n;
    // Idle workers must not keep the process alive; busy ones must (someone awaits them).
    if (slot.load === 0) slot.worker.unref();
  }

  private leastLoaded(): Slot {
    if (this.slots.length < this.size) {
      const idle = this.slots.find((s) => s.load === 0);
      if (idle) return idle;
      return this.spawn();
    }
    return this.slots.reduce((a, b) => (b.load < a.load ? b : a));
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./verify-worker.js', import.meta.url));
    worker.unref();
    const slot: Slot = { worker, jobs: new Map(), load: 0 };
    const fail = (err: Error): void => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const job of slot.jobs.values()) job.reject(err);
      slot.jobs.clear();
    };
    worker.on('message', (r: VerifyResult) => {
      const job = slot.jobs.get(r.id);
      if (!job) return;
      slot.jobs.delete(r.id);
      job.resolve(r.ok);
    });
    worker.on('error', (err) => fail(new Error(`signature verification worker failed: ${err.message}`)));
    worker.on('exit', (code) => fail(new Error(`signature verification worker exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }
}

/** The process's pool, shared by every caller of checkSignaturesAsync. */
export const verifyPool = new VerifyPool();
