import type { Client, PublishPacket } from 'aedes';
import { isHamsyncError } from '../src/errors.js';
import { checkBatch, type CheckedUpdate } from '../src/model/update.js';
import type { Replica } from '../src/sync/replica.js';
import { decodePut, type WireLimits } from '../src/wire/codec.js';
import type { DeviceTracker } from './fleet/tracker.js';
import type { PutVerify } from './put-verify.js';
import type { PutObservers } from './put-timing.js';
import type { RateLimiter } from './rate-limit.js';
import type { Ack, Refusals } from './refusals.js';

/**
 * The first steps of the put path (`hamsync/<ns>/put/<device>`): decode and validate the message,
 * take it from its device's rate limit, then hand it to `PutVerify` (signatures), which hands it
 * to `PutCommit` (admit, write with the turn's other puts, PUBACK once durable).
 */
export class PutPath {
  constructor(
    private readonly replica: Replica,
    private readonly wire: WireLimits,
    private readonly rate: RateLimiter,
    private readonly refusals: Refusals,
    private readonly verify: PutVerify,
    private readonly fleet: DeviceTracker,
    private readonly observers: PutObservers = {},
  ) {}

  put(client: Client | null, packet: PublishPacket, device: string, ack: Ack): void {
    const rx = this.replica.now();
    const acked = this.observers.acked;
    const t0 = acked ? performance.now() : 0;
    const cb: Ack = acked ? (err) => {
      if (!err) acked((performance.now() - t0) / 1000);
      ack(err);
    } : ack;
    let checked: CheckedUpdate[];
    try {
      // Each message is validated on its own, so a bad one is rejected alone (and its room in
      // the queues is reserved on its own too, by PutCommit).
      checked = checkBatch(decodePut(packet.payload as Buffer, device, this.wire).updates, this.replica.limits);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      // A malformed signature: refused as a forgery is (PutVerify), not acknowledged.
      if (err.code === 'HAMSYNC_ERR_SIGNATURE') return this.refusals.refuseSignature(client, device, err, cb);
      this.refusals.reject(client, packet, err.code, err.message);
      return cb(null);
    }
    // Checked after decoding (so its updates are counted) and before anything is stored. Over the
    // limit: no PUBACK and the client is disconnected (Refusals.refuseRate).
    if (!this.rate.take(device, checked.length)) {
      this.fleet.rateRefused(device);
      const reason = `device ${device} is over its rate limit (${this.rate.perSecond} updates/s, burst ${this.rate.burst}); message of ${checked.length} updates refused`;
      return this.refusals.refuseRate(client, device, reason, cb);
    }
    // One skew sample per message (broker/fleet/skew.ts), taken before signatures are checked.
    this.fleet.seen(device, checked, rx);
    this.verify.verify(client, packet, device, checked, cb);
  }
}
