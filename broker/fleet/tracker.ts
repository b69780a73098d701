import type { CheckedUpdate } from '../../src/model/update.js';
import { SkewWindow } from './skew.js';

/**
 * Devices the hub keeps a record (and metric series) for. Past it, a new device gets none: its
 * messages are counted in `untrackedMessages` only (hamsync_fleet_untracked_messages_total), so
 * memory and label cardinality stay bounded whatever ids clients use. A tracked device keeps its
 * record for the hub's lifetime (it is small: about 1 KiB).
 */
export const MAX_DEVICE_SERIES = 1000;

/** A device reporting this key (any key ending in it, e.g. `<prefix>/gps/clock-offset-ms`) shows its GPS-vs-system offset. */
export const GPS_OFFSET_KEY = 'gps/clock-offset-ms';

/** What the hub knows of one device from its puts. */
export interface DeviceRecord {
  readonly id: string;
  /** Hub time (ms) of its last put, or null (known from its queues or its connection only). */
  lastSeen: number | null;
  readonly skew: SkewWindow;
  /** The last `gps/clock-offset-ms` it reported (ms, > 0: its GPS is ahead of its system clock), or null. */
  gpsOffsetMs: number | null;
  /** Put messages refused over its rate limit. */
  rateRefusals: number;
  /** Updates received from it (whatever their outcome). */
  updates: number;
}

/** Per-device records, at most `cap` of them. */
export class DeviceTracker {
  private readonly devices = new Map<string, DeviceRecord>();
  /** Put messages from devices past the cap. */
  untrackedMessages = 0;

  constructor(readonly cap = MAX_DEVICE_SERIES) {}

  /** The device's record, made if there is room; undefined past the cap. */
  record(id: string): DeviceRecord | undefined {
    let r = this.devices.get(id);
    if (r) return r;
    if (this.devices.size >= this.cap) return undefined;
    r = { id, lastSeen: null, skew: new SkewWindow(), gpsOffsetMs: null, rateRefusals: 0, updates: 0 };
    this.devices.set(id, r);
    return r;
  }

  /**
   * A put message from `id` arrived at hub time `rx` with these (checked) updates: one skew
   * sample from its newest state, and its GPS offset if it reports one.
   */
  seen(id: string, updates: readonly CheckedUpdate[], rx: number): void {
    const r = this.record(id);
    if (!r) {
      this.untrackedMessages++;
      return;
    }
    r.lastSeen = rx;
    r.updates += updates.length;
    let newest = -Infinity;
    for (const u of updates) {
      if (u.state > newest) newest = u.state;
      if (u.key.endsWith(GPS_OFFSET_KEY)) {
        const v = Number(u.text);
        if (Number.isFinite(v)) r.gpsOffsetMs = v;
      }
    }
    if (updates.length > 0) r.skew.add(newest, rx);
  }

  /** A put message from `id` was refused over its rate limit. */
  rateRefused(id: string): void {
    const r = this.record(id);
    if (r) r.rateRefusals++;
    else this.untrackedMessages++;
  }

  get size(): number {
    return this.devices.size;
  }

  get(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  all(): IterableIterator<DeviceRecord> {
    return this.devices.values();
  }
}
