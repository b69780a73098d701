import type { Client, PublishPacket } from 'aedes';
import type { Counters } from '../src/counters.js';
import { isHamsyncError } from '../src/errors.js';
import { canonical } from '../src/ham/lexical.js';
import type { Logger } from '../src/log.js';
import type { Replica } from '../src/sync/replica.js';
import { decodeSyncRequest, encodeSyncResponse, type WireLimits, type WireUpdate } from '../src/wire/codec.js';
import { matchKey, topics } from '../src/wire/topics.js';
import type { Publisher } from './publisher.js';
import type { Refusals } from './refusals.js';

/**
 * Answers a device's catch-up request (`hamsync/<ns>/sync/req/<device>`) on its
 * `hamsync/<ns>/sync/res/<device>`: every live and deferred update under the filters it asked
 * for, in messages of at most `chunk` updates, the last one marked done. Each carries the hub's
 * clock `t` when sent (the hub replica's machine state), from which daemons' clock guards learn.
 */
export class SyncAnswer {
  constructor(
    private readonly ns: string,
    private readonly replica: Replica,
    private readonly wire: WireLimits,
    private readonly chunk: number,
    private readonly publisher: Publisher,
    private readonly refusals: Refusals,
    private readonly counters: Counters,
    private readonly log: Logger,
  ) {}

  answer(client: Client | null, packet: PublishPacket, device: string): void {
    let id: string;
    let filters: string[];
    try {
      ({ id, filters } = decodeSyncRequest(packet.payload as Buffer, this.wire));
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      return this.refusals.reject(client, packet, err.code, err.message);
    }
    const wanted = (key: string): boolean => filters.some((f) => matchKey(f, key));
    const chunk: WireUpdate[] = [];
    let sent = 0;
    const flush = (done: boolean): void => {
      this.publisher.publish(topics.syncResponse(this.ns, device), encodeSyncResponse(id, chunk, done, this.replica.now()), false);
      sent += chunk.length;
      chunk.length = 0;
    };
    const add = (u: WireUpdate): void => {
      chunk.push(u);
      if (chunk.length >= this.chunk) flush(false);
    };
    // With each update its source's signature, as stored: peers verify it against the device's key.
    for (const e of this.replica.live()) if (wanted(e.key)) add({ key: e.key, state: e.state, text: canonical(e.value), source: e.source, sig: e.sig });
    for (const e of this.replica.deferred()) if (wanted(e.key)) add({ key: e.key, state: e.state, text: canonical(e.value), source: e.source, sig: e.sig });
    flush(true);
    this.counters.inc('sync.answered');
    this.log.info('catch-up answered', { device, id, updates: sent });
  }
}
