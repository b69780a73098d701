import { hamCanonical, type Decision } from '../ham/decide.js';
import type { CheckedUpdate } from '../model/update.js';
import type { Store } from '../store/open.js';
import type { ChangeRow, LiveRow, Outcome, QuarantineKey } from '../store/rows.js';
import { updateBytes, type Ledger } from './accounts.js';
import { fingerprint, type Overlay, type PendingBatch } from './overlay.js';

/** What happened to one update handed to the replica: HAM's decision, or held in quarantine (beyond the horizon). */
export interface Result {
  decision: Decision | 'quarantine';
  /** True when the exact update (key, state, source, value) was already stored: nothing was written. */
  duplicate: boolean;
}

/**
 * An update that changed the live view (its value, or on `same` the source credited with it);
 * emitted as a `change` event once committed.
 */
export interface Change {
  key: string;
  state: number;
  source: string;
  text: string;
  /** True when it had waited in the deferred queue. */
  deferred: boolean;
  /** The winner's signature, if it came signed. */
  sig?: string;
}

/** Shared, mutable state of one write batch. */
export interface BatchContext {
  readonly store: Store;
  readonly overlay: Overlay;
  readonly batch: PendingBatch;
  readonly changes: Change[];
  /**
   * Every update this batch accepted, in order, as the hub's change log records it: each one
   * resolved on arrival (whatever its outcome) and each arrival in the deferred queue (`d`).
   * Not a deferred update resolved when due (its arrival was logged) and not quarantine.
   */
  readonly accepted: ChangeRow[];
  /** Next history/deferred sequence number; advanced as rows are written. */
  seq: number;
  /** Updates of this batch that lost an equal-state tie (`historical` with outcome `tie-lost`). */
  ties: number;
  /** Per-source queue counts moved by this batch (undone if it fails to commit). */
  readonly ledger: Ledger;
  /** The batch's updates came from the hub cluster: their change log rows are marked (`x`). */
  readonly external?: boolean;
}

/** Options of a write batch. */
export interface BatchOptions {
  /**
   * The updates came from the hub cluster (another node's push or a peer snapshot): their change
   * log rows carry `x: 1`, so this node's cluster pusher does not push them again.
   */
  external?: boolean;
}

/** A change log row, marked when the batch is external. */
function logged(ctx: BatchContext, row: ChangeRow): ChangeRow {
  if (ctx.external) row.x = 1;
  return row;
}

export function currentRow(ctx: Pick<BatchContext, 'store' | 'overlay'>, key: string): LiveRow | undefined {
  const cached = ctx.overlay.getLive(key);
  if (cached) return cached;
  const row = ctx.store.live.get(key);
  if (row) ctx.overlay.remember(key, row);
  return row;
}

/** Is this exact update already in history (committed or in flight)? */
export function inHistory(ctx: BatchContext, u: CheckedUpdate): boolean {
  if (ctx.overlay.hasFingerprint(fingerprint(u.key, u.state, u.source, u.text))) return true;
  for (const [, state, seq] of ctx.store.historyByKey.getKeys({ start: [u.key, u.state], end: [u.key, u.state, Infinity] })) {
    const row = ctx.store.history.get([state, seq]);
    if (row && row.src === u.source && row.j === u.text) return true;
  }
  return false;
}

/** Is this exact update already waiting in the deferred queue (committed or in flight)? */
export function inDeferred(ctx: Pick<BatchContext, 'store' | 'overlay'>, u: CheckedUpdate): boolean {
  const fp = fingerprint(u.key, u.state, u.source, u.text);
  if (ctx.overlay.hasFingerprint(`d${fp}`)) return true;
  for (const { key, value } of ctx.store.deferred.getRange({ start: [u.state, u.key], end: [u.state, u.key, Infinity] })) {
    if (value.src === u.source && value.j === u.text && !ctx.overlay.isDeferredGone(key.join('\u0000'))) return true;
  }
  return false;
}

/** Queues an update from the future into the deferred queue. */
export function defer(ctx: BatchContext, u: CheckedUpdate, rx: number): Result {
  if (inDeferred(ctx, u)) return { decision: 'defer', duplicate: true };
  void ctx.store.deferred.put([u.state, u.key, ctx.seq++], withSig({ src: u.source, j: u.text, rx }, u.sig));
  ctx.overlay.addFingerprint(`d${fingerprint(u.key, u.state, u.source, u.text)}`, ctx.batch);
  ctx.ledger.add(u.source, 'deferred', 1, updateBytes(u.key, u.text));
  ctx.accepted.push(logged(ctx, withSig({ k: u.key, s: u.state, src: u.source, j: u.text, d: true as const }, u.sig)));
  return { decision: 'defer', duplicate: false };
}

