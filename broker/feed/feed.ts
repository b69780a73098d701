import type { Client } from 'aedes';
import type { Context } from '../../src/context.js';
import type { ChangeLog } from '../../src/store/change-log.js';
import type { HubIdentity } from '../../src/store/hub-identity.js';
import type { ChangeRow } from '../../src/store/rows.js';
import type { SnapshotCursor } from '../../src/sync/snapshot.js';
import type { Replica } from '../../src/sync/replica.js';
import { encodeSyncPage, type FeedMode } from '../../src/wire/sync-v2.js';
import type { Publisher } from '../publisher.js';
import { logPage, toWire, type PageBounds } from './pager.js';

/** What every feed of a hub shares: the hub's context (its clock times the empty pages), and the feed's parts. */
export interface FeedContext extends Context {
  replica: Replica;
  changeLog: ChangeLog;
  identity: HubIdentity;
  publisher: Publisher;
  bounds: PageBounds;
  /** Pages sent and not yet acknowledged, at most. */
  window: number;
  /** An empty page reports the position after this many entries scanned without a match... */
  emptyEvery: number;
  /** ...or once this many ms passed since the last page. */
  emptyAfterMs: number;
}

export interface FeedStart {
  device: string;
  client: Client | null;
  id: string;
  topic: string;
  wanted: (key: string) => boolean;
  /** Resume after this log position; undefined: begin with a snapshot. */
  resumeAfter: number | undefined;
}

/**
 * One device's feed (protocol v2): a snapshot (when it has no usable position) then the change
 * log from there on, in pages of at most `bounds`, never more than `window` un-acknowledged.
 * Between pump steps it holds only positions, counters and the filter: no update contents (a
 * page is built, published and dropped in one step), so its memory does not grow with backlog.
 */
export class Feed {
  readonly device: string;
  readonly client: Client | null;
  readonly id: string;
  mode: FeedMode;
  phase: 'snapshot' | 'log';
  /** Log position scanned up to (in the snapshot phase: where the log phase will begin). */
  pos: number;
  /** Last position sent in a page's `to`. */
  reported: number;
  /** Pages sent, and the highest acknowledged. */
  sent = 0;
  acked = 0;
  private snap: SnapshotCursor = { phase: 'live' };
  private readonly topic: string;
  private readonly wanted: (key: string) => boolean;
  private sinceReport = 0;
  private lastPageAt: number;
  private scheduled = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: FeedContext, start: FeedStart) {
    ({ device: this.device, client: this.client, id: this.id, topic: this.topic, wanted: this.wanted } = start);
    this.lastPageAt = ctx.clock();
    if (start.resumeAfter === undefined) {
      this.mode = 'snapshot';
      this.phase = 'snapshot';
      this.pos = this.reported = ctx.changeLog.head;
    } else {
      this.mode = 'resume';
      this.phase = 'log';
      this.pos = this.reported = start.resumeAfter;
    }
  }

  get open(): boolean {
    return !this.closed;
  }

  /** Runs a pump step soon (coalesced: many wake-ups in one turn are one step). */
  wake(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => this.step());
  }

  /** A cumulative acknowledgement of pages up to `n`; false when `n` was never sent. */
  ack(n: number): boolean {
    if (n > this.sent) return false;
    if (n > this.acked) {
      this.acked = n;
      this.wake();
    }
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One bounded step: at most one page built and sent, at most `bounds.maxScan` rows looked at. */
  private step(): void {
    this.scheduled = false;
    if (this.closed) return;
    if (this.sent - this.acked >= this.ctx.window) {
      // Counted: the definite sign that a feed waits for its device's acknowledgement.
      this.ctx.counters.inc('sync.window.waits');
      return;
    }
    const more = this.phase === 'snapshot' ? this.snapshotStep() : this.logStep();
    if (more) this.wake();
  }

  private snapshotStep(): boolean {
    const page = this.ctx.replica.snapshotPage(this.snap, this.wanted, this.ctx.bounds);
    if (page.next === undefined) {
      // The last snapshot page says where the log phase begins: the head taken when the snapshot began.
      this.send(page.rows, true, this.pos);
      this.phase = 'log';
      return true;
    }
    this.snap = page.next;
    if (page.rows.length > 0) this.send(page.rows, true, undefined);
    return true;
  }

  private logStep(): boolean {
    const log = this.ctx.changeLog;
    if (this.pos < log.oldest() - 1) {
      // Retention pruned entries this feed had not read yet: what they held is in a snapshot.
      this.ctx.counters.inc('sync.snapshots');
      this.ctx.log.info('sync feed fell behind the change log\'s retention; sending a snapshot', { device: this.device, id: this.id, pos: this.pos, oldest: log.oldest() });
      this.restartSnapshot();
      return true;
    }
    if (this.pos >= log.head) {
      // A feed always answers with a first page, empty when there is nothing new: the device
      // learns that it resumed, the hub's head and clock, and that it is caught up.
      if (this.sent === 0) this.send([], false, this.pos);
      else this.idle();
      return false;
    }
    const page = logPage(log, this.pos, this.wanted, this.device, this.ctx.bounds);
    this.pos = page.last;
    this.sinceReport += page.scanned;
    if (page.rows.length > 0 || this.sent === 0 || this.sinceReport >= this.ctx.emptyEvery || this.ctx.clock() - this.lastPageAt >= this.ctx.emptyAfterMs) {
      this.send(page.rows, false, this.pos);
    }
    if (this.pos < log.head) return true;
    // Caught up with entries scanned but not reported: an empty page reports them within emptyAfterMs.
    this.idle();
    return false;
  }

  /** Caught up: if entries were scanned but not reported, an empty page reports them within `emptyAfterMs`. */
  private idle(): void {
    if (this.pos <= this.reported || this.timer) return;
    const wait = Math.max(0, this.lastPageAt + this.ctx.emptyAfterMs - this.ctx.clock());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed || this.pos <= this.reported || this.sent - this.acked >= this.ctx.window) return;
      this.send([], false, this.pos);
    }, wait);
    this.timer.unref();
  }

  private restartSnapshot(): void {
    this.mode = 'snapshot';
    this.phase = 'snapshot';
    this.snap = { phase: 'live' };
    this.pos = this.ctx.changeLog.head;
  }

  private send(rows: readonly ChangeRow[], snap: boolean, to: number | undefined): void {
    const { updates, deferred } = toWire(rows);
    this.sent++;
    const { id: hub, epoch } = this.ctx.identity;
    const payload = encodeSyncPage({ id: this.id, n: this.sent, hub, epoch, mode: this.mode, snap, to, head: this.ctx.changeLog.head, t: this.ctx.replica.now(), updates, deferred });
    this.ctx.publisher.publish(this.topic, payload, false);
    this.ctx.counters.inc('sync.pages.sent');
    this.ctx.counters.inc('sync.updates.sent', rows.length);
    if (to !== undefined) this.reported = to;
    this.lastPageAt = this.ctx.clock();
    this.sinceReport = 0;
  }
}
