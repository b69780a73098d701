/**
 * One node of the hub cluster (docs/cluster.md): the Redis link, the pusher (own updates to the
 * shared stream), the consumer (the stream into the hub replica), the registry heartbeat and
 * the peer snapshots that fill a gap. Started after the MQTT listener (the advertised URL names
 * its port), stopped before the replica closes. The node keeps serving its clients whatever
 * Redis does: the cluster only adds what the other nodes accepted.
 */
import type { Context } from '../../src/context.js';
import type { Replica } from '../../src/sync/replica.js';
import { Backoff } from '../../src/util/backoff.js';
import { Consumer } from './consumer.js';
import { RedisLink, type LinkOptions } from './link.js';
import { DEFAULT_CLUSTER_LOG_MAX, type ClusterOptions } from './options.js';
import { peerSnapshot } from './peer-snapshot.js';
import { Pusher } from './pusher.js';
import { livePeers, parseNodeEntry, type NodeEntry } from './registry.js';
import { clusterKeys, type StartDecision } from './stream-codec.js';

export interface ClusterNodeOptions extends ClusterOptions {
  /** The resolved advertise URL (ClusterOptions.advertise or the listener's). */
  advertise: string;
  /** Login at peers for snapshots (their --users). */
  username?: string;
  password?: string;
  /** Registry heartbeat, ms. Default 2000. */
  heartbeatMs?: number;
  /** Redis timeouts (tests shorten them). */
  link?: LinkOptions;
  /** A peer snapshot fails after this long without progress, ms. Default 30000. */
  snapshotTimeoutMs?: number;
  /** Test hook of the pusher (broker/cluster/pusher.ts). */
  beforePush?(): void;
}

/** One node as `hamsync status` shows it. */
export interface ClusterNodeStatus {
  id: string;
  url: string;
  /** Stream entries applied (its number in the stream) and how far behind the stream's head. */
  position: number;
  behind: number;
  pushed: number;
  head: number;
  /** Seconds since its last heartbeat. */
  seenS: number;
  live: boolean;
}

export interface ClusterStatus {
  nodeId: string;
  advertise: string;
  redis: { up: boolean; reason?: string };
  stream: { gen: string | null; id: string | null; position: number; head: number; behind: number };
  pushed: number;
  unpushed: number;
  snapshots: { taken: number; failed: number; /** Peers whose snapshot failed and is being retried. */ owed: string[] };
  /** Every registered node (this one included), by id. */
  nodes: ClusterNodeStatus[];
}

export class ClusterNode {
  private readonly link: RedisLink;
  readonly pusher: Pusher;
  readonly consumer: Consumer;
  private readonly keys: ReturnType<typeof clusterKeys>;
  private heartbeat: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private headCount = 0;
  private registry: Record<string, string> = {};
  private snapshotsTaken = 0;
  private snapshotsFailed = 0;
  /**
   * Peers whose snapshot failed: what this node may lack until one succeeds. Retried from the
   * heartbeat with backoff while the peer is live; readiness says degraded meanwhile.
   */
  private readonly owed = new Map<string, { backoff: Backoff; at: number; err: string; running?: boolean }>();
  private readonly heartbeatMs: number;
  private readonly stopping = new AbortController();

  constructor(
    private readonly ctx: Context,
    private readonly replica: Replica,
    private readonly o: ClusterNodeOptions,
  ) {
    this.keys = clusterKeys(ctx.ns);
    this.heartbeatMs = o.heartbeatMs ?? 2000;
    this.link = new RedisLink(o.url, ctx.log, o.link);
    this.consumer = new Consumer(ctx, replica, this.link, { nodeId: o.nodeId, gap: (d) => this.fillGap(d) });
    this.pusher = new Pusher(ctx, replica, this.link, {
      nodeId: o.nodeId, logMax: o.logMax ?? DEFAULT_CLUSTER_LOG_MAX, gen: () => this.consumer.gen, ...(o.beforePush ? { beforePush: o.beforePush } : {}),
    });
    this.link.on('up', () => void this.beat());
  }

  start(): void {
    this.link.start();
    this.consumer.start();
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
    this.ctx.log.info('cluster node started', { nodeId: this.o.nodeId, advertise: this.o.advertise, logMax: this.o.logMax ?? DEFAULT_CLUSTER_LOG_MAX });
  }

  /** Redis reachable (the PING watchdog's view). */
  get redisUp(): boolean {
    return this.link.up;
  }

  /** Whether the node is in step with the cluster, and why not (readiness: "degraded", not down). */
  check(): { ok: boolean; reason: string } {
    if (!this.link.up) return { ok: false, reason: `redis unreachable (${this.link.reason}); serving clients locally` };
    if (this.consumer.gen === undefined) return { ok: false, reason: 'catching up with the cluster stream' };
    if (this.owed.size > 0) {
      const [id, o] = this.owed.entries().next().value as [string, { err: string }];
      return { ok: false, reason: `a snapshot from peer ${id} is owed (last error: ${o.err}); retrying` };
    }
    return { ok: true, reason: 'redis connected, following the stream' };
  }

  /** The stream's head (entries added in this generation) minus this node's position. */
  get behind(): number {
    return Math.max(0, this.headCount - (this.consumer.mark?.n ?? 0));
  }

