import type { Client, PublishPacket } from 'aedes';
import type { Context } from '../../src/context.js';
import { isHamsyncError } from '../../src/errors.js';
import { LogThrottle, suppressedField } from '../../src/log-throttle.js';
import type { ChangeLog } from '../../src/store/change-log.js';
import type { HubIdentity } from '../../src/store/hub-identity.js';
import { decodeSyncRequestV2, encodeSyncError, syncRequestVersion, SYNC_V2, type SyncAt } from '../../src/wire/sync-v2.js';
import { assertKeyFilter, compileKeyFilters, topics } from '../../src/wire/topics.js';
import { clip } from '../log-fields.js';
import type { Publisher } from '../publisher.js';
import { RateLimiter } from '../rate-limit.js';
import type { Feeds } from './feeds.js';

/** Sync requests per device: a burst of 10, then one per 5 s. */
export const SYNC_REQUEST_RATE = Object.freeze({ burst: 10, perSecond: 1 / 5 });

export const V1_REFUSAL = 'this hub speaks sync v2; upgrade the daemon';

/**
 * Where a feed begins: after the requester's position when it is in this hub's log (same hub id
 * and epoch, and oldest − 1 ≤ pos ≤ head); undefined (a snapshot) otherwise.
 */
export function resumePoint(at: SyncAt | undefined, identity: HubIdentity, log: ChangeLog): number | undefined {
  if (!at || at.hub !== identity.id || at.epoch !== identity.epoch) return undefined;
  if (at.pos < log.oldest() - 1 || at.pos > log.head) return undefined;
  return at.pos;
}

/**
 * Answers `hamsync/<ns>/sync/req/<device>` (protocol v2): a payload that is not a JSON object is
 * rejected (broker/refusals.ts: counted, never forwarded, no answer: it has no id); a v1 request,
 * one over the device's request rate, or a malformed v2 one gets an error message on `sync/res/<device>` (counted as
 * `sync.refused.<code>`, logged at most once a second per code and device); a valid one starts the
 * device's feed, resumed or from a snapshot.
 */
/** The hub's parts a sync request uses. */
export interface SyncRequestParts {
  identity: HubIdentity;
  changeLog: ChangeLog;
  feeds: Feeds;
  publisher: Publisher;
  /** Rejects a message (broker/refusals.ts): counted, logged, never forwarded. */
  reject: (client: Client | null, packet: PublishPacket, code: string, reason: string) => void;
}

export class SyncRequests {
  private readonly rate = new RateLimiter(SYNC_REQUEST_RATE);
  private readonly logThrottle = new LogThrottle();

  private readonly identity: HubIdentity;
  private readonly log: ChangeLog;
  private readonly feeds: Feeds;
  private readonly publisher: Publisher;
  private readonly reject: SyncRequestParts['reject'];

  constructor(
    private readonly ctx: Context,
    parts: SyncRequestParts,
  ) {
    ({ identity: this.identity, changeLog: this.log, feeds: this.feeds, publisher: this.publisher, reject: this.reject } = parts);
  }

  handle(client: Client | null, packet: PublishPacket, device: string): void {
    const payload = packet.payload as Buffer;
    let version: number;
    let id: string | undefined;
    try {
      ({ version, id } = syncRequestVersion(payload, this.ctx.limits));
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      // Not a JSON object: no id to answer to; rejected like any bad message (counted, never forwarded).
      return this.reject(client, packet, err.code, err.message);
    }
    if (!this.rate.take(device, 1)) {
      return this.refuse(client, device, id ?? '', 'HAMSYNC_ERR_RATE', `over the sync request rate (a burst of ${SYNC_REQUEST_RATE.burst}, then one per ${1 / SYNC_REQUEST_RATE.perSecond} s); ask again later`);
    }
    if (version !== SYNC_V2) return this.refuse(client, device, id ?? '', 'HAMSYNC_ERR_PROTOCOL', V1_REFUSAL);
    let request;
    try {
      request = decodeSyncRequestV2(payload, this.ctx.limits);
      for (const f of request.filters) assertKeyFilter(f);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      return this.refuse(client, device, id ?? '', 'HAMSYNC_ERR_PAYLOAD', err.message);
    }
    const resumeAfter = resumePoint(request.at, this.identity, this.log);
    this.ctx.counters.inc(resumeAfter === undefined ? 'sync.snapshots' : 'sync.resumes');
    this.feeds.start({ device, client, id: request.id, topic: topics.syncResponse(this.ctx.ns, device), wanted: compileKeyFilters(request.filters), resumeAfter });
    this.ctx.log.info('sync feed started', { device: clip(device), id: clip(request.id), mode: resumeAfter === undefined ? 'snapshot' : 'resume', from: resumeAfter, head: this.log.head, oldest: this.log.oldest(), filters: request.filters.length });
  }

  private refuse(client: Client | null, device: string, id: string, code: string, message: string): void {
    this.ctx.counters.inc(`sync.refused.${code}`);
    this.publisher.publish(topics.syncResponse(this.ctx.ns, device), encodeSyncError({ id, code, message }), false);
    const line = this.logThrottle.take(`${code}\u0000${device}`);
    if (line) this.ctx.log.warn('sync request refused', { code, reason: message, device: clip(device), client: clip(client?.id), ...suppressedField(line) });
  }
}