/** The overlay id of a quarantine row being removed (kept apart from deferred ids). */
export function quarantineId(dbKey: QuarantineKey): string {
  return `q${dbKey.join('\u0000')}`;
}

/** Is this exact update already held in quarantine (committed or in flight)? */
export function inQuarantine(ctx: Pick<BatchContext, 'store' | 'overlay'>, u: CheckedUpdate): boolean {
  if (ctx.overlay.hasFingerprint(`q${fingerprint(u.key, u.state, u.source, u.text)}`)) return true;
  const db = ctx.store.quarantine;
  if (!db) return false;
  for (const { key, value } of db.getRange({ start: [u.source, u.key, u.state], end: [u.source, u.key, u.state, Infinity] })) {
    if (value.j === u.text && !ctx.overlay.isDeferredGone(quarantineId(key))) return true;
  }
  return false;
}

/** Holds an update from beyond the horizon in quarantine (never resolved on its own). */
export function quarantine(ctx: BatchContext, u: CheckedUpdate, rx: number): Result {
  if (inQuarantine(ctx, u)) return { decision: 'quarantine', duplicate: true };
  const db = ctx.store.quarantine;
  if (!db) throw new Error('the store has no quarantine database (opened read-only?)');
  void db.put([u.source, u.key, u.state, ctx.seq++], withSig({ src: u.source, j: u.text, rx }, u.sig));
  ctx.overlay.addFingerprint(`q${fingerprint(u.key, u.state, u.source, u.text)}`, ctx.batch);
  ctx.ledger.add(u.source, 'quarantine', 1, updateBytes(u.key, u.text));
  return { decision: 'quarantine', duplicate: false };
}

/**
 * Resolves an update that is due (state <= machine state) against the live view and
 * writes the outcome: live (when applied) and one history row (unless an exact duplicate).
 */
export function settle(ctx: BatchContext, u: CheckedUpdate, machine: number, rx: number, wasDeferred: boolean): Result {
  const current = currentRow(ctx, u.key);
  const decision = hamCanonical(machine, { state: u.state, text: u.text }, current && { state: current.s, text: current.j });
  // An update that applies cannot already be in history: anything there is at or below the live value.
  // Equal to the live row, source included: that row's own history entry is this update.
  if (decision === 'same' && current?.src === u.source) return { decision, duplicate: true };
  if (decision !== 'apply' && inHistory(ctx, u)) return { decision, duplicate: true };
  let outcome: Outcome;
  if (decision === 'apply') {
    outcome = 'applied';
    setLive(ctx, u, wasDeferred);
  } else if (decision === 'same') {
    outcome = 'same';
    // Equal value from another source: the lexically greater source is credited, so every replica
    // agrees; its signature goes with it (the live row's signature is always its source's). The
    // credit is a change of the live row, announced like one (the hub republishes the state topic).
    if (current && u.source > current.src) setLive(ctx, u, wasDeferred);
  } else {
    outcome = current && current.s === u.state ? 'tie-lost' : 'historical';
  }
  const seq = ctx.seq++;
  void ctx.store.history.put([u.state, seq], withSig({ k: u.key, src: u.source, j: u.text, o: outcome, d: wasDeferred, rx }, u.sig));
  void ctx.store.historyByKey.put([u.key, u.state, seq], true);
  if (!wasDeferred) ctx.accepted.push(logged(ctx, withSig({ k: u.key, s: u.state, src: u.source, j: u.text }, u.sig)));
  // An applied row is recognised through the live view while it is live (and the overlay marks it
  // when an uncommitted one is superseded); other rows need their fingerprint until they commit.
  if (outcome !== 'applied') ctx.overlay.addFingerprint(fingerprint(u.key, u.state, u.source, u.text), ctx.batch);
  if (outcome === 'tie-lost') ctx.ties++;
  return { decision, duplicate: false };
}

/** Makes `u` the live row of its key and records the change (announced once the batch commits). */
function setLive(ctx: BatchContext, u: CheckedUpdate, wasDeferred: boolean): void {
  const row: LiveRow = withSig({ s: u.state, src: u.source, j: u.text }, u.sig);
  void ctx.store.live.put(u.key, row);
  ctx.overlay.setLive(u.key, row, ctx.batch);
  const change: Change = { key: u.key, state: u.state, source: u.source, text: u.text, deferred: wasDeferred };
  if (u.sig !== undefined) change.sig = u.sig;
  ctx.changes.push(change);
}

/** `row` with its signature field `g` when there is one (unsigned rows keep their old shape). */
export function withSig<T extends object>(row: T, sig: string | undefined): T & { g?: string } {
  if (sig !== undefined) (row as { g?: string }).g = sig;
  return row;
}
