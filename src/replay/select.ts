import type { Store } from '../store/open.js';
import type { HistoryRow, Outcome } from '../store/rows.js';
import { compileKeyFilters } from '../wire/topics.js';

/** Which history rows to replay. Bounds are inclusive and apply to the ordering axis (`by`). */
export interface Selection {
  from?: number;
  to?: number;
  /** Key filters, MQTT-style `+` / `#`; none: every key. */
  keys?: readonly string[];
  /** Sources (device ids); none: every source. */
  sources?: readonly string[];
  /** Outcomes; none: every outcome. */
  outcomes?: readonly Outcome[];
  /** Order by the update's state (default) or by the replica's receive time. */
  by?: 'state' | 'received';
}

/** One history row with its state (the rest of its LMDB key). */
export interface Record {
  state: number;
  row: HistoryRow;
}

function predicate(sel: Selection): ((row: HistoryRow) => boolean) | undefined {
  if (!sel.keys?.length && !sel.sources?.length && !sel.outcomes?.length) return undefined;
  const key = compileKeyFilters(sel.keys ?? []);
  const sources = sel.sources && sel.sources.length > 0 ? new Set(sel.sources) : undefined;
  const outcomes = sel.outcomes && sel.outcomes.length > 0 ? new Set<string>(sel.outcomes) : undefined;
  return (row) => (sources === undefined || sources.has(row.src)) && (outcomes === undefined || outcomes.has(row.o)) && key(row.k);
}

/** History rows matching `sel`, in state order (a range scan) or receive order (keys sorted in memory). */
export function* select(store: Store, sel: Selection = {}): Generator<Record> {
  const keep = predicate(sel);
  if ((sel.by ?? 'state') === 'state') {
    for (const { key, value } of store.history.getRange({ start: [sel.from ?? -Infinity], end: [sel.to ?? Infinity, Infinity] })) {
      if (keep === undefined || keep(value)) yield { state: key[0], row: value };
    }
    return;
  }
  // By receive time: one scan collects (rx, state, seq) of matching rows — 24 bytes a row — then
  // sorts them and reads the rows back in that order.
  const from = sel.from ?? -Infinity;
  const to = sel.to ?? Infinity;
  const rx: number[] = [];
  const states: number[] = [];
  const seqs: number[] = [];
  for (const { key, value } of store.history.getRange({})) {
    if (value.rx < from || value.rx > to || (keep !== undefined && !keep(value))) continue;
    rx.push(value.rx);
    states.push(key[0]);
    seqs.push(key[1]);
  }
  const order = Uint32Array.from(rx.keys()).sort((a, b) => (rx[a] as number) - (rx[b] as number) || (seqs[a] as number) - (seqs[b] as number));
  for (const i of order) {
    const state = states[i] as number;
    const row = store.history.get([state, seqs[i] as number]);
    if (row) yield { state, row };
  }
}

/** How many rows a state-ordered selection will scan (an upper bound for progress; cheap: keys only). */
export function estimate(store: Store, sel: Selection = {}): number {
  if ((sel.by ?? 'state') === 'state') return store.history.getKeysCount({ start: [sel.from ?? -Infinity], end: [sel.to ?? Infinity, Infinity] });
  return store.history.getKeysCount({});
}
