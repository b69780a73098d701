/**
 * Ed25519 verification off the event loop, on worker threads (verify-worker.ts), one per core.
 *
 * Why not `crypto.verify` with a callback: each such call is one job on libuv's thread pool,
 * which costs about as much CPU again as the verification itself, and thousands of them queued
 * at once would also hold lmdb-js's commits and fsyncs, which run on that same pool.
 *
 * Batching: calls are not sent one by one. Their items wait in one queue, and are sent to the
 * workers after the current turn of the event loop (every put that arrived in it), packed into
 * one transferred buffer per worker message (verify-pack.ts). A worker holds at most
 * `DEPTH` messages at once; while all are busy, the queue grows and the next message a worker
 * gets carries everything waiting (up to `MAX_JOB` items). So under load one round trip serves
 * many puts, whatever their size; when idle, a put is sent at once and spread over the workers.
 *
 * The queue is bounded (`maxQueued` items, waiting or being verified): a call that would pass it
 * is refused at once with HAMSYNC_ERR_VERIFY_FULL (the hub then refuses the put without storing
 * or acknowledging it). Workers start when all running ones are busy, do not keep the process
 * alive while idle, and stop after `idleMs` without work (a thread's memory matters on a Pi).
 * A worker that dies fails every call with an item in its hands (no partial answers), and is
 * replaced at the next dispatch.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HamsyncError } from '../errors.js';
import { packItems, type PackItem } from './verify-pack.js';
import type { VerifyAnswer } from './verify-job.js';

/** One signature to check: the signer's base64url public key, the signed bytes (src/sign/message.ts), the raw 64-byte signature. */
export type VerifyItem = PackItem;

export interface VerifyPoolOptions {
  /** Worker threads. Default: one per core (os.availableParallelism()). */
  size?: number;
  /** Most items waiting or being verified at once. Default 65,536. */
  maxQueued?: number;
  /** The worker script (tests substitute one). Default verify-worker.js. */
  worker?: URL;
  /** The `workerData` the script is started with. */
  workerData?: unknown;
  /** A worker with nothing to do for this long is stopped (started again when needed). Default 30 s. */
  idleMs?: number;
}

/** Most items in one worker message. */
const MAX_JOB = 512;
/** Fewest items worth a message of their own when a dispatch could spread over several workers (a small put goes whole to one). */
const MIN_SHARE = 16;
/** Messages a worker holds at once: one being verified, one ready behind it (no idle gap for the round trip). */
const DEPTH = 2;
export const DEFAULT_MAX_QUEUED = 65_536;
export const DEFAULT_IDLE_MS = 30_000;

/** One `verify` call. */
interface Call {
  readonly items: readonly VerifyItem[];
  readonly ok: Uint8Array;
  /** Items not yet answered. */
  left: number;
  /** Items not yet handed to a worker (they are items[sent..]). */
  sent: number;
  done: boolean;
  resolve: (ok: boolean[]) => void;
  reject: (err: Error) => void;
}

/** The part of a call one worker message carries. */
interface Part {
  call: Call;
  from: number;
  count: number;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Part[]>;
  /** Armed while the worker has no job: stops it when it fires. */
  idle?: NodeJS.Timeout;
}

export class VerifyPool {
  readonly size: number;
  readonly maxQueued: number;
  readonly idleMs: number;
  private readonly script: URL;
  private readonly workerData: unknown;
  private readonly slots: Slot[] = [];
  /** Calls with items not yet sent, in arrival order. */
  private readonly waiting: Call[] = [];
  private waitingItems = 0;
  private busyItems = 0;
  private scheduled = false;
  private nextId = 0;
  private sentMessages = 0;

  /** `options` may be just the size (workers). */
  constructor(options: number | VerifyPoolOptions = {}) {
    const o = typeof options === 'number' ? { size: options } : options;
    this.size = Math.max(1, o.size ?? availableParallelism());
    this.maxQueued = Math.max(1, o.maxQueued ?? DEFAULT_MAX_QUEUED);
    this.idleMs = Math.max(0, o.idleMs ?? DEFAULT_IDLE_MS);
    this.script = o.worker ?? new URL('./verify-worker.js', import.meta.url);
    this.workerData = o.workerData;
  }

  /** Items waiting or being verified. */
  get queued(): number {
    return this.waitingItems + this.busyItems;
  }

  /** Messages sent to workers so far (each carries one or more calls' items). */
  get messagesSent(): number {
    return this.sentMessages;
  }

  /** Worker threads running. */
  get workers(): number {
    return this.slots.length;
  }

  /** Whether each item's signature verifies, in order. Refused (HAMSYNC_ERR_VERIFY_FULL) when the queue has no room for all of them. */
  verify(items: readonly VerifyItem[]): Promise<boolean[]> {
    if (items.length === 0) return Promise.resolve([]);
    if (this.queued + items.length > this.maxQueued) {
      return Promise.reject(
        new HamsyncError('HAMSYNC_ERR_VERIFY_FULL', `the signature verification queue holds ${this.queued} updates; ${items.length} more would pass its limit of ${this.maxQueued}`, {
          queued: this.queued,
          items: items.length,
          limit: this.maxQueued,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, ok: new Uint8Array(items.length), left: items.length, sent: 0, done: false, resolve, reject });
      this.waitingItems += items.length;
      this.schedule();
    });
  }

