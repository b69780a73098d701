import type { Json } from '../ham/lexical.js';
import type { Store } from './open.js';
import type { HistoryRow, Outcome } from './rows.js';

/** A live entry: the current winner for a key. */
export interface Entry {
  key: string;
  value: Json;
  state: number;
  source: string;
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
    yield { key, value: JSON.parse(value.j) as Json, state: value.s, source: value.src };
  }
}

export function readHistory(store: Store, key: string, range: HistoryRange): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  const index = store.historyByKey.getKeys({ start: [key, range.from ?? -Infinity], end: [key, range.to ?? Infinity, Infinity], limit: range.limit });
  for (const [, state, seq] of index) {
    const row = store.history.get([state, seq]);
    if (row) out.push(historyEntry(state, row));
  }
  return out;
}

export function historyEntry(state: number, row: HistoryRow): HistoryEntry {
  return { key: row.k, value: JSON.parse(row.j) as Json, state, source: row.src, outcome: row.o, deferred: row.d, received: row.rx };
}

export function readDeferred(store: Store, limit: number): DeferredEntry[] {
  const out: DeferredEntry[] = [];
  for (const { key, value } of store.deferred.getRange({ limit: Number.isFinite(limit) ? limit : undefined })) {
    out.push({ key: key[1], value: JSON.parse(value.j) as Json, state: key[0], source: value.src, received: value.rx });
  }
  return out;
}
