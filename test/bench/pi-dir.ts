/**
 * The Pi bench's data directory: N stored updates written through the Replica API in big
 * batches (about 100 k updates/s here), built once per bench process in a temp dir and reused
 * by every run of the section. Removed when the process exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { Replica } from '../../src/sync/replica.js';
import { makeRecords } from './ingest.js';

const BATCH = 2000;
const CHUNK = 100_000;
const built = new Map<number, Promise<string>>();

/** A data dir holding `n` updates (history rows; 5,000 live keys), built on first call. */
export function piDataDir(n: number): Promise<string> {
  let dir = built.get(n);
  if (!dir) {
    dir = build(n);
    built.set(n, dir);
  }
  return dir;
}

/** An empty temp dir for the baseline daemon (a fresh data dir per call). */
export function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hamsync-bench-pi-empty-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function build(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hamsync-bench-pi-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  // States from 1.7e12 on; the clock sits past all of them, so nothing is deferred. The daemon
  // later opens the dir with its wall clock (2026), far past these states too.
  const replica = await Replica.open({ dataDir: dir, clock: new ManualClock(1.7e12 * 2) });
  try {
    let durable: Promise<void> = Promise.resolve();
    for (let done = 0; done < n; done += CHUNK) {
      // Records of one chunk, with states shifted so every chunk's are new (no duplicates).
      const records = makeRecords(Math.min(CHUNK, n - done), 1 + done).map((r) => ({ ...r, state: r.state + done }));
      let committed: Promise<void> = Promise.resolve();
      for (let i = 0; i < records.length; i += BATCH) ({ committed, durable } = replica.receive(records.slice(i, i + BATCH)));
      await committed;
    }
    await durable;
  } finally {
    await replica.close();
  }
  return dir;
}
