import type { Replica } from '../../src/sync/replica.js';
import { HISTORY_STEP_MS, SkewHistory } from './history.js';
import { DeviceTracker } from './tracker.js';

/** The dashboard highlights a device whose estimated skew is beyond this many seconds (either way). */
export const SKEW_THRESHOLD_S = 2;
/** Deferred rows (earliest first) looked at to find each device's earliest due time; past them it is null. */
export const EARLIEST_SCAN = 10_000;

/** One device as GET /v1/fleet shows it. */
export interface FleetDevice {
  id: string;
  online: boolean;
  lastSeen: number | null;
  skewS: number | null;
  gpsOffsetMs: number | null;
  deferred: number;
  earliestDue: number | null;
  quarantined: number;
  rateRefusals: number;
}

/** The body of GET /v1/fleet (a contract the dashboard codes against: keep the field names). */
export interface FleetView {
  now: number;
  skewThresholdS: number;
  devices: FleetDevice[];
  skewHistory: { t: number[]; series: Record<string, (number | null)[]> };
}

/**
 * The hub's view of its devices: per-device records (tracker.ts: last seen, skew samples, GPS
 * offset, rate refusals) joined with what the broker and the replica know now (online, queues),
 * and the skew history (history.ts), sampled every HISTORY_STEP_MS while started.
 */
export class Fleet {
  readonly tracker = new DeviceTracker();
  readonly history = new SkewHistory();
  /** Connected MQTT client ids (Aedes' `clients`), once attached. */
  clients: () => Iterable<string> = () => [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly replica: Pick<Replica, 'now' | 'queues' | 'deferred'>) {}

  /** Starts sampling the skew history (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), HISTORY_STEP_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one history sample now: each tracked device's current estimate. */
  sample(): void {
    const now = this.replica.now();
    const values: [string, number | null][] = [];
    for (const r of this.tracker.all()) values.push([r.id, r.skew.estimate(now)]);
    this.history.sample(now, values);
  }

  /** Every tracked device (and, room permitting, every source with queued updates), sorted by id. */
  devices(): FleetDevice[] {
    const now = this.replica.now();
    const queues = this.replica.queues().sources;
    for (const id of Object.keys(queues)) this.tracker.record(id);
    const online = new Set<string>();
    for (const cid of this.clients()) online.add(cid.startsWith('hamsync-') ? cid.slice('hamsync-'.length) : cid);
    const due = this.earliestDue(queues);
    const out: FleetDevice[] = [];
    for (const r of this.tracker.all()) {
      const q = queues[r.id];
      out.push({
        id: r.id,
        online: online.has(r.id),
        lastSeen: r.lastSeen,
        skewS: r.skew.estimate(now),
        gpsOffsetMs: r.gpsOffsetMs,
        deferred: q?.deferred ?? 0,
        earliestDue: due.get(r.id) ?? null,
        quarantined: q?.quarantined ?? 0,
        rateRefusals: r.rateRefusals,
      });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  view(): FleetView {
    return { now: this.replica.now(), skewThresholdS: SKEW_THRESHOLD_S, devices: this.devices(), skewHistory: this.history.view() };
  }

  /** Each source's earliest deferred state, among the first EARLIEST_SCAN deferred rows. */
  private earliestDue(queues: Record<string, { deferred: number }>): Map<string, number> {
    const wanted = Object.values(queues).filter((q) => q.deferred > 0).length;
    const due = new Map<string, number>();
    if (wanted === 0) return due;
    for (const e of this.replica.deferred(EARLIEST_SCAN)) {
      if (!due.has(e.source)) due.set(e.source, e.state);
      if (due.size >= wanted) break;
    }
    return due;
  }
}
