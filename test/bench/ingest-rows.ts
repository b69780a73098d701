/**
 * The fair raw baseline for the ingest bench: a plain lmdb-js loop that writes the SAME rows a
 * hub replica (changeLog on, as broker/server.ts opens it) writes for the same records, into
 * databases of the same names, keys and values (src/sync/resolve.ts `settle`, src/sync/batches.ts
 * `finish`, src/store/change-log.ts `append`). Per resolved update:
 *   - live: key -> {s, src, j}               (when HAM applies it)
 *   - history: [state, seq] -> {k, src, j, o, d, rx}
 *   - history-unindexed: seq -> [key, state]   (waiting for the per-key index, store format 3)
 *   - changes: position -> {k, s, src, j}    (the hub's change log)
 * and per batch two meta rows (`seq`, `changes.head`); every INDEX_MAX_ROWS history rows an index
 * build (src/sync/history-index.ts): their history-by-key rows [key, state, seq] -> true, sorted, then
 * their history-unindexed rows removed. The rows still waiting at the end are indexed after the
 * clock stops (`tail`), as the replica indexes them on close. Databases are opened with the
 * store's options (shared structures: src/store/open.ts `dbOptions`). Which rows an update gets is planned before
 * the clock starts, with the same HAM (`hamCanonical`), so the loop does no resolution: only writes.
 * After each run the row counts of both stores are compared; a mismatch stops the bench.
 */
import type { Key, RootDatabase } from 'lmdb';
import { canonical, hamCanonical, type Outcome } from '../../src/index.js';
import { dbOptions } from '../../src/store/open.js';
import { INDEX_MAX_ROWS } from '../../src/sync/history-index.js';
import type { Rec } from './ingest.js';

/** One write; `value` undefined removes the key. */
type Put = [db: string, key: unknown, value: unknown];

/** The planned rows: per batch, the puts of its updates then its two meta rows. */
export interface RowPlan {
  batches: Put[][];
  /** The last index build, done after the clock stops. */
  tail: Put[];
  /** Rows per database at the end, as planned (the replica's own counts must match). */
  counts: Record<string, number>;
  /** Puts into live (an update that applies overwrites its key's row: more puts than rows). */
  livePuts: number;
  updates: number;
}

/** The databases the plan writes, in the store's names (src/store/open.ts). */
export const ROW_DBS = ['live', 'history', 'history-by-key', 'history-unindexed', 'changes', 'meta'] as const;

/** An index build: sorted history-by-key puts, then the history-unindexed removals. */
function build(waiting: [string, number, number][]): Put[] {
  const puts: Put[] = [...waiting].sort((a, b) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] - b[1] || a[2] - b[2])).map((k) => ['history-by-key', k, true]);
  for (const [, , seq] of waiting) puts.push(['history-unindexed', seq, undefined]);
  waiting.length = 0;
  return puts;
}

/** Plans the rows a fresh hub replica writes for `records` received in batches of `batch`, at machine state `rx` (past every state). */
export function planRows(records: readonly Rec[], batch: number, rx: number): RowPlan {
  const live = new Map<string, { s: number; src: string; j: string }>();
  const seen = new Set<string>();
  const counts: Record<string, number> = Object.fromEntries(ROW_DBS.map((d) => [d, 0]));
  const batches: Put[][] = [];
  let seq = 0;
  let pos = 0;
  let livePuts = 0;
  const waiting: [string, number, number][] = [];
  const metaKeys = new Set<string>();
  for (let i = 0; i < records.length; i += batch) {
    const puts: Put[] = [];
    const seq0 = seq;
    const pos0 = pos;
    for (const r of records.slice(i, i + batch)) {
      const j = canonical(r.value);
      const cur = live.get(r.key);
      const decision = hamCanonical(rx, { state: r.state, text: j }, cur && { state: cur.s, text: cur.j });
      const fp = `${r.key}\u0000${r.state}\u0000${r.source}\u0000${j}`;
      if (decision === 'same' && cur?.src === r.source) continue;
      if (decision !== 'apply' && seen.has(fp)) continue;
      seen.add(fp);
      if (decision === 'defer') throw new Error(`planRows: state ${r.state} of ${r.key} is after rx ${rx}`);
      const o: Outcome = decision === 'apply' ? 'applied' : decision === 'same' ? 'same' : cur && cur.s === r.state ? 'tie-lost' : 'historical';
      if (decision === 'apply' || (decision === 'same' && cur && r.source > cur.src)) {
        const row = { s: r.state, src: r.source, j };
        live.set(r.key, row);
        puts.push(['live', r.key, row]);
        livePuts++;
      }
      const s = seq++;
      puts.push(['history', [r.state, s], { k: r.key, src: r.source, j, o, d: false, rx }]);
      puts.push(['history-unindexed', s, [r.key, r.state]]);
      waiting.push([r.key, r.state, s]);
      puts.push(['changes', ++pos, { k: r.key, s: r.state, src: r.source, j }]);
    }
    if (seq !== seq0) {
      puts.push(['meta', 'seq', seq]);
      metaKeys.add('seq');
    }
    if (pos !== pos0) {
      puts.push(['meta', 'changes.head', pos]);
      metaKeys.add('changes.head');
    }
    if (waiting.length >= INDEX_MAX_ROWS) puts.push(...build(waiting));
    batches.push(puts);
  }
  const tail = build(waiting);
  counts.live = live.size;
  counts.history = seq;
  counts['history-by-key'] = seq;
  counts['history-unindexed'] = 0;
  counts.changes = pos;
  counts.meta = metaKeys.size;
  return { batches, tail, counts, livePuts, updates: records.length };
}

/** Row counts per database of an open store (meta's own housekeeping keys are left out: `format`, `health`). */
export function countRows(root: RootDatabase): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of ROW_DBS) {
    const db = root.openDB<unknown, Key>(dbOptions(name));
    out[name] = name === 'meta' ? [...db.getKeys()].filter((k) => k === 'seq' || k === 'changes.head').length : db.getCount();
  }
  return out;
}

/** Puts per update by database, written as "live 0.91, history 1.00, …" (for the notes). */
export function putsPerUpdate(plan: RowPlan): string {
  const per = (n: number): string => (n / plan.updates).toFixed(2);
  const rest = ROW_DBS.filter((d) => d !== 'meta' && d !== 'live' && d !== 'history-unindexed').map((d) => `${d} ${per(plan.counts[d] as number)}`);
  return [`live ${per(plan.livePuts)}`, ...rest, `history-unindexed ${per(plan.counts.history as number)} (appended, removed by the index builds)`].join(', ');
}

/** Throws naming every database whose row count differs between the replica and the plan. */
export function assertSameRows(label: string, plan: RowPlan, replica: Record<string, number>, raw: Record<string, number>): void {
  const bad = ROW_DBS.filter((d) => replica[d] !== plan.counts[d] || raw[d] !== plan.counts[d]);
  if (bad.length > 0) {
    const show = (d: string): string => `${d}: planned ${plan.counts[d]}, replica ${replica[d]}, raw ${raw[d]}`;
    throw new Error(`${label}: the raw loop does not write the replica's rows (${bad.map(show).join('; ')})`);
  }
}
