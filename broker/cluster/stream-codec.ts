/**
 * The shared stream's pure pieces (docs/cluster.md): key names, how change log rows travel in a
 * stream entry, stream id comparison, and the start decision (resume, or a gap that needs peer
 * snapshots). No Redis here: unit-tested on their own (test/cluster/codec.test.ts).
 */
import type { ChangeRow } from '../../src/store/rows.js';
import type { StreamMark } from '../../src/store/cluster-marks.js';
import type { DecodedUpdate } from '../../src/wire/codec.js';

/** Redis keys of one namespace; the `{<ns>}` hash tag keeps them in one Redis Cluster slot. */
export function clusterKeys(ns: string): { log: string; gen: string; count: string; nodes: string } {
  const p = `hamsync:{${ns}}`;
  return { log: `${p}:log`, gen: `${p}:gen`, count: `${p}:count`, nodes: `${p}:nodes` };
}

/** A stream id "ms-seq" as two numbers (undefined when it is not one). */
export function parseId(id: string): [number, number] | undefined {
  const m = /^(\d{1,16})-(\d{1,16})$/.exec(id);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return Number.isSafeInteger(a) && Number.isSafeInteger(b) ? [a, b] : undefined;
}

/** Orders two stream ids: negative when a < b, 0 when equal, positive when a > b. Throws on a malformed id. */
export function compareIds(a: string, b: string): number {
  const x = parseId(a);
  const y = parseId(b);
  if (!x || !y) throw new Error(`not a stream id: ${!x ? a : b}`);
  return x[0] !== y[0] ? x[0] - y[0] : x[1] - y[1];
}

/** One row in an entry: [key, state, source, value JSON text, signature?]. */
type WireRow = [string, number, string, string] | [string, number, string, string, string];

/** The rows of one entry as the `r` field's text (the origin flag and the deferred flag stay home). */
export function encodeRows(rows: readonly ChangeRow[]): string {
  return JSON.stringify(rows.map((r): WireRow => (r.g === undefined ? [r.k, r.s, r.src, r.j] : [r.k, r.s, r.src, r.j, r.g])));
}

/**
 * The `r` field back as updates to check (src/model/update.ts); a row that is not even shaped
 * like one is counted in `bad` and left out. Never throws.
 */
export function decodeRows(text: string): { updates: DecodedUpdate[]; bad: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { updates: [], bad: 1 };
  }
  if (!Array.isArray(parsed)) return { updates: [], bad: 1 };
  const updates: DecodedUpdate[] = [];
  let bad = 0;
  for (const row of parsed as unknown[]) {
    if (!Array.isArray(row) || (row.length !== 4 && row.length !== 5) || typeof row[3] !== 'string') {
      bad++;
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(row[3] as string);
    } catch {
      bad++;
      continue;
    }
    const u: DecodedUpdate = { key: row[0], state: row[1], source: row[2], value: value as DecodedUpdate['value'] };
    if (row.length === 5) u.sig = row[4];
    updates.push(u);
  }
  return { updates, bad };
}

/** One stream entry as the consumer reads it. */
export interface StreamEntry {
  id: string;
  /** The node that pushed it. */
  origin: string;
  /** The stream generation it was pushed in. */
  gen: string;
  /** Its number in the stream: 1, 2, 3, … per generation, with no hole (set by the push script). */
  n: number;
  /** The `r` field (rows), undefined when missing. */
  rows: string | undefined;
}

/** An entry's flat field list ([name, value, ...], as XREAD returns it); undefined when malformed. */
export function parseEntry(id: string, fields: readonly string[]): StreamEntry | undefined {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
  const n = Number(f.get('n'));
  const origin = f.get('o');
  const gen = f.get('g');
  if (!parseId(id) || origin === undefined || gen === undefined || !Number.isSafeInteger(n) || n < 1) return undefined;
  return { id, origin, gen, n, rows: f.get('r') };
}

/** What Redis says about the stream when a node (re)starts consuming. */
export interface StreamInfo {
  /** The generation key's value. */
  gen: string;
  /** Entries ever added in this generation (the last entry's `n`). */
  added: number;
  /** Entries held now. */
  length: number;
  /** The last entry's id ("0-0": none yet). */
  last: string;
}

/** Where consuming starts, and why it needs peer snapshots first (a gap). */
export type StartDecision =
  | { kind: 'resume'; mark: StreamMark }
  | { kind: 'gap'; why: 'trimmed' | 'generation' | 'joined'; mark: StreamMark; detail: string };

/**
 * The start decision (docs/cluster.md "Gaps"):
 * - no mark and the stream holds every entry of its generation: read it from the start;
 * - no mark and some were trimmed: a joining node missed them (gap "joined");
 * - a mark of another generation: Redis restarted without the data, or was replaced (gap "generation");
 * - a mark whose next entry was trimmed away (gap "trimmed");
 * - otherwise resume from the mark.
 * A gap starts consuming at the stream's current last entry, after peer snapshots.
 */
export function decideStart(mark: StreamMark | undefined, info: StreamInfo): StartDecision {
  const trimmed = info.added - info.length;
  const atEnd: StreamMark = { gen: info.gen, id: info.last, n: info.added };
  if (mark === undefined) {
    if (trimmed <= 0) return { kind: 'resume', mark: { gen: info.gen, id: '0-0', n: 0 } };
    return { kind: 'gap', why: 'joined', mark: atEnd, detail: `a new node; the stream no longer holds its first ${trimmed} entries` };
  }
  if (mark.gen !== info.gen) return { kind: 'gap', why: 'generation', mark: atEnd, detail: `the stream's generation is ${info.gen}, this node followed ${mark.gen}` };
  if (mark.n > info.added) return { kind: 'gap', why: 'generation', mark: atEnd, detail: `this node is at entry ${mark.n}, the stream has only had ${info.added}` };
  if (trimmed > mark.n) return { kind: 'gap', why: 'trimmed', mark: atEnd, detail: `entries ${mark.n + 1}..${trimmed} were trimmed before this node read them` };
  return { kind: 'resume', mark };
}
