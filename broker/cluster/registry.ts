/**
 * The cluster's node registry: a Redis hash `hamsync:{<ns>}:nodes`, node id -> JSON
 * {url, id, n, pushed, head, at}, refreshed by every node's heartbeat (every `everyMs`, default
 * 2 s). An entry not refreshed for three intervals is stale: not a live peer. The heartbeat also
 * reads the stream's entry count (lag) and its generation key (a changed one makes the consumer
 * decide its start again). Only informative: nothing is lost when it is missing.
 */
export interface NodeEntry {
  /** The node's advertised MQTT URL (peer snapshots). */
  url: string;
  /** Last stream entry applied, and its number. */
  id: string;
  n: number;
  /** Change log position pushed, and the change log's head. */
  pushed: number;
  head: number;
  /** Wall clock ms of the heartbeat. */
  at: number;
}

/** A registry entry from its hash value; undefined when malformed. */
export function parseNodeEntry(text: string): NodeEntry | undefined {
  try {
    const v = JSON.parse(text) as Partial<NodeEntry>;
    if (typeof v.url !== 'string' || typeof v.id !== 'string' || ![v.n, v.pushed, v.head, v.at].every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
    return { url: v.url, id: v.id, n: v.n as number, pushed: v.pushed as number, head: v.head as number, at: v.at as number };
  } catch {
    return undefined;
  }
}

/** Entries heard within `staleMs` of `now`, other than `self`. */
export function livePeers(entries: Record<string, string>, self: string, now: number, staleMs: number): [string, NodeEntry][] {
  const out: [string, NodeEntry][] = [];
  for (const [id, text] of Object.entries(entries)) {
    const e = parseNodeEntry(text);
    if (id !== self && e && now - e.at <= staleMs) out.push([id, e]);
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
