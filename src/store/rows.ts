/** How a resolved update ended up, as recorded in history. */
export type Outcome = 'applied' | 'historical' | 'tie-lost' | 'same';

/**
 * Every row that holds an update may carry `g`, the signature it arrived with (its source's
 * Ed25519 signature, base64url; see src/sign). Added after format 1 shipped, optional: rows
 * without it are unsigned updates, and older readers ignore it.
 */

/** live: key -> the current winner. `j` is the value's canonical JSON text. */
export interface LiveRow {
  s: number;
  src: string;
  j: string;
  /** The winner's signature, republished with it (state topic, catch-up). */
  g?: string;
}

/**
 * history: [state, seq] -> one accepted update, as resolved. Append-only; kept in state order
 * so replay, as-of and retention are range scans. `seq` makes equal states unique.
 */
export interface HistoryRow {
  k: string;
  src: string;
  j: string;
  /** Outcome when it was resolved. */
  o: Outcome;
  /** True when it waited in the deferred queue before it was resolved. */
  d: boolean;
  /** Local receive time (machine state when it arrived). */
  rx: number;
  g?: string;
}

/** deferred: [state, key, seq] -> an update from the future, waiting for the clock. */
export interface DeferredRow {
  src: string;
  j: string;
  rx: number;
  g?: string;
}

export type HistoryKey = [state: number, seq: number];
/** historyByKey: [key, state, seq] -> true; the per-key index into history. */
export type HistoryIndexKey = [key: string, state: number, seq: number];
export type DeferredKey = [state: number, key: string, seq: number];

/** outbox: seq -> one encoded put message (wire payload text) and how many updates it carries. */
export interface OutboxRow {
  p: string;
  n: number;
}

/**
 * quarantine: [source, key, state, seq] -> an update stamped further ahead than the replica's
 * horizon (maxFutureMs). Same row shape as deferred (fields added to deferred rows later are
 * carried over on release); keyed by source first, so per-source selection is a range scan.
 * Such rows never become live on their own: an operator releases or drops them.
 */
export type QuarantineRow = DeferredRow;
export type QuarantineKey = [source: string, key: string, state: number, seq: number];

/** What an operator did to a quarantined update. */
export type QuarantineAction = 'release' | 'drop';

/** quarantine-log: seq -> one operator action on one quarantined update (the audit trail). */
export interface QuarantineLogRow {
  /** The action. */
  a: QuarantineAction;
  /** Machine state when it was done. */
  at: number;
  k: string;
  s: number;
  src: string;
  j: string;
  /** When the update had been received (machine state). */
  rx: number;
  g?: string;
}

/**
 * changes (hub only, format 2): hub sequence -> one update the hub accepted: resolved on arrival,
 * whatever HAM decided (followers keep the same history), or queued in the deferred queue (`d`
 * true; not logged again when it falls due, each follower's own clock resolves it). The hub's durable, ordered change log (protocol v2
 * resumes from a position in it); pruned from the oldest end.
 */
export interface ChangeRow {
  k: string;
  s: number;
  src: string;
  j: string;
  /** True for an arrival in the deferred queue. */
  d?: true;
  g?: string;
  /**
   * 1 when the update came from the hub cluster (another node's push, or a peer snapshot;
   * broker/cluster/), not from this node's own clients: the cluster's pusher never pushes it again.
   */
  x?: 1;
}
