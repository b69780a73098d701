import type { Aedes, Client, PublishPacket } from 'aedes';
import type { Context } from '../../src/context.js';
import { isHamsyncError } from '../../src/errors.js';
import type { ChangeLog } from '../../src/store/change-log.js';
import type { HubIdentity } from '../../src/store/hub-identity.js';
import type { Replica } from '../../src/sync/replica.js';
import { decodeSyncAck } from '../../src/wire/sync-v2.js';
import type { Publisher } from '../publisher.js';
import { announceHub } from './announce.js';
import { Feeds, type FeedStatus } from './feeds.js';
import { LogRetention } from './log-retention.js';
import { PAGE_BOUNDS } from './pager.js';
import { SyncRequests } from './sync-request.js';

export interface SyncHubOptions {
  replica: Replica;
  publisher: Publisher;
  /** Change log entries kept (`--sync-log-max`). */
  logMax: number;
  /** Rejects a message (broker/refusals.ts): counted, logged, never forwarded. */
  reject: (client: Client | null, packet: PublishPacket, code: string, reason: string) => void;
}

export interface SyncStatus {
  hub: string;
  epoch: number;
  head: number;
  oldest: number;
  logMax: number;
  feeds: number;
  feedList: FeedStatus[];
}

/**
 * The hub's side of sync protocol v2: the retained announcement, requests (sync-request.ts),
 * the feeds (feeds.ts, feed.ts) and their acknowledgements, and the change log's retention.
 */
export class SyncHub {
  readonly identity: HubIdentity;
  private readonly changeLog: ChangeLog;
  private readonly feeds: Feeds;
  private readonly requests: SyncRequests;
  private readonly retention: LogRetention;
  private aedes: Aedes | undefined;
  private readonly onDisconnect = (client: Client): void => this.feeds.clientDisconnect(client);
  private readonly onHead = (head: number): void => this.retention.onHead(head);

  constructor(
    private readonly ctx: Context,
    private readonly o: SyncHubOptions,
  ) {
    const log = o.replica.changeLog;
    if (!log) throw new Error('the hub replica must be opened with changeLog: true');
    this.changeLog = log;
    this.identity = o.replica.hubIdentity();
    this.feeds = new Feeds({
      ...ctx, replica: o.replica, changeLog: log, identity: this.identity, publisher: o.publisher,
      bounds: PAGE_BOUNDS, window: 4, emptyEvery: 10_000, emptyAfterMs: 5000,
    });
    this.requests = new SyncRequests(ctx, { identity: this.identity, changeLog: log, feeds: this.feeds, publisher: o.publisher, reject: o.reject });
    this.retention = new LogRetention(ctx, log, o.logMax);
    o.replica.on('head', this.onHead);
  }

  /** A request on `sync/req/<device>` (already acknowledged). */
  request(client: Client | null, packet: PublishPacket, device: string): void {
    this.requests.handle(client, packet, device);
  }

  /** An acknowledgement on `sync/ack/<device>` (acknowledged, never forwarded). */
  ack(client: Client | null, packet: PublishPacket, device: string): void {
    let ack;
    try {
      ack = decodeSyncAck(packet.payload as Buffer, this.ctx.limits);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      return this.ctx.counters.inc('sync.acks.invalid');
    }
    this.feeds.ack(client, device, ack.id, ack.n);
  }

  /** Announces the hub (retained) and ends feeds with their clients. */
  attach(aedes: Aedes): void {
    this.aedes = aedes;
    aedes.on('clientDisconnect', this.onDisconnect);
    announceHub(this.o.publisher, this.ctx.ns, this.identity);
    this.ctx.log.info('sync v2 hub announced', { hub: this.identity.id, epoch: this.identity.epoch, head: this.changeLog.head, oldest: this.changeLog.oldest() });
  }

  /** Ends every feed and stops retention (resolves once a prune run going ended). */
  async detach(): Promise<void> {
    this.aedes?.off('clientDisconnect', this.onDisconnect);
    this.aedes = undefined;
    this.o.replica.off('head', this.onHead);
    this.feeds.close();
    await this.retention.stop();
  }

  /**
   * Keeps change log entries after `keep()` from pruning (the hub cluster's pusher has not pushed
   * them yet; broker/cluster/pusher.ts).
   */
  holdLog(keep: () => number): void {
    this.retention.hold = keep;
  }

  /** Pruning now, for tests and the admin: resolves when the run ended. */
  prune(): Promise<void> {
    return this.retention.run();
  }

  status(): SyncStatus {
    const head = this.changeLog.head;
    const feeds = this.feeds.status(head);
    return { hub: this.identity.id, epoch: this.identity.epoch, head, oldest: this.changeLog.oldest(), logMax: this.o.logMax, feeds: feeds.count, feedList: feeds.list };
  }
}
