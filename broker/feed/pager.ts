import type { ChangeLog } from '../../src/store/change-log.js';
import type { ChangeRow } from '../../src/store/rows.js';
import type { WireUpdate } from '../../src/wire/codec.js';

/** Bounds of one page and of one pump step (protocol v2, docs/PROTOCOL.md "Sync v2"). */
export interface PageBounds {
  /** Most updates in a page. */
  maxRows: number;
  /** Most bytes of key + value text in a page (a single larger row goes alone). */
  maxBytes: number;
  /** Most log entries or snapshot rows one pump step looks at, matching or not. */
  maxScan: number;
}

export const PAGE_BOUNDS: Readonly<PageBounds> = Object.freeze({ maxRows: 500, maxBytes: 64 * 1024, maxScan: 2000 });

export interface LogPage {
  rows: ChangeRow[];
  /** Last log position this page covers (scanned), or `after` when nothing was scanned. */
  last: number;
  /** Log entries looked at. */
  scanned: number;
}

/**
 * One page of log entries after `after`: those whose key is wanted and whose source is not
 * `skipSrc` (the follower has its own updates), within the bounds. A row that would take a
 * non-empty page over a bound ends the page before it (it starts the next one).
 */
export function logPage(log: ChangeLog, after: number, wanted: (key: string) => boolean, skipSrc: string, bounds: PageBounds): LogPage {
  const rows: ChangeRow[] = [];
  let bytes = 0;
  let last = after;
  let scanned = 0;
  for (const { pos, row } of log.read(after, bounds.maxScan)) {
    if (row.src !== skipSrc && wanted(row.k)) {
      const size = row.k.length + row.j.length;
      if (rows.length > 0 && (rows.length >= bounds.maxRows || bytes + size > bounds.maxBytes)) break;
      rows.push(row);
      bytes += size;
    }
    last = pos;
    scanned++;
  }
  return { rows, last, scanned };
}

/** Rows as wire updates (value text as stored, with its signature) and their deferred flags. */
export function toWire(rows: readonly ChangeRow[]): { updates: WireUpdate[]; deferred: boolean[] } {
  const updates: WireUpdate[] = [];
  const deferred: boolean[] = [];
  for (const r of rows) {
    const u: WireUpdate = { key: r.k, state: r.s, text: r.j, source: r.src };
    if (r.g !== undefined) u.sig = r.g;
    updates.push(u);
    deferred.push(r.d === true);
  }
  return { updates, deferred };
}
