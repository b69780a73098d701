/**
 * The daemon's side of a sync v2 feed (docs/PROTOCOL.md "Sync v2"): asks the announced hub for
 * its feed from the stored cursor, takes pages in order (n = last + 1; a redelivered one is
 * acknowledged again; a gap asks anew), checks each update on its own (form, key limits, then its
 * signature; a bad one is counted and skipped, the others are stored), stores the page's updates
 * and its `to` position in one write batch, and acknowledges the page once that is durable.
 * Shared by the daemon (src/daemon/link.ts) and a hub cluster node taking a peer snapshot
 * (broker/cluster/peer-snapshot.ts), through the narrow interfaces below.
 */
import { randomBytes } from 'node:crypto';
import type { Context } from '../context.js';
import { HamsyncError, isHamsyncError } from '../errors.js';
import { LogThrottle, suppressedField } from '../log-throttle.js';
import { checkUpdate, type CheckedUpdate } from '../model/update.js';
import type { Admission, Replica } from '../sync/replica.js';
import type { DecodedUpdate } from '../wire/codec.js';
import { decodeSyncResponseV2, encodeSyncAck, encodeSyncRequestV2, type FeedMode, type HubAnnouncement, type SyncError, type SyncPageDecoded } from '../wire/sync-v2.js';
import { matchKey, topics } from '../wire/topics.js';

/** What the follower needs to know about itself. */
export interface FollowerConfig {
  ns: string;
  /** The follower's device id (its sync topics). */
  id: string;
  /** Key filters it follows. */
  subscribe: string[];
  /** Store what it receives as from the hub cluster (change log rows marked; broker/cluster/). */
  external?: boolean;
  /** Called when a feed first reaches the hub's head (after that page is durable). */
  onCaughtUp?(): void;
}

/** Where it publishes its requests and acknowledgements (an mqtt.js client). */
export interface FollowerClient {
  publish(topic: string, payload: string | Buffer, options: { qos: 0 | 1 | 2 }): unknown;
}

/** The signature check of received updates (src/daemon/verifier.ts). */
export interface FollowerVerifier {
  /** The updates that pass. */
  each(updates: readonly CheckedUpdate[], topic: string): Promise<CheckedUpdate[]>;
  /** Counts and logs a refusal found before verification. */
  refused(err: HamsyncError, topic: string, updates: number): void;
}

/** After a HAMSYNC_ERR_RATE answer, the request is sent again this much later (the hub refills one request per 5 s). */
const RATE_RETRY_MS = 5000;

export interface FeedStatus {
  hub: { id: string; epoch: number } | null;
  /** The stored position in that hub's log (everything up to it is stored here). */
  position: number | null;
  /** The hub's head as of the last page. */
  head: number | null;
  backlog: number | null;
  /** Pages stored (this run). */
  pages: number;
  /** How the last feed began: from the stored position, or from a snapshot. */
  last: FeedMode | null;
}

interface Feed {
  id: string;
  hub: string;
  /** The last page number stored. */
  n: number;
  /** A page reached the hub's head (counted once per feed as `sync.completed`). */
  caughtUp?: boolean;
}

export class FeedFollower {
  private feed: Feed | undefined;
  private hub: HubAnnouncement | undefined;
  private head: number | undefined;
  private pages = 0;
  private started: FeedMode | undefined;
  private retry: NodeJS.Timeout | undefined;
  private readonly throttle = new LogThrottle();

  constructor(
    private readonly ctx: Context,
    private readonly config: FollowerConfig,
    private readonly replica: Replica,
    private readonly client: FollowerClient,
    private readonly verifier: FollowerVerifier,
    private readonly hubTime?: (t: number, monotonicMs: number) => void,
  ) {}

  /** Asks `hub` for its feed, from the position stored for it (if any); a new request replaces the old feed. */
  request(hub: HubAnnouncement): void {
    this.clearRetry();
    this.hub = hub;
    const at = this.replica.cursors().get(hub.hub);
    const id = randomBytes(9).toString('base64url');
    this.feed = { id, hub: hub.hub, n: 0 };
    this.ctx.counters.inc('sync.requested');
    const payload = encodeSyncRequestV2({ id, filters: this.config.subscribe, ...(at ? { at } : {}) });
    this.client.publish(topics.syncRequest(this.config.ns, this.config.id), payload, { qos: 1 });
  }

  /** The session ended (so did the hub's feed): pages of it still queued for us are ignored. */
  reset(): void {
    this.clearRetry();
    this.feed = undefined;
  }

  status(): FeedStatus {
    const cursor = this.hub ? this.replica.cursors().get(this.hub.hub) : this.replica.cursors().last();
    const position = cursor?.pos ?? null;
    const head = this.head ?? null;
    return {
      hub: this.hub ? { id: this.hub.hub, epoch: this.hub.epoch } : cursor ? { id: cursor.hub, epoch: cursor.epoch } : null,
      position,
      head,
      backlog: head !== null && position !== null ? Math.max(0, head - position) : null,
      pages: this.pages,
      last: this.started ?? null,
    };
  }