  status(): ClusterStatus {
    const mark = this.consumer.mark;
    const now = Date.now();
    const nodes: ClusterNodeStatus[] = [];
    for (const [id, text] of Object.entries(this.registry)) {
      const e = parseNodeEntry(text);
      if (!e) continue;
      nodes.push({ id, url: e.url, position: e.n, behind: Math.max(0, this.headCount - e.n), pushed: e.pushed, head: e.head, seenS: Math.round((now - e.at) / 100) / 10, live: now - e.at <= 3 * this.heartbeatMs });
    }
    nodes.sort((a, b) => (a.id < b.id ? -1 : 1));
    return {
      nodeId: this.o.nodeId,
      advertise: this.o.advertise,
      redis: this.link.up ? { up: true } : { up: false, reason: this.link.reason },
      stream: { gen: mark?.gen ?? null, id: mark?.id ?? null, position: mark?.n ?? 0, head: this.headCount, behind: this.behind },
      pushed: this.pusher.pushed,
      unpushed: this.pusher.unpushed,
      snapshots: { taken: this.snapshotsTaken, failed: this.snapshotsFailed, owed: [...this.owed.keys()] },
      nodes,
    };
  }

  /** Stops reading and pushing (a push going ends first); the replica stays open. */
  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    // A snapshot or a blocking read going ends now rather than at its timeout.
    this.stopping.abort();
    this.link.blocking.disconnect(false);
    await this.consumer.stop();
    await this.pusher.stop();
    await this.beating;
    await this.link.stop();
  }

  private entry(): NodeEntry {
    const mark = this.consumer.mark;
    return { url: this.o.advertise, id: mark?.id ?? '0-0', n: mark?.n ?? 0, pushed: this.pusher.pushed, head: this.replica.changeLog?.head ?? 0, at: Date.now() };
  }

  /** Registers this node, reads the registry, the stream's count and its generation. */
  private beat(): Promise<void> {
    this.beating ??= this.beatOnce().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async beatOnce(): Promise<void> {
      try {
        if (!this.link.up) return;
        const replies = await this.link.cmd.multi().hset(this.keys.nodes, this.o.nodeId, JSON.stringify(this.entry())).hgetall(this.keys.nodes).get(this.keys.count).get(this.keys.gen).exec();
        if (!replies) return;
        for (const [err] of replies) if (err) throw err;
        const [, all, count, gen] = replies.map(([, v]) => v) as [unknown, Record<string, string>, string | null, string | null];
        this.registry = all;
        this.headCount = Number(count ?? 0);
        const followed = this.consumer.gen;
        if (followed !== undefined && gen !== followed) this.consumer.resync();
        this.retryOwed();
      } catch (err) {
        this.link.failed(err as Error);
      }
  }

  /** A gap: re-push own rows (when the stream lost its data), then a snapshot from every live peer. */
  private async fillGap(d: Extract<StartDecision, { kind: 'gap' }>): Promise<void> {
    if (d.why === 'generation') {
      // The stream lost what was pushed: peers that were away when it happened need our rows again.
      await this.pusher.restartFrom(0);
      // The registry went with it: give live peers one heartbeat to register again.
      await this.beat();
      await new Promise((r) => setTimeout(r, this.heartbeatMs * 1.5).unref());
    }
    await this.beat();
    const peers = livePeers(this.registry, this.o.nodeId, Date.now(), 3 * this.heartbeatMs);
    if (peers.length === 0) this.ctx.log.warn('cluster gap: no live peer to take a snapshot from', { why: d.why });
    for (const [id, peer] of peers) {
      if (this.stopping.signal.aborted) return;
      await this.snapshotFrom(id, peer.url);
    }
  }

  /** One peer snapshot; a failure is counted, logged and owed (retried by retryOwed). */
  private async snapshotFrom(id: string, url: string): Promise<boolean> {
    try {
      const feed = await peerSnapshot(this.ctx, this.replica, {
        url, nodeId: this.o.nodeId, timeoutMs: this.o.snapshotTimeoutMs ?? 30_000, signal: this.stopping.signal,
        ...(this.o.username === undefined ? {} : { username: this.o.username }), ...(this.o.password === undefined ? {} : { password: this.o.password }),
      });
      this.snapshotsTaken++;
      this.owed.delete(id);
      this.ctx.counters.inc('cluster.snapshots');
      this.ctx.log.info('peer snapshot taken', { peer: id, url, mode: feed.last, position: feed.position, pages: feed.pages });
      return true;
    } catch (err) {
      if (this.stopping.signal.aborted) return false;
      this.snapshotsFailed++;
      this.ctx.counters.inc('cluster.snapshots.failed');
      const o = this.owed.get(id) ?? { backoff: new Backoff(1000, 60_000), at: 0, err: '' };
      o.err = (err as Error).message;
      o.at = Date.now() + o.backoff.next();
      this.owed.set(id, o);
      this.ctx.log.warn('peer snapshot failed; will retry', { peer: id, url, err: o.err, retryInMs: o.at - Date.now() });
      return false;
    }
  }

  /** Retries owed snapshots that are due, from peers still live in the registry. */
  private retryOwed(): void {
    const now = Date.now();
    const live = new Map(livePeers(this.registry, this.o.nodeId, now, 3 * this.heartbeatMs));
    for (const [id, o] of this.owed) {
      const peer = live.get(id);
      if (!peer || o.running || o.at > now || this.stopping.signal.aborted) continue;
      o.running = true;
      void this.snapshotFrom(id, peer.url).finally(() => (o.running = false));
    }
  }
}
