import type { Store } from '../store/open.js';
import type { HistoryRow } from '../store/rows.js';
import { compileKeyFilters } from '../wire/topics.js';
import type { Record } from './select.js';

export interface AsOfOptions {
  /** Also require that the row had been received by T: what this replica actually believed at T. */
  byReceived?: boolean;
  keys?: readonly string[];
  sources?: readonly string[];
}

/** HAM's order over resolved rows: state, then the lexically greater value, then the greater source. */
function beats(state: number, row: HistoryRow, best: Record): boolean {
  if (state !== best.state) return state > best.state;
  if (row.j !== best.row.j) return row.j > best.row.j;
  return row.src > best.row.src;
}

/**
 * The live view HAM gives over every history row whose state is <= T, with T as the machine
 * state: HAM converges on the greatest (state, value) whatever the order, so one scan of the
 * rows up to T, keeping the winner per key, is exact. Rows in key order.
 */
export function asOf(store: Store, at: number, options: AsOfOptions = {}): Record[] {
  const wanted = compileKeyFilters(options.keys ?? []);
  const sources = options.sources && options.sources.length > 0 ? new Set(options.sources) : undefined;
  const best = new Map<string, Record>();
  for (const { key, value } of store.history.getRange({ end: [at, Infinity] })) {
    if (options.byReceived && value.rx > at) continue;
    if (sources && !sources.has(value.src)) continue;
    const current = best.get(value.k);
    if (current === undefined ? wanted(value.k) : beats(key[0], value, current)) best.set(value.k, { state: key[0], row: value });
  }
  return [...best.values()].sort((a, b) => (a.row.k < b.row.k ? -1 : a.row.k > b.row.k ? 1 : 0));
}