  /** Stops the workers: every call not yet answered fails. The pool starts new workers at the next call. */
  async close(): Promise<void> {
    const stopped = new Error('signature verification worker exited: the pool was closed');
    for (const call of this.waiting.splice(0)) this.fail(call, stopped);
    this.waitingItems = 0;
    await Promise.all(this.slots.splice(0).map((s) => (clearTimeout(s.idle), s.worker.terminate())));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.dispatch();
    });
  }

  /**
   * Sends waiting items to workers with room, shared evenly among the workers that can take
   * them (at most MAX_JOB per message). An idle worker comes first; a new one is started only
   * when every running one is busy, so light traffic (a daemon) keeps one thread's memory.
   */
  private dispatch(): void {
    const room = (): Slot[] => this.slots.filter((s) => s.jobs.size < DEPTH);
    const takers = room().length + (this.size - this.slots.length);
    const share = Math.min(MAX_JOB, Math.max(MIN_SHARE, Math.ceil(this.waitingItems / Math.max(1, takers))));
    while (this.waitingItems > 0) {
      const free = room();
      const slot = free.find((s) => s.jobs.size === 0) ?? (this.slots.length < this.size ? this.spawn() : free[0]);
      if (slot === undefined) return;
      this.send(slot, this.take(share));
    }
  }

  /** Up to `n` waiting items, from the oldest calls. */
  private take(n: number): Part[] {
    const parts: Part[] = [];
    while (n > 0 && this.waiting.length > 0) {
      const call = this.waiting[0] as Call;
      const count = Math.min(n, call.items.length - call.sent);
      parts.push({ call, from: call.sent, count });
      call.sent += count;
      n -= count;
      this.waitingItems -= count;
      this.busyItems += count;
      if (call.sent === call.items.length) this.waiting.shift();
    }
    return parts;
  }

  private send(slot: Slot, parts: Part[]): void {
    const items: VerifyItem[] = [];
    for (const p of parts) for (let i = p.from; i < p.from + p.count; i++) items.push(p.call.items[i] as VerifyItem);
    const id = this.nextId++;
    const job = packItems(id, items);
    if (slot.jobs.size === 0) {
      clearTimeout(slot.idle);
      slot.idle = undefined;
      slot.worker.ref();
    }
    slot.jobs.set(id, parts);
    this.sentMessages++;
    slot.worker.postMessage(job, [job.buf]);
  }

  private answer(slot: Slot, a: VerifyAnswer): void {
    const parts = slot.jobs.get(a.id);
    if (!parts) return;
    slot.jobs.delete(a.id);
    // Idle workers must not keep the process alive; busy ones must (someone awaits them).
    if (slot.jobs.size === 0) slot.worker.unref();
    let at = 0;
    for (const p of parts) {
      this.busyItems -= p.count;
      p.call.ok.set(a.ok.subarray(at, at + p.count), p.from);
      at += p.count;
      p.call.left -= p.count;
      if (p.call.left === 0 && !p.call.done) {
        p.call.done = true;
        p.call.resolve(Array.from(p.call.ok, (b) => b === 1));
      }
    }
    if (this.waitingItems > 0) this.dispatch();
    if (slot.jobs.size === 0 && slot.idle === undefined) this.armIdle(slot);
  }

  /** Stops `slot`'s worker if it is still without work after idleMs. */
  private armIdle(slot: Slot): void {
    slot.idle = setTimeout(() => {
      slot.idle = undefined;
      if (slot.jobs.size > 0) return;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      slot.worker.removeAllListeners('exit');
      void slot.worker.terminate();
    }, this.idleMs);
    slot.idle.unref();
  }

  /** A worker died: the calls it held fail whole (their other parts are dropped as they come back). */
  private lost(slot: Slot, err: Error): void {
    clearTimeout(slot.idle);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    for (const parts of slot.jobs.values()) {
      for (const p of parts) {
        this.busyItems -= p.count;
        this.fail(p.call, err);
      }
    }
    slot.jobs.clear();
    if (this.waitingItems > 0) this.schedule();
  }

  private fail(call: Call, err: Error): void {
    if (call.done) return;
    call.done = true;
    // Its items still waiting are withdrawn: nobody awaits their answer.
    const w = this.waiting.indexOf(call);
    if (w >= 0) {
      this.waiting.splice(w, 1);
      this.waitingItems -= call.items.length - call.sent;
    }
    call.reject(err);
  }

  private spawn(): Slot {
    const worker = new Worker(this.script, { workerData: this.workerData });
    worker.unref();
    const slot: Slot = { worker, jobs: new Map() };
    worker.on('message', (a: VerifyAnswer) => this.answer(slot, a));
    worker.on('error', (err) => this.lost(slot, new Error(`signature verification worker failed: ${err.message}`)));
    worker.on('exit', (code) => this.lost(slot, new Error(`signature verification worker exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }
}

/** The process's pool, shared by every caller of checkSignaturesAsync. */
export const verifyPool = new VerifyPool();
