import type { Client } from 'aedes';
import { Feed, type FeedContext, type FeedStart } from './feed.js';

/** One feed's line in the hub's status. */
export interface FeedStatus {
  device: string;
  id: string;
  mode: string;
  phase: string;
  /** Log position the feed has read up to, and the last one it sent (`to`). */
  pos: number;
  reported: number;
  /** head − reported: log entries the device has not been told about. */
  backlog: number;
  pagesSent: number;
  pagesAcked: number;
}

/** Most feeds listed one by one in the status (all are counted). */
const STATUS_LIST_MAX = 1000;

/**
 * The hub's feeds, one per device: a new request replaces the device's feed; a feed ends when the
 * client that asked for it disconnects, or when the hub detaches. Every committed batch that
 * logged something (the replica's 'head' event) wakes the feeds, which coalesce the wake-ups.
 */
export class Feeds {
  private readonly byDevice = new Map<string, Feed>();
  /** Devices whose feed each client asked for (so a disconnect does not scan every feed). */
  private readonly byClient = new Map<Client | null, Set<string>>();
  private readonly onHead = (): void => {
    for (const f of this.byDevice.values()) f.wake();
  };

  constructor(private readonly ctx: FeedContext) {
    ctx.replica.on('head', this.onHead);
  }

  get size(): number {
    return this.byDevice.size;
  }

  /** Starts a device's feed, ending the one it had. */
  start(start: FeedStart): Feed {
    this.end(start.device);
    const feed = new Feed(this.ctx, start);
    this.byDevice.set(start.device, feed);
    const devices = this.byClient.get(start.client);
    if (devices) devices.add(start.device);
    else this.byClient.set(start.client, new Set([start.device]));
    this.ctx.counters.inc('sync.feeds');
    feed.wake();
    return feed;
  }

  /**
   * An acknowledgement on `sync/ack/<device>`: counted as stale (and ignored) unless it is for the
   * device's current feed, from the client that asked for it, and for a page that was sent.
   */
  ack(client: Client | null, device: string, id: string, n: number): void {
    const feed = this.byDevice.get(device);
    if (!feed || feed.id !== id || feed.client !== client) return this.ctx.counters.inc('sync.acks.stale');
    if (!feed.ack(n)) return this.ctx.counters.inc('sync.acks.invalid');
    this.ctx.counters.inc('sync.acks');
  }

  /** Aedes 'clientDisconnect': that client's feeds end. */
  clientDisconnect(client: Client): void {
    for (const device of [...(this.byClient.get(client) ?? [])]) this.end(device);
  }

  private end(device: string): void {
    const feed = this.byDevice.get(device);
    if (!feed) return;
    feed.close();
    this.byDevice.delete(device);
    const devices = this.byClient.get(feed.client);
    devices?.delete(device);
    if (devices?.size === 0) this.byClient.delete(feed.client);
  }

  /** The hub detaches: every feed ends. */
  close(): void {
    this.ctx.replica.off('head', this.onHead);
    for (const f of this.byDevice.values()) f.close();
    this.byDevice.clear();
    this.byClient.clear();
  }

  status(head: number): { count: number; list: FeedStatus[] } {
    const list: FeedStatus[] = [];
    for (const f of this.byDevice.values()) {
      if (list.length >= STATUS_LIST_MAX) break;
      list.push({ device: f.device, id: f.id, mode: f.mode, phase: f.phase, pos: f.pos, reported: f.reported, backlog: Math.max(0, head - f.reported), pagesSent: f.sent, pagesAcked: f.acked });
    }
    return { count: this.byDevice.size, list };
  }
}
