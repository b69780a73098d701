/** The options and results of an import (src/replay/import.ts, restore.ts). */
import type { ExportCounts } from './export.js';
import type { SignatureCheck } from './import-chunks.js';

export interface ImportOptions {
  /** Most updates handed to the replica in one `receive` (one transaction). Default 5000, capped at the replica's maxBatch. */
  chunk?: number;
  /** Called after each chunk is committed, with the totals so far. */
  onProgress?: (progress: ImportReport) => void;
  /**
   * Verify signatures (src/sign/policy.ts) in both passes: a row whose source has a key in
   * `keyring` must carry its valid signature, and with `requireSigned` every row must have a
   * known key; the first row that fails is reported (HAMSYNC_ERR_SIGNATURE, FILE:LINE) and
   * nothing is imported. Default: none. An export is then trusted like the data directory it
   * came from: signatures are imported as they are, checked for form only.
   */
  signatures?: SignatureCheck;
  /** Polled between chunks (and between batches of pass 1): true stops after the chunk being written (Ctrl-C). */
  stopped?: () => boolean;
}

/** What an import did. */
export interface ImportReport {
  file: string;
  /** Lines read, the header included. */
  lines: number;
  /** The header's counts (equal to the rows in the file: checked). */
  counts: ExportCounts;
  /** Rows handed to HAM. */
  updates: number;
  /** Rows that were new to the replica: written to history (and live, when they won) or to the deferred queue. */
  imported: number;
  /** Rows the replica already had exactly (same key, state, source and value): nothing written. */
  duplicates: number;
  /** New rows that changed the live view. */
  applied: number;
  /** New rows from the replica's future: waiting in its deferred queue. */
  deferred: number;
  /** Transactions (receive calls). */
  chunks: number;
  /**
   * `restore`: the data directory was empty, and the rows were written exactly as exported
   * (outcomes, deferred flags, receive times); `merge`: every row went through HAM with this
   * replica's clock (see `importExport`).
   */
  mode: 'restore' | 'merge';
  /** Set when `stopped` ended it early: while checking the file (nothing imported), or while importing. */
  interrupted?: 'check' | 'import';
}

/** Pass 1's result: the file is a complete, valid export. */
export interface ValidatedExport {
  file: string;
  lines: number;
  counts: ExportCounts;
}
