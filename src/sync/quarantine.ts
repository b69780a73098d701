import { HamsyncError, describe, isHamsyncError } from '../errors.js';
import { assertSource } from '../model/keys.js';
import type { CheckedUpdate } from '../model/update.js';
import { scanQuarantine, type QuarantineScan } from '../store/read.js';
import type { Store } from '../store/open.js';
import type { QuarantineAction, QuarantineKey, QuarantineRow } from '../store/rows.js';
import { assertKeyFilter, compileKeyFilters } from '../wire/topics.js';
import { emptyNeed, updateBytes, type Need, type QueueAccounts } from './accounts.js';
import { overBy } from './admit.js';
import type { Overlay } from './overlay.js';
import type { QueueLimits } from './queue-limits.js';
import { defer, inDeferred, quarantineId, settle, withSig, type BatchContext, type Result } from './resolve.js';

/**
 * Which quarantined updates an operator means: `all`, or by source ids and/or key filters
 * (MQTT-style `+`, `#`); with both, a row must match a source and a filter.
 */
export interface QuarantineSelector {
  all?: boolean;
  sources?: readonly string[];
  keys?: readonly string[];
}

export interface ReleaseReport {
  /** Quarantined rows taken out. */
  released: number;
  /** Of those, already due: resolved with HAM at once (applied, historical, ...). */
  resolved: number;
  /** Of those, still ahead of the clock: now in the deferred queue. */
  deferred: number;
  /** Of those, exact copies of updates already deferred or in history: nothing new written. */
  duplicates: number;
}

export interface DropReport {
  dropped: number;
}

/** Most rows the audit trail keeps; the oldest go first. */
export const QUARANTINE_LOG_MAX = 100_000;

/**
 * Checks a selector; with `required`, one that names nothing is refused (so that no one
 * releases or drops everything by forgetting an option). Errors are HAMSYNC_ERR_CONFIG
 * naming the field (HAMSYNC_ERR_SOURCE for a bad source id).
 */
