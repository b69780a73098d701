import type { ServerResponse } from 'node:http';
import type { Counters } from '../../src/counters.js';
import { HamsyncError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { Route } from '../../src/admin/http-kit.js';
import type { ChangeEvent, Replica } from '../../src/sync/replica.js';
import { fleetEvent, type FleetSnapshot } from './fleet-delta.js';

export interface EventStreamOptions {
  /** Most event streams open at once; one more is refused with 503 HAMSYNC_ERR_STREAMS. [8] */
  maxStreams?: number;
  /** Most bytes waiting to be sent to one stream; a client that lets more pile up is disconnected. [256 KiB] */
  maxBufferedBytes?: number;
  /** Most changed keys (and, apart, deferred updates applied) reported in one tick; the rest are counted in `more`. [200] */
  maxChangesPerTick?: number;
  /** Tick period in ms: every event but `hello` is sent on a tick. [1000] */
  tickMs?: number;
  /** The fleet view (GET /v1/fleet), sent on every tick when given. */
  fleet?: () => FleetSnapshot;
  /** Where a failed fleet view is logged. */
  log?: Logger;
}

interface Pending {
  keys: Map<string, { k: string; s: number; src: string }>;
  keysMore: number;
  applied: { k: string; s: number; src: string }[];
  appliedMore: number;
}

const empty = (): Pending => ({ keys: new Map(), keysMore: 0, applied: [], appliedMore: 0 });

/**
 * The dashboard's live feed, `GET /v1/events` (server-sent events; docs/dashboard.md). Nothing is
 * sent between ticks: changes are gathered (bounded) and every tick sends, to every stream, the
 * same few events: `tick` (the hub's clock), `fleet` (when a fleet view is given), `queues` (when
 * the deferred or quarantine totals moved), `keys` (keys whose live value changed) and `applied`
 * (deferred updates applied). A client whose unsent bytes exceed maxBufferedBytes is disconnected
 * (counted in `events.slow`); the ticker and the replica listener run only while a stream is open.
 */
export class EventStream {
  private readonly streams = new Set<ServerResponse>();
  private readonly maxStreams: number;
  private readonly maxBuffered: number;
  private readonly maxChanges: number;
  private readonly tickMs: number;
  private pending = empty();
  private timer: NodeJS.Timeout | undefined;
  private lastTotals = '';
  private lastFleetT: number | undefined;
  private readonly onChange = (c: ChangeEvent): void => this.gather(c);
  private readonly log: Logger;

  constructor(
    private readonly replica: Replica,
    private readonly counters: Counters,
    private readonly options: EventStreamOptions = {},
  ) {
    this.maxStreams = options.maxStreams ?? 8;
    this.maxBuffered = options.maxBufferedBytes ?? 256 * 1024;
    this.maxChanges = options.maxChangesPerTick ?? 200;
    this.tickMs = options.tickMs ?? 1000;
    this.log = options.log ?? silentLogger;
  }

  /** Open streams. */
  get size(): number {
    return this.streams.size;
  }

  route(): Route {
    return { method: 'GET', path: '/v1/events', handle: ({ res }) => this.open(res) };
  }

  /** Ends every stream and stops the ticker. */
  close(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
    this.stop();
  }

  private open(res: ServerResponse): void {
    if (this.streams.size >= this.maxStreams) {
      this.counters.inc('events.refused');
      throw new HamsyncError('HAMSYNC_ERR_STREAMS', `this admin API already serves ${this.maxStreams} event streams; close one (a browser tab) and retry`, { limit: this.maxStreams });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.socket?.setNoDelay(true);
    this.streams.add(res);
    this.counters.inc('events.opened');
    res.once('close', () => {
      this.streams.delete(res);
      if (this.streams.size === 0) this.stop();
    });
    const totals = this.replica.queues().totals;
    this.write(res, `retry: 2000\n\n${frame('hello', { now: this.replica.now(), tickMs: this.tickMs, ...totals })}`);
    if (this.timer === undefined) this.start();
  }

  private start(): void {
    this.replica.on('change', this.onChange);
    this.lastTotals = JSON.stringify(this.replica.queues().totals);
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.replica.off('change', this.onChange);
    this.pending = empty();
    this.lastFleetT = undefined;
  }

  private gather(c: ChangeEvent): void {
    const p = this.pending;
    const row = { k: c.key, s: c.state, src: c.source };
    if (p.keys.has(c.key) || p.keys.size < this.maxChanges) p.keys.set(c.key, row);
    else p.keysMore++;
    if (!c.deferred) return;
    if (p.applied.length < this.maxChanges) p.applied.push(row);
    else p.appliedMore++;
  }

  /** One tick: the same frames for every stream, built once. */
  private tick(): void {
    const parts: string[] = [frame('tick', { now: this.replica.now() })];
    if (this.options.fleet) {
      try {
        const { event, lastT } = fleetEvent(this.options.fleet(), this.lastFleetT);
        this.lastFleetT = lastT;
        parts.push(frame('fleet', event));
      } catch (err) {
        // A fault in the fleet view: this tick has no fleet event; the stream and the broker go on.
        this.counters.inc('events.fleet-failed');
        this.log.error('dashboard fleet view failed', { err: (err as Error).message });
      }
    }
    const totals = this.replica.queues().totals;
    const moved = JSON.stringify(totals);
    if (moved !== this.lastTotals) parts.push(frame('queues', totals));
    this.lastTotals = moved;
    const p = this.pending;
    this.pending = empty();
    if (p.keys.size > 0) parts.push(frame('keys', { rows: [...p.keys.values()], more: p.keysMore }));
    if (p.applied.length > 0) parts.push(frame('applied', { rows: p.applied, more: p.appliedMore }));
    const text = parts.join('');
    for (const res of this.streams) this.write(res, text);
  }

  /** Writes to one stream, or disconnects it when it has not taken what it was sent before. */
  private write(res: ServerResponse, text: string): void {
    if (res.writableLength > this.maxBuffered) {
      this.counters.inc('events.slow');
      this.streams.delete(res);
      res.destroy();
      return;
    }
    res.write(text);
  }
}

/** One server-sent event: its name and one line of JSON. */
export function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
