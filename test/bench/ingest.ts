/**
 * Ingest benchmark: Replica.receive() throughput against a raw lmdb-js put loop of the same
 * records, each in a fresh LMDB environment in a temp directory on disk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { ManualClock, Replica, type Json, type Receipt } from '../../src/index.js';

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

/**
 * Pipelined: every batch is receive()d; the `committed` of the batch that completes each
 * UPDATES_PER_COMMIT_WAIT updates joins a bounded pipeline (the oldest is awaited once
 * COMMITS_IN_FLIGHT are outstanding); the last batch's `durable` is awaited before the clock stops.
 */
export async function replicaPipelined(records: Rec[], batchSize: number): Promise<Timing> {
  const dir = tempDir(`replica${batchSize}`);
  const replica = await Replica.open({ dataDir: dir, clock: new ManualClock(T0 * 2), mapSize: MAP_SIZE });
  try {
    const every = Math.max(1, Math.ceil(UPDATES_PER_COMMIT_WAIT / batchSize));
    const pipeline = new Pipeline();
    const start = process.hrtime.bigint();
    let last: Receipt | undefined;
    for (let i = 0, b = 0; i < records.length; i += batchSize, b++) {
      last = replica.receive(records.slice(i, i + batchSize));
      if (b % every === every - 1) await pipeline.add(last.committed);
    }
    await last?.durable;
    return timing(records.length, start);
  } finally {
    await replica.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Strict: batches of one, each batch's `durable` awaited before the next is received. */
export async function replicaStrict(records: Rec[]): Promise<Timing> {
  const dir = tempDir('replica-strict');
  const replica = await Replica.open({ dataDir: dir, clock: new ManualClock(T0 * 2), mapSize: MAP_SIZE });
  try {
    const start = process.hrtime.bigint();
    for (const r of records) await replica.receive([r]).durable;
    return timing(records.length, start);
  } finally {
    await replica.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function openRaw(dir: string) {
  // Same environment options as hamsync's store; one plain named db, key -> the record.
  const root = open({ path: dir, noSubdir: false, maxDbs: 8, mapSize: MAP_SIZE, remapChunks: true });
  return { root, db: root.openDB<RawRow, string>({ name: 'raw' }) };
}

type RawRow = { value: Json; state: number; source: string };

/** The raw put loop: `put` per record, the replica's pipeline on its promises, then `flushed`. */
async function rawLoop(label: string, records: Rec[], put: (root: RootDatabase, db: Database<RawRow, string>) => (r: Rec, i: number) => Promise<boolean>): Promise<Timing> {
  const dir = tempDir(label);
  const { root, db } = openRaw(dir);
  try {
    const putOne = put(root, db);
    const pipeline = new Pipeline();
    const start = process.hrtime.bigint();
    for (let i = 0; i < records.length; i++) {
      const written = putOne(records[i] as Rec, i);
      if (i % UPDATES_PER_COMMIT_WAIT === UPDATES_PER_COMMIT_WAIT - 1) await pipeline.add(written);
    }
    await root.flushed;
    return timing(records.length, start);
  } finally {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Raw lmdb-js: one put per record (key -> the record), same pipeline as the replica, then `flushed`. */
export function rawPipelined(records: Rec[]): Promise<Timing> {
  return rawLoop('raw', records, (_root, db) => (r) => db.put(r.key, { value: r.value, state: r.state, source: r.source }));
}

/**
 * Diagnostic: the raw put loop, but every record is a new row keyed [key, state, i] (the shape of
 * a per-key history or history index): a growing tree with inserts all over it, no overwrites.
 */
export function rawNewRows(records: Rec[]): Promise<Timing> {
  return rawLoop('raw-rows', records, (root) => {
    const rows = root.openDB<RawRow, [string, number, number]>({ name: 'rows' });
    return (r, i) => rows.put([r.key, r.state, i], { value: r.value, state: r.state, source: r.source });
  });
}

/** Raw lmdb-js, strict: put, then await `flushed`, one record at a time. */
export async function rawStrict(records: Rec[]): Promise<Timing> {
  const dir = tempDir('raw-strict');
  const { root, db } = openRaw(dir);
  try {
    const start = process.hrtime.bigint();
    for (const r of records) {
      void db.put(r.key, { value: r.value, state: r.state, source: r.source });
      await root.flushed;
    }
    return timing(records.length, start);
  } finally {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