  /**
   * A message on `sync/res/<me>`. Resolves once what it carried is durable (and the page is
   * acknowledged); a store failure rejects (the delivery then stays unacknowledged at MQTT level).
   */
  async receive(payload: Buffer, topic: string): Promise<void> {
    let msg: ReturnType<typeof decodeSyncResponseV2>;
    try {
      msg = decodeSyncResponseV2(payload);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      return this.rejected(err, topic);
    }
    if ('error' in msg) return this.answered(msg.error);
    const page = msg.page;
    const feed = this.feed;
    if (!feed || page.id !== feed.id) return this.ctx.counters.inc('sync.stale-pages');
    if (page.n <= feed.n) {
      this.ctx.counters.inc('sync.pages-redelivered');
      return this.ack(feed.id, feed.n);
    }
    if (page.n !== feed.n + 1 || page.hub !== feed.hub) {
      const why = page.hub !== feed.hub ? `came from hub ${page.hub}, asked ${feed.hub}` : `is page ${page.n} after page ${feed.n}`;
      this.rejected(new HamsyncError('HAMSYNC_ERR_PROTOCOL', `a sync page ${why}; asking again`), topic);
      if (this.hub) this.request(this.hub);
      return;
    }
    if (page.t !== undefined) this.hubTime?.(page.t, performance.now());
    const passed = await this.verifier.each(this.checked(page.updates, topic), topic);
    // A new request (or the end of the session) while verifying: the hub dropped this feed.
    if (this.feed !== feed) return this.ctx.counters.inc('sync.stale-pages');
    const durable = this.store(page, passed);
    feed.n = page.n;
    this.head = page.head;
    await durable;
    this.ack(feed.id, page.n);
    if (!feed.caughtUp && page.to !== undefined && page.to >= page.head) {
      feed.caughtUp = true;
      this.ctx.counters.inc('sync.completed');
      this.ctx.log.info('caught up with the hub', { hub: page.hub, position: page.to, pages: feed.n });
      this.config.onCaughtUp?.();
    }
  }

  /** Writes the page's updates and its `to` in one batch (the same synchronous turn); resolves when durable. */
  private store(page: SyncPageDecoded, updates: CheckedUpdate[]): Promise<void> {
    const admissions: Admission[] = [];
    // Update by update: one over its source's deferred or quarantine cap is refused alone.
    for (const u of updates) {
      try {
        admissions.push(this.replica.admit([u]));
      } catch (err) {
        if (!isHamsyncError(err)) {
          for (const a of admissions) this.replica.cancel(a);
          throw err;
        }
        this.rejected(err, topics.syncResponse(this.config.ns, this.config.id));
      }
    }
    const receipt = this.replica.receiveAdmitted(admissions, { external: this.config.external === true });
    if (page.to !== undefined) this.replica.cursors().set({ hub: page.hub, epoch: page.epoch, pos: page.to });
    this.pages++;
    this.ctx.counters.inc('sync.pages');
    if (page.n === 1) {
      this.started = page.mode;
      this.ctx.counters.inc(page.mode === 'resume' ? 'sync.resumed' : 'sync.snapshots');
    }
    const duplicates = receipt.results.filter((r) => r.duplicate).length;
    if (duplicates > 0) this.ctx.counters.inc('sync.duplicates', duplicates);
    if (admissions.length > 0) this.ctx.counters.inc('updates.replicated', admissions.length);
    return receipt.durable;
  }

  /** The page's updates under our key filters that pass the checks, one by one (a bad one is counted and skipped). */
  private checked(updates: DecodedUpdate[], topic: string): CheckedUpdate[] {
    const out: CheckedUpdate[] = [];
    updates.forEach((u, i) => {
      if (typeof u.key !== 'string' || !this.config.subscribe.some((f) => matchKey(f, u.key as string))) return;
      try {
        out.push(checkUpdate(u, this.replica.limits, i));
      } catch (err) {
        if (!isHamsyncError(err)) throw err;
        if (err.code === 'HAMSYNC_ERR_SIGNATURE') this.verifier.refused(err, topic, 1);
        else this.rejected(err, topic);
      }
    });
    return out;
  }

  private ack(id: string, n: number): void {
    this.client.publish(topics.syncAck(this.config.ns, this.config.id), encodeSyncAck(id, n), { qos: 1 });
  }

  /** The hub's error answer to a request of ours: logged; a rate-limited request is sent again later. */
  private answered(e: SyncError): void {
    if (!this.feed || e.id !== this.feed.id) return;
    this.ctx.counters.inc(`sync.errors.${e.code}`);
    this.ctx.log.warn('the hub refused the sync request', { code: e.code, reason: e.message });
    if (e.code === 'HAMSYNC_ERR_RATE' && this.hub) {
      const hub = this.hub;
      this.clearRetry();
      this.retry = setTimeout(() => this.request(hub), RATE_RETRY_MS);
      this.retry.unref();
    }
  }

  private rejected(err: HamsyncError, topic: string): void {
    this.ctx.counters.inc('updates.rejected');
    this.ctx.counters.inc(`rejected.${err.code}`);
    const line = this.throttle.take(err.code);
    if (line) this.ctx.log.warn('sync page content rejected', { topic: topic.slice(0, 200), code: err.code, reason: err.message, ...suppressedField(line) });
  }

  private clearRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
  }
}