export function compileSelector(input: unknown, required: boolean): QuarantineScan {
  if (input === undefined && !required) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `selector must be an object with all, sources or keys, got ${describe(input)}`, { field: 'selector' });
  }
  const sel = input as Record<string, unknown>;
  for (const name of Object.keys(sel)) {
    if (name !== 'all' && name !== 'sources' && name !== 'keys') throw new HamsyncError('HAMSYNC_ERR_CONFIG', `selector has an unknown field ${describe(name)}`, { field: name });
  }
  const list = (name: 'sources' | 'keys'): string[] | undefined => {
    const v = sel[name];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${name} must be a list, got ${describe(v)}`, { field: name });
    return v as string[];
  };
  const sources = list('sources');
  const keys = list('keys');
  if (sel.all !== undefined && sel.all !== true && sel.all !== false) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `all must be true or false, got ${describe(sel.all)}`, { field: 'all' });
  }
  const some = (sources?.length ?? 0) > 0 || (keys?.length ?? 0) > 0;
  if (sel.all === true && some) throw new HamsyncError('HAMSYNC_ERR_CONFIG', 'all cannot be combined with sources or keys', { field: 'all' });
  if (required && sel.all !== true && !some) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', 'name the quarantined updates: by source, by key filter, or all', { field: 'selector' });
  }
  for (const s of sources ?? []) assertSource(s);
  for (const f of keys ?? []) {
    try {
      assertKeyFilter(f);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      throw new HamsyncError('HAMSYNC_ERR_CONFIG', `key must be a key filter like "pi-7/#" or "+/cpu/temp", got ${describe(f)}`, { field: 'key' });
    }
  }
  return {
    ...(sources && sources.length > 0 ? { sources } : {}),
    ...(keys && keys.length > 0 ? { key: compileKeyFilters(keys) } : {}),
  };
}

/** What release and drop need from their replica. */
export interface QuarantineHost {
  readonly store: Store;
  readonly overlay: Overlay;
  readonly accounts: QueueAccounts;
  readonly limits: QueueLimits;
  readonly log: QuarantineLog;
  now(): number;
  begin(): BatchContext;
  /** Ends the batch as one transaction; resolves once it is durable. */
  finish(ctx: BatchContext, results: Result[]): Promise<void>;
  /** A deferred row was written at `state`: make sure the timer fires by then. */
  deferredAt(state: number): void;
}

interface Picked {
  dbKey: QuarantineKey;
  row: QuarantineRow;
  update: CheckedUpdate;
}

function pick(store: Store, scan: QuarantineScan): Picked[] {
  return [...scanQuarantine(store, scan)].map(({ dbKey, row }) => ({
    dbKey,
    row,
    update: row.g === undefined ? { key: dbKey[1], state: dbKey[2], source: dbKey[0], text: row.j } : { key: dbKey[1], state: dbKey[2], source: dbKey[0], text: row.j, sig: row.g },
  }));
}

/** Takes rows out of quarantine in the batch (count moved, audit row written). */
function takeOut(host: QuarantineHost, ctx: BatchContext, rows: Picked[], action: QuarantineAction, at: number): void {
  const db = host.store.quarantine;
  if (!db) throw new HamsyncError('HAMSYNC_ERR_STORE', 'the store has no quarantine database');
  for (const p of rows) {
    void db.remove(p.dbKey);
    ctx.overlay.removeDeferred(quarantineId(p.dbKey), ctx.batch);
    ctx.ledger.add(p.update.source, 'quarantine', -1, -updateBytes(p.update.key, p.update.text));
    host.log.append(action, at, p);
  }
}

/**
 * Moves the selected quarantined updates into the normal path, bypassing the horizon: those
 * already due are resolved with HAM now, the others are deferred. The per-source deferred cap
 * still holds: if the release would take a source over it, nothing is released
 * (HAMSYNC_ERR_DEFERRED_FULL). One transaction; resolves once durable.
 */
export async function release(host: QuarantineHost, selector: unknown): Promise<ReleaseReport> {
  const rows = pick(host.store, compileSelector(selector, true));
  const machine = host.now();
  const needs = new Map<string, Need>();
  for (const p of rows) {
    if (p.update.state <= machine || inDeferred(host, p.update)) continue;
    let need = needs.get(p.update.source);
    if (!need) needs.set(p.update.source, (need = emptyNeed()));
    need.deferred++;
    need.deferredBytes += updateBytes(p.update.key, p.update.text);
  }
  for (const [source, need] of needs) {
    const over = overBy(host.accounts, host.limits, source, need, 'this release would add');
    if (over) throw over;
  }
  const report: ReleaseReport = { released: rows.length, resolved: 0, deferred: 0, duplicates: 0 };
  if (rows.length === 0) return report;
  const ctx = host.begin();
  takeOut(host, ctx, rows, 'release', machine);
  const results: Result[] = [];
  for (const p of rows) {
    const due = p.update.state <= machine;
    const r = due ? settle(ctx, p.update, machine, p.row.rx, true) : defer(ctx, p.update, p.row.rx);
    if (!due && !r.duplicate) host.deferredAt(p.update.state);
    if (r.duplicate) report.duplicates++;
    else if (due) report.resolved++;
    else report.deferred++;
    results.push(r);
  }
  await host.finish(ctx, results);
  return report;
}

/** Deletes the selected quarantined updates (each recorded in the audit trail). Resolves once durable. */
export async function drop(host: QuarantineHost, selector: unknown): Promise<DropReport> {
  const rows = pick(host.store, compileSelector(selector, true));
  if (rows.length === 0) return { dropped: 0 };
  const ctx = host.begin();
  takeOut(host, ctx, rows, 'drop', host.now());
  await host.finish(ctx, []);
  return { dropped: rows.length };
}

/** The audit trail of releases and drops, bounded to QUARANTINE_LOG_MAX rows (oldest out first). */
export class QuarantineLog {
  /** Keys are consecutive: the oldest kept is `first`, the next to write `next`. */
  private first: number;
  private next: number;

  constructor(
    private readonly store: Store,
    private readonly max = QUARANTINE_LOG_MAX,
  ) {
    const db = store.quarantineLog;
    let first: number | undefined;
    let last = 0;
    if (db) {
      for (const k of db.getKeys({ limit: 1 })) first = k;
      for (const k of db.getKeys({ reverse: true, limit: 1 })) last = k;
    }
    this.next = last + 1;
    this.first = first ?? this.next;
  }

  append(action: QuarantineAction, at: number, p: Picked): void {
    const db = this.store.quarantineLog;
    if (!db) return;
    void db.put(this.next++, withSig({ a: action, at, k: p.update.key, s: p.update.state, src: p.update.source, j: p.row.j, rx: p.row.rx }, p.row.g));
    while (this.next - this.first > this.max) void db.remove(this.first++);
  }
}
