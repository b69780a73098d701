import type { Store } from '../store/open.js';
import type { ChangeRow, DeferredKey } from '../store/rows.js';

/** Where a snapshot stopped: after a live key, or after a deferred row. */
export type SnapshotCursor = { phase: 'live'; after?: string } | { phase: 'deferred'; after?: DeferredKey };

export interface SnapshotPage {
  /** Live rows and deferred rows (`d` true) under the filters, in store order. */
  rows: ChangeRow[];
  /** Where to go on, or undefined when the snapshot is complete. */
  next: SnapshotCursor | undefined;
}

export interface SnapshotBounds {
  /** Most rows in one page. */
  maxRows: number;
  /** Most bytes (key + value text) in one page. */
  maxBytes: number;
  /** Most rows looked at in one call, matching or not (keeps one call's work bounded). */
  maxScan: number;
}

/**
 * One page of a snapshot of the live view and the deferred queue restricted to `wanted` keys
 * (committed data), starting after `from`. Paging over several event-loop turns is safe for a
 * follower that then reads the change log from the position taken when the snapshot began:
 * whatever changed meanwhile is in the log after that position.
 */
export function snapshotPage(store: Store, from: SnapshotCursor, wanted: (key: string) => boolean, bounds: SnapshotBounds): SnapshotPage {
  const rows: ChangeRow[] = [];
  let bytes = 0;
  let scanned = 0;
  const full = (): boolean => rows.length >= bounds.maxRows || bytes >= bounds.maxBytes || scanned >= bounds.maxScan;
  if (from.phase === 'live') {
    let last: string | undefined;
    const range = from.after === undefined ? {} : { start: from.after };
    for (const { key, value } of store.live.getRange(range)) {
      if (from.after !== undefined && key <= from.after) continue;
      if (wanted(key)) {
        // A row that would take a non-empty page over maxBytes starts the next page.
        if (rows.length > 0 && bytes + key.length + value.j.length > bounds.maxBytes) return { rows, next: { phase: 'live', after: last as string } };
        const row: ChangeRow = { k: key, s: value.s, src: value.src, j: value.j };
        if (value.g !== undefined) row.g = value.g;
        rows.push(row);
        bytes += key.length + value.j.length;
      }
      last = key;
      scanned++;
      if (full()) return { rows, next: { phase: 'live', after: last } };
    }
    from = { phase: 'deferred' };
  }
  const range = from.after === undefined ? {} : { start: from.after };
  let prev: DeferredKey | undefined = from.after;
  for (const { key, value } of store.deferred.getRange(range)) {
    if (from.after !== undefined && compareDeferred(key, from.after) <= 0) continue;
    if (wanted(key[1]) && rows.length > 0 && bytes + key[1].length + value.j.length > bounds.maxBytes) {
      return { rows, next: prev === undefined ? { phase: 'deferred' } : { phase: 'deferred', after: prev } };
    }
    prev = key;
    scanned++;
    if (wanted(key[1])) {
      const row: ChangeRow = { k: key[1], s: key[0], src: value.src, j: value.j, d: true };
      if (value.g !== undefined) row.g = value.g;
      rows.push(row);
      bytes += key[1].length + value.j.length;
    }
    if (full()) return { rows, next: { phase: 'deferred', after: key } };
  }
  return { rows, next: undefined };
}

function compareDeferred(a: DeferredKey, b: DeferredKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[2] - b[2];
}
