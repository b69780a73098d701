/**
 * Ingest benchmark: a hub replica's receive() throughput (changeLog on, as the broker opens it)
 * against a raw lmdb-js loop writing the same rows (ingest-rows.ts), each in a fresh LMDB
 * environment in a temp directory on disk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Key } from 'lmdb';
import { ManualClock, Replica, type Json, type Receipt } from '../../src/index.js';
import { dbOptions } from '../../src/store/open.js';
import { countRows, ROW_DBS, type RowPlan } from './ingest-rows.js';

export interface Rec {
  key: string;
  value: Json;
  state: number;
  source: string;
}

/** Every pipelined run waits for a commit once per this many updates (whatever the batch size). */
export const UPDATES_PER_COMMIT_WAIT = 1000;
const MAP_SIZE = 4 * 1024 ** 3;
const T0 = 1.7e12;
/** The replicas' machine state (a ManualClock past every state: nothing is deferred). */
export const RX = T0 * 2;

/**
 * Telemetry: 5000 keys (50 devices x 100 metrics), each update one reading {u, v}; states
 * mostly increasing (apply), 10% late by up to 10 s (mostly historical).
 */
export function makeRecords(n: number, seed = 1): Rec[] {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: Rec[] = [];
  for (let i = 0; i < n; i++) {
    const dev = Math.floor(rand() * 50);
    const metric = Math.floor(rand() * 100);
    const late = rand() < 0.1 ? Math.floor(rand() * 10_000) : 0;
    out.push({ key: `site${dev % 5}/dev${dev}/m${metric}`, value: { u: 'C', v: Math.round(rand() * 10000) / 100 }, state: T0 + i - late, source: `dev-${dev}` });
  }
  return out;
}

function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `hamsync-bench-${label}-`));
}

export interface Timing {
  updates: number;
  seconds: number;
  perSecond: number;
}

function timing(updates: number, start: bigint): Timing {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { updates, seconds, perSecond: updates / seconds };
}

/** Most commit waits outstanding in a pipelined run: at most this x UPDATES_PER_COMMIT_WAIT updates in flight. */
export const COMMITS_IN_FLIGHT = 4;

/** Bounded pipeline over commit promises: keeps COMMITS_IN_FLIGHT outstanding, awaiting the oldest. */
class Pipeline {
  private readonly q: PromiseLike<unknown>[] = [];
  async add(p: PromiseLike<unknown>): Promise<void> {
    this.q.push(p);
    while (this.q.length > COMMITS_IN_FLIGHT) await this.q.shift();
  }
}

/** A timed run and the rows its store held afterwards (per database, see ingest-rows.ts). */
export interface Run extends Timing {
  rows: Record<string, number>;
}

/**
 * Pipelined: every batch is receive()d; the `committed` of the batch that completes each
 * UPDATES_PER_COMMIT_WAIT updates joins a bounded pipeline (the oldest is awaited once
 * COMMITS_IN_FLIGHT are outstanding); the last batch's `durable` is awaited before the clock stops.
 * `strict`: each batch's `durable` is awaited before the next is received.
 */
export async function replicaRun(records: Rec[], batchSize: number, strict = false): Promise<Run> {
  const dir = tempDir(`replica${batchSize}`);
  const replica = await Replica.open({ dataDir: dir, clock: new ManualClock(RX), mapSize: MAP_SIZE, changeLog: true });
  try {
    const every = Math.max(1, Math.ceil(UPDATES_PER_COMMIT_WAIT / batchSize));
    const pipeline = new Pipeline();
    const start = process.hrtime.bigint();
    let last: Receipt | undefined;
    for (let i = 0, b = 0; i < records.length; i += batchSize, b++) {
      last = replica.receive(records.slice(i, i + batchSize));
      if (strict) await last.durable;
      else if (b % every === every - 1) await pipeline.add(last.committed);
    }
    await last?.durable;
    const t = timing(records.length, start);
    await replica.close();
    const check = open({ path: dir, noSubdir: false, maxDbs: 16, readOnly: true });
    try {
      return { ...t, rows: countRows(check) };
    } finally {
      await check.close();
    }
  } finally {
    await replica.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The raw loop: the planned rows put() batch by batch into the store's databases (same
 * environment options as src/store/open.ts), the replica's pipeline on the put promises (or, when
 * `strict`, `flushed` awaited after each batch), then `flushed`.
 */
export async function rawRun(plan: RowPlan, strict = false): Promise<Run> {
  const dir = tempDir('raw');
  const root = open({ path: dir, noSubdir: false, maxDbs: 16, mapSize: MAP_SIZE });
  try {
    const dbs = new Map(ROW_DBS.map((name) => [name as string, root.openDB<unknown, Key>(dbOptions(name))]));
    const write = (name: string, key: unknown, value: unknown): Promise<boolean> | undefined => {
      const db = dbs.get(name);
      return value === undefined ? db?.remove(key as Key) : db?.put(key as Key, value);
    };
    const pipeline = new Pipeline();
    let done = 0;
    let nextWait = UPDATES_PER_COMMIT_WAIT;
    const batchSize = Math.max(1, Math.round(plan.updates / Math.max(1, plan.batches.length)));
    const start = process.hrtime.bigint();
    for (const batch of plan.batches) {
      let written: Promise<boolean> | undefined;
      for (const [name, key, value] of batch) written = write(name, key, value);
      done += batchSize;
      if (strict) await root.flushed;
      else if (done >= nextWait && written) {
        nextWait += UPDATES_PER_COMMIT_WAIT;
        await pipeline.add(written);
      }
    }
    await root.flushed;
    const t = timing(plan.updates, start);
    // The rows still waiting for the index, indexed after the clock stops (as the replica does on close).
    for (const [name, key, value] of plan.tail) void write(name, key, value);
    await root.flushed;
    return { ...t, rows: countRows(root) };
  } finally {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
