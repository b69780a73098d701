import type { Argv } from 'yargs';
import { call, print, withClient } from './client.js';

export const command = 'status';
export const describe = 'Show the local daemon\'s (or, with --http, a broker admin API\'s) status; exits non-zero when nothing answers';

export function builder(y: Argv) {
  return withClient(y)
    .example('$0 status', 'connection, outbox, deferred and quarantine per source, counters')
    .example('$0 status --http 127.0.0.1:7900', 'a broker started with --http 127.0.0.1:7900');
}

interface SourceQueues {
  deferred: number;
  deferredBytes: number;
  quarantined: number;
}

interface LinkView {
  failedAttempts: number;
  lastError: { message: string; at: number } | null;
  nextAttemptAt: number | null;
}

interface SyncView {
  mode: string;
  setting: string;
  hub: { id: string; epoch: number } | null;
  position: number | null;
  head: number | null;
  backlog: number | null;
  pages: number;
  last: string | null;
}

/** Sync protocol v2: the mode, and in hub mode where this device stands in the hub's log. */
function syncLines(sync: SyncView | undefined): string[] {
  if (!sync) return [];
  const how = sync.setting === sync.mode ? '' : ` (--sync ${sync.setting})`;
  if (sync.mode !== 'hub') return [`sync      peer: peers' puts through the broker (put/+)${how}`];
  const hub = sync.hub ? `hub ${sync.hub.id} epoch ${sync.hub.epoch}` : 'no hub announced yet';
  const out = [`sync      hub: ${hub}${how}`];
  const backlog = sync.backlog === null ? '' : `, backlog ${sync.backlog}`;
  out.push(`  position ${sync.position ?? 'none'} of head ${sync.head ?? 'unknown'}${backlog}; ${sync.pages} pages received; last (re)connect: ${sync.last ?? 'none yet'}`);
  return out;
}

interface ClusterView {
  nodeId: string;
  redis: { up: boolean; reason?: string };
  stream: { position: number; head: number; behind: number };
  pushed: number;
  unpushed: number;
  snapshots: { taken: number; failed: number; owed?: string[] };
  nodes: { id: string; url: string; position: number; behind: number; seenS: number; live: boolean }[];
}

/** A hub cluster node (docs/cluster.md): Redis, this node's log position and lag, and every registered node's. */
export function clusterLines(c: ClusterView | undefined): string[] {
  if (!c) return [];
  const redis = c.redis.up ? 'connected' : `NOT connected (${c.redis.reason ?? 'unknown'}; serving clients locally)`;
  const out = [
    `cluster   node ${c.nodeId}; redis ${redis}`,
    `  stream position ${c.stream.position} of head ${c.stream.head} (behind ${c.stream.behind}); ${c.unpushed} own change log entries not pushed yet; peer snapshots ${c.snapshots.taken} taken, ${c.snapshots.failed} failed${c.snapshots.owed?.length ? ` (retrying: ${c.snapshots.owed.join(', ')})` : ''}`,
  ];
  for (const n of c.nodes) out.push(`  node ${n.id} ${n.url}: position ${n.position}, behind ${n.behind}, ${n.live ? `seen ${n.seenS} s ago` : `STALE (last seen ${n.seenS} s ago)`}`);
  return out;
}

/** While offline: the last connection error and when the next attempt is. */
function linkLines(link: LinkView | undefined, connected: boolean): string[] {
  if (!link || connected) return [];
  const out: string[] = [];
  if (link.lastError) out.push(`  last error at ${new Date(link.lastError.at).toISOString()}: ${link.lastError.message}`);
  const next = link.nextAttemptAt === null ? 'now (connecting)' : `in ${Math.max(0, Math.ceil((link.nextAttemptAt - Date.now()) / 1000))} s, at ${new Date(link.nextAttemptAt).toISOString()}`;
  out.push(`  next try  ${next} (${link.failedAttempts} failed attempts so far)`);
  return out;
}

/** Version, uptime, last error; on a broker also clients and the devices whose skew estimate is 2 s or more. */
export function processLines(s: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (s.version !== undefined) out.push(`version   ${String(s.version)}, up ${String(s.uptimeS)} s`);
  const err = s.lastError as { message: string; code: string | null; at: number } | null | undefined;
  if (err) out.push(`last error ${err.message}${err.code ? ` (${err.code})` : ''} at ${new Date(err.at).toISOString()}`);
  if (s.role === 'broker' && s.clients !== undefined) out.push(`clients   ${String(s.clients)} connected`);
  const devices = s.devices as { id: string; skewS: number | null }[] | undefined;
  if (devices) {
    const skewed = devices.filter((d) => d.skewS !== null && Math.abs(d.skewS) >= 2).map((d) => `${d.id} ${(d.skewS as number) > 0 ? '+' : ''}${(d.skewS as number).toFixed(1)} s`);
    out.push(`devices   ${devices.length} seen${skewed.length > 0 ? `; clock skew: ${skewed.join(', ')}` : ''}`);
  }
  return out;
}

export async function handler(argv: { http: string; json: boolean }): Promise<void> {
  const { body: s } = await call(argv.http, 'GET', '/v1/status');
  print(argv.json, s, () => {
    const head =
      s.role === 'broker'
        ? [`broker    hub replica (ns ${String(s.ns)})`, ...clusterLines(s.cluster as ClusterView | undefined), `live      ${String(s.live)} keys`]
        : [
            `device    ${String(s.id)} (ns ${String(s.ns)})`,
            `broker    ${String(s.broker)} — ${s.connected ? 'connected' : 'NOT connected (working offline)'}`,
            ...(Array.isArray(s.brokers) ? [`brokers   ${s.brokers.map(String).join(', ')} (tried in turn)`] : []),
            ...linkLines(s.link as LinkView | undefined, s.connected === true),
            ...syncLines(s.sync as SyncView | undefined),
            `live      ${String(s.live)} keys`,
          ];
    const lines = [...head, ...processLines(s), `deferred  ${String(s.deferred)} updates waiting for the clock`];
    if (s.quarantined !== undefined) lines.push(`quarantine ${String(s.quarantined)} updates from beyond the horizon, held for an operator`);
    const queues = (s.queues ?? {}) as Record<string, SourceQueues>;
    for (const [src, q] of Object.entries(queues)) lines.push(`  ${src}: ${q.deferred} deferred (${q.deferredBytes} bytes), ${q.quarantined} quarantined`);
    if (s.role !== 'broker') {
      const outbox = s.outbox as { messages: number; updates: number; inflight: number };
      lines.push(`outbox    ${outbox.updates} updates in ${outbox.messages} messages not yet acknowledged (${outbox.inflight} in flight)`);
    }
    lines.push(`counters  ${JSON.stringify(s.counters)}`);
    return lines.join('\n');
  });
}
