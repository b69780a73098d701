import type { AedesPublishPacket } from 'aedes';
import type { Context } from '../src/context.js';
import { canonical } from '../src/ham/lexical.js';
import type { Replica } from '../src/sync/replica.js';
import type { SnapshotBounds, SnapshotCursor } from '../src/sync/snapshot.js';
import { encodeState } from '../src/wire/codec.js';
import { topics } from '../src/wire/topics.js';
import { stateLookup } from './state-filter.js';

/** The retained packet a subscriber gets for one live key: QoS 1, retain flag set. */
export type RetainedPacket = Pick<AedesPublishPacket, 'cmd' | 'topic' | 'payload' | 'qos' | 'retain' | 'dup'>;

/**
 * One page of a wildcard lookup: at most this many messages, bytes of key and value text, and
 * keys looked at (so one read of the live view is short, and no read transaction stays open while
 * a subscriber drains: the next page is read when the previous one was taken).
 */
export const STATE_PAGE: SnapshotBounds = { maxRows: 256, maxBytes: 256 * 1024, maxScan: 1024 };

/**
 * The retained state messages (`hamsync/<ns>/state/<key>`) served from the replica's live view,
 * which is the hub's state: nothing of it is copied into the broker's retained store. A literal
 * filter is one read; a filter with a literal head (`pi-7/#`, `pi-7/+/temp`) a range scan over
 * the keys under that head; one starting with a wildcard key level (`+/temp`, `#`) a scan of the
 * whole live view, tested key by key. Scans go page by page (STATE_PAGE), in key order.
 */
export class RetainedState {
  constructor(
    private readonly ctx: Context,
    private readonly replica: Replica,
    private readonly page: SnapshotBounds = STATE_PAGE,
  ) {}

  /**
   * The retained state messages matching an MQTT filter, read lazily (committed data). A failed
   * read (the replica was closed meanwhile) ends the sequence and is logged; it never throws.
   */
  *messages(filter: string): Generator<RetainedPacket> {
    const lookup = stateLookup(this.ctx.ns, filter);
    if (!lookup) return;
    try {
      if (lookup.exact !== undefined) {
        const one = this.exact(lookup.exact);
        if (one) yield one;
      }
      const prefix = lookup.prefix;
      if (prefix === undefined) return;
      const wanted = (key: string): boolean => key.startsWith(prefix) && lookup.match(key);
      let from: SnapshotCursor | undefined = prefix === '' ? { phase: 'live' } : { phase: 'live', after: prefix };
      while (from) {
        const page = this.replica.snapshotPage(from, wanted, this.page);
        const next = page.next;
        // Past the live view (the page went on into the deferred queue) or past the prefix: done.
        from = next?.phase === 'live' && next.after?.startsWith(prefix) === true ? next : undefined;
        for (const r of page.rows) if (r.d !== true) yield this.packet(r.k, r.j, r.s, r.src, r.g);
      }
    } catch (err) {
      this.ctx.log.warn('retained state lookup ended early', { filter: filter.slice(0, 200), err: (err as Error).message });
    }
  }

  /** The live value of one key as a retained message (committed data), or undefined. */
  private exact(key: string): RetainedPacket | undefined {
    // `live(key)` starts at `key` itself when it exists (a prefix sorts before its extensions).
    for (const e of this.replica.live(key)) {
      return e.key === key ? this.packet(key, canonical(e.value), e.state, e.source, e.sig) : undefined;
    }
    return undefined;
  }

  private packet(key: string, text: string, state: number, source: string, sig: string | undefined): RetainedPacket {
    const payload = Buffer.from(encodeState(text, state, source, sig));
    return { cmd: 'publish', topic: topics.state(this.ctx.ns, key), payload, qos: 1, retain: true, dup: false };
  }
}
