/**
 * A peer snapshot (docs/cluster.md "Gaps"): this node connects to a peer node's MQTT listener as a
 * protocol v2 follower with filter `#`, exactly as a device would (docs/PROTOCOL.md "Sync v2"), with
 * the shared feed follower (src/follow/feed-follower.ts). Pages are stored as external (their
 * change log rows marked, never pushed). The follower's cursor for the peer's hub identity is
 * kept, so the next snapshot from the same peer resumes from it instead of starting over.
 * Ends when the feed caught up with the peer's head, or fails after `timeoutMs` without progress.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions } from 'mqtt';
import type { Context } from '../../src/context.js';
import { createContext } from '../../src/context.js';
import type { HamsyncError } from '../../src/errors.js';
import { FeedFollower, type FeedStatus } from '../../src/follow/feed-follower.js';
import type { CheckedUpdate } from '../../src/model/update.js';
import type { Replica } from '../../src/sync/replica.js';
import { decodeHubAnnouncement } from '../../src/wire/sync-v2.js';
import { parseTopic, topics } from '../../src/wire/topics.js';

export interface PeerSnapshotOptions {
  /** The peer's MQTT URL (its registry entry's advertise URL). */
  url: string;
  /** This node's id (its follower's device id is derived from it unless `username` is given). */
  nodeId: string;
  /** Login at the peer (a broker with --users): the node user (role `node`) this node follows as. */
  username?: string;
  password?: string;
  /** Fails when no page arrives for this long, ms. Default 30000. */
  timeoutMs?: number;
  /** Aborts the snapshot (the node is stopping). */
  signal?: AbortSignal;
}

/** The device id a node follows a peer as: its login, else `node-<node id>` (dots become `_`). */
export function followerId(nodeId: string, username?: string): string {
  return (username ?? `node-${nodeId.replace(/\./g, '_')}`).slice(0, 64);
}

/** Peers are trusted (they verified what they stored): signatures are carried, not checked again. */
const TRUSTING = {
  each: (updates: readonly CheckedUpdate[]): Promise<CheckedUpdate[]> => Promise.resolve([...updates]),
  refused: (_err: HamsyncError, _topic: string, _n: number): void => undefined,
};

/** Takes a snapshot from one peer; resolves with the feed's status once caught up. */
export async function peerSnapshot(ctx: Context, replica: Replica, o: PeerSnapshotOptions): Promise<FeedStatus> {
  const id = followerId(o.nodeId, o.username);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const options: IClientOptions = { clientId: `hamsync-${id}.snap-${randomBytes(4).toString('hex')}`, clean: true, reconnectPeriod: 0, connectTimeout: timeoutMs, keepalive: 30 };
  if (o.username !== undefined) options.username = o.username;
  if (o.password !== undefined) options.password = o.password;
  // Its own counters: the follower's sync.* counts are not the hub's.
  const fctx = createContext({ ns: ctx.ns, log: ctx.log, limits: ctx.limits });
  const client = mqtt.connect(o.url, options);
  let caughtUp: () => void = () => undefined;
  let failed: (err: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    caughtUp = resolve;
    failed = reject;
  });
  const follower = new FeedFollower(fctx, { ns: ctx.ns, id, subscribe: ['#'], external: true, onCaughtUp: () => caughtUp() }, replica, client, TRUSTING);
  let timer = setTimeout(() => failed(new Error(`no progress from ${o.url} for ${timeoutMs} ms`)), timeoutMs);
  const progress = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => failed(new Error(`no progress from ${o.url} for ${timeoutMs} ms`)), timeoutMs);
  };
  client.handleMessage = (packet, cb) => {
    const t = parseTopic(packet.topic);
    let work: Promise<void> = Promise.resolve();
    try {
      if (t?.kind === 'hub' && t.ns === ctx.ns) follower.request(decodeHubAnnouncement(packet.payload as Buffer, ctx.limits));
      else if (t?.kind === 'sync-res' && t.rest === id) work = follower.receive(packet.payload as Buffer, packet.topic).then(progress);
    } catch (err) {
      work = Promise.reject(err as Error);
    }
    work.then(() => cb(), (err: Error) => {
      failed(err);
      cb();
    });
  };
  const abort = (): void => failed(new Error('the node is stopping'));
  if (o.signal?.aborted) abort();
  o.signal?.addEventListener('abort', abort);
  client.on('error', (err) => failed(err));
  client.on('close', () => failed(new Error(`the connection to ${o.url} closed`)));
  client.on('connect', () => {
    client.subscribe([topics.syncResponse(ctx.ns, id), topics.hub(ctx.ns)], { qos: 1 }, (err, granted) => {
      if (err) return failed(err);
      const refused = granted?.find((g) => g.qos === 128);
      if (refused) failed(new Error(`the peer refused the subscription to ${refused.topic} (its ACL: the cluster user must be a node user of this namespace)`));
    });
  });
  try {
    await done;
    return follower.status();
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', abort);
    follower.reset();
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }
}
