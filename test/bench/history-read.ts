/**
 * Per-key history reads (`hamsync history <key>`, GET /v1/history/<key>: src/store/read.ts
 * `readHistory`) over a hub store written by the ingest workload: with every row indexed, and with
 * a full index build's worth of rows (INDEX_MAX_ROWS) still waiting in `history-unindexed` (the
 * most a reader meets: each read then scans that table too). Baseline in the same run: the
 * format-2 read, the index range and the row gets alone (no waiting rows).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, Replica } from '../../src/index.js';
import { openStore, type Store } from '../../src/store/open.js';
import { historyEntry, readHistory } from '../../src/store/read.js';
import { INDEX_MAX_ROWS } from '../../src/sync/history-index.js';
import { RX, type Rec } from './ingest.js';

export interface ReadFigures {
  /** µs per read, median of the passes: the format-2 read (index range + gets). */
  indexOnly: number[];
  /** µs per read with every row indexed. */
  indexed: number[];
  /** µs per read with INDEX_MAX_ROWS rows waiting, through the replica (its waiting rows are in memory). */
  waiting: number[];
  /** The same from another reader (a read-only open scans history-unindexed). */
  waitingScan: number[];
  rowsPerRead: number;
  keys: number;
}

/** The format-2 read path: index range, then one get per row, each made an entry. */
function indexOnlyRead(store: Store, key: string): number {
  const out = [];
  for (const [, state, seq] of store.historyByKey.getKeys({ start: [key, -Infinity], end: [key, Infinity, Infinity] })) {
    const row = store.history.get([state, seq]);
    if (row) out.push(historyEntry(state, row));
  }
  return out.length;
}

function timeReads(keys: string[], read: (key: string) => number): [usPerRead: number, rows: number] {
  let rows = 0;
  const t0 = process.hrtime.bigint();
  for (const k of keys) rows += read(k);
  return [Number(process.hrtime.bigint() - t0) / 1000 / keys.length, rows / keys.length];
}

export async function historyReads(records: readonly Rec[], passes: number): Promise<ReadFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'hamsync-bench-read-'));
  try {
    const split = Math.max(0, records.length - INDEX_MAX_ROWS + 1);
    // Everything but the last rows indexed; those wait (no build within the hour, none at maxRows).
    let r = await Replica.open({ dataDir: dir, clock: new ManualClock(RX), changeLog: true });
    for (let i = 0; i < split; i += 1000) r.receive(records.slice(i, Math.min(split, i + 1000)));
    await r.close();
    r = await Replica.open({ dataDir: dir, clock: new ManualClock(RX), changeLog: true, historyIndex: { intervalMs: 3_600_000, maxRows: Number.MAX_SAFE_INTEGER } });
    for (let i = split; i < records.length; i += 1000) r.receive(records.slice(i, Math.min(records.length, i + 1000)));
    await r.flushed();
    const store = openStore(dir, { readOnly: true });
    const keys = [...new Set(records.map((x) => x.key))];
    const out: ReadFigures = { indexOnly: [], indexed: [], waiting: [], waitingScan: [], rowsPerRead: 0, keys: keys.length };
    try {
      const waiting = store.historyUnindexed?.getCount() ?? 0;
      if (waiting < INDEX_MAX_ROWS - 1) throw new Error(`history reads: ${waiting} rows wait for the index, expected ${INDEX_MAX_ROWS - 1}`);
      for (let p = 0; p < passes; p++) {
        const replica = r;
        out.waiting.push(timeReads(keys, (k) => replica.history(k).length)[0]);
        // Each of these reads scans the waiting rows: a sample of keys keeps the pass short.
        out.waitingScan.push(timeReads(keys.slice(0, 200), (k) => readHistory(store, k, {}).length)[0]);
      }
      await r.close();
      for (let p = 0; p < passes; p++) {
        const [a, rows] = timeReads(keys, (k) => indexOnlyRead(store, k));
        out.indexOnly.push(a);
        out.rowsPerRead = rows;
        out.indexed.push(timeReads(keys, (k) => readHistory(store, k, {}).length)[0]);
      }
    } finally {
      await r.close();
      await store.root.close();
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
