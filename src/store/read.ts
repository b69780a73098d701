import type { Json } from '../ham/lexical.js';
import type { Store } from './open.js';
import type { HistoryRow, Outcome, QuarantineAction, QuarantineKey, QuarantineRow } from './rows.js';

/** A live entry: the current winner for a key. */
export interface Entry {
  key: string;
  value: Json;
  state: number;
  source: string;
  /** Its source's signature (base64url), when it came signed. */
  sig?: string;
}

/** `entry`, with `sig` set when the row has a signature (absent otherwise, not undefined). */
function signed<T extends Entry>(entry: T, g: string | undefined): T {
  if (g !== undefined) entry.sig = g;
  return entry;
}

export interface HistoryEntry extends Entry {
  outcome: Outcome;
  /** True when it waited in the deferred queue before it was resolved. */
  deferred: boolean;
  /** Local receive time (the replica's machine state when it arrived). */
  received: number;
}

export interface DeferredEntry extends Entry {
  received: number;
}

/** Bounds on state, both inclusive, and a row limit. */
export interface HistoryRange {
  from?: number;
  to?: number;
  limit?: number;
}

export function* readLive(store: Store, prefix: string): Generator<Entry> {
  const range = prefix === '' ? {} : { start: prefix };
  for (const { key, value } of store.live.getRange(range)) {
    if (!key.startsWith(prefix)) break;
    yield signed({ key, value: JSON.parse(value.j) as Json, state: value.s, source: value.src }, value.g);
  }
}

/**
 * A key's history rows in [state, seq] order: the per-key index, and the rows that wait to be
 * indexed. The replica that writes them passes those of the key (`waiting`, from memory); any
 * other reader scans `history-unindexed` (at most a build's worth of rows). A row being indexed
 * may be in both: it is read once. Rows not committed yet are not found (committed data only).
 */
export function readHistory(store: Store, key: string, range: HistoryRange, waiting?: Iterable<[state: number, seq: number]>): HistoryEntry[] {
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  const refs: [state: number, seq: number][] = [];
  for (const [, state, seq] of store.historyByKey.getKeys({ start: [key, from], end: [key, to, Infinity], limit: range.limit })) refs.push([state, seq]);
  const more: [number, number][] = [];
  if (waiting) {
    for (const ref of waiting) more.push(ref);
  } else if (store.historyUnindexed) {
    for (const { key: seq, value } of store.historyUnindexed.getRange({})) if (value[0] === key) more.push([value[1], seq]);
  }
  if (more.length > 0) {
    const indexed = new Set(refs.map((r) => r[1]));
    for (const ref of more) if (ref[0] >= from && ref[0] <= to && !indexed.has(ref[1])) refs.push(ref);
    refs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    if (range.limit !== undefined && refs.length > range.limit) refs.length = Math.max(0, range.limit);
  }
  const out: HistoryEntry[] = [];
  for (const [state, seq] of refs) {
    const row = store.history.get([state, seq]);
    if (row) out.push(historyEntry(state, row));
  }
  return out;
}

export function historyEntry(state: number, row: HistoryRow): HistoryEntry {
  return signed({ key: row.k, value: JSON.parse(row.j) as Json, state, source: row.src, outcome: row.o, deferred: row.d, received: row.rx }, row.g);
}

export function readDeferred(store: Store, limit: number): DeferredEntry[] {
  const out: DeferredEntry[] = [];
  for (const { key, value } of store.deferred.getRange({ limit: Number.isFinite(limit) ? limit : undefined })) {
    out.push(signed({ key: key[1], value: JSON.parse(value.j) as Json, state: key[0], source: value.src, received: value.rx }, value.g));
  }
  return out;
}

/** A quarantined update: stamped beyond the horizon, held until an operator releases or drops it. */
export type QuarantineEntry = DeferredEntry;

/** One audited operator action on a quarantined update. */
export interface QuarantineLogEntry extends QuarantineEntry {
  action: QuarantineAction;
  /** Machine state when it was done. */
  at: number;
}

/** Which quarantined rows: by source ids (any of), and a key predicate. */
export interface QuarantineScan {
  sources?: readonly string[];
  key?: (key: string) => boolean;
}

/** Quarantined rows (committed data), by source, then key, then state; with their LMDB keys. */
export function* scanQuarantine(store: Store, scan: QuarantineScan = {}): Generator<{ dbKey: QuarantineKey; row: QuarantineRow }> {
  const db = store.quarantine;
  if (!db) return;
  // One range per wanted source (it starts there and ends where the next source begins).
  const starts: (string | undefined)[] = scan.sources ? [...new Set(scan.sources)].sort() : [undefined];
  for (const src of starts) {
    const range = src === undefined ? {} : { start: [src] as unknown as QuarantineKey };
    for (const { key, value } of db.getRange(range)) {
      if (src !== undefined && key[0] !== src) break;
      if (scan.key && !scan.key(key[1])) continue;
      yield { dbKey: key, row: value };
    }
  }
}

export function quarantineEntry(dbKey: QuarantineKey, row: QuarantineRow): QuarantineEntry {
  return signed({ key: dbKey[1], value: JSON.parse(row.j) as Json, state: dbKey[2], source: dbKey[0], received: row.rx }, row.g);
}

export function readQuarantine(store: Store, scan: QuarantineScan, limit: number): QuarantineEntry[] {
  const out: QuarantineEntry[] = [];
  for (const { dbKey, row } of scanQuarantine(store, scan)) {
    if (out.length >= limit) break;
    out.push(quarantineEntry(dbKey, row));
  }
  return out;
}

/** The quarantine audit trail, newest first. */
export function readQuarantineLog(store: Store, limit: number): QuarantineLogEntry[] {
  const out: QuarantineLogEntry[] = [];
  const db = store.quarantineLog;
  if (!db) return out;
  for (const { value: r } of db.getRange({ reverse: true, limit: Number.isFinite(limit) ? limit : undefined })) {
    out.push(signed({ action: r.a, at: r.at, key: r.k, value: JSON.parse(r.j) as Json, state: r.s, source: r.src, received: r.rx }, r.g));
  }
  return out;
}
