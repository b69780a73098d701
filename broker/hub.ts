import type { Aedes, AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes';
import type { Context } from '../src/context.js';
import type { Counters } from '../src/counters.js';
import type { Logger } from '../src/log.js';
import { Keyring } from '../src/sign/keyring.js';
import type { Replica } from '../src/sync/replica.js';
import { Publisher } from './publisher.js';
import { PutPath } from './put.js';
import { PutAcks, HELD_TOPIC, type UnackedLimits } from './put-ack.js';
import { PutCommit } from './put-commit.js';
import type { PutObservers } from './put-timing.js';
import { PutVerify } from './put-verify.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { Refusals } from './refusals.js';
import { RetainedBudget, type RetainedBudgetOptions } from './retained-budget.js';
import type { Ack } from './refusals.js';
import { routePublish, type Routes } from './route.js';
import { StatePublisher } from './state-publisher.js';
import { RetainedState } from './retained-state.js';
import { serveStateFromReplica, type RetainedPersistence } from './retained-store.js';
import { StateAudience, type SubscriptionPersistence } from './state-audience.js';
import { SyncHub } from './feed/sync-hub.js';
import { DEFAULT_SYNC_LOG_MAX } from './feed/log-retention.js';
import { Fleet } from './fleet/fleet.js';

/** The hub's parts and settings; its namespace, log, counters, clock and wire limits are its Context. */
export interface HubOptions {
  replica: Replica;
  /** Change log entries the hub keeps for sync v2 feeds (older positions get a snapshot). Default 1,000,000. */
  syncLogMax?: number;
  /** Per-device put rate limit. Default 2000 updates/s with a burst of 100000. */
  rateLimit?: RateLimitOptions;
  /**
   * Public keys of devices (users file `pub`, keys file): a put from a device with a key must be
   * signed by it, update by update (src/sign/policy.ts). Default: none. Replace with `setKeyring`.
   */
  keyring?: Keyring;
  /** Refuse puts from devices without a known key too. Default false. */
  requireSigned?: boolean;
  /** Retained messages each client may leave on the broker (16 topics, 64 KiB by default). */
  retained?: RetainedBudgetOptions;
  /** Puts one connection may have waiting for their PUBACK before its socket is no longer read (broker/put-ack.ts). */
  unacked?: Partial<UnackedLimits>;
}

/**
 * Whether a subscription filter stays within the served namespace: `hamsync/<other>/...` is
 * refused (a `+` or `#` namespace level matches only what is served, since nothing else is forwarded).
 */
export function servesFilter(ns: string, filter: string): boolean {
  const parts = filter.split('/');
  if (parts[0] !== 'hamsync' || parts.length < 2) return true;
  const level = parts[1] as string;
  return level === '+' || level === '#' || level === ns;
}

/**
 * The hub replica inside the broker: every put on `hamsync/<ns>/put/<device>` is validated,
 * resolved with HAM and made durable in LMDB *before* its PUBACK, which the hub writes itself
 * (put-ack.ts), so the client's next packets are read meanwhile; the resolved live view is
 * served on the state topics: retained lookups read it from LMDB, changes are published live.
 * This class wires the parts: topic routing (route.ts), the put path (put.ts, put-verify.ts,
 * put-commit.ts, put-ack.ts), refusals (refusals.ts), sync v2 feeds (feed/) and state
 * publishing (state-publisher.ts, publisher.ts, retained-store.ts).
 */
export class Hub {
  readonly counters: Counters;
  readonly ns: string;
  private readonly log: Logger;
  private readonly refusals: Refusals;
  private readonly publisher: Publisher;
  private readonly verify: PutVerify;
  /** PUBACKs of puts, written by the hub once durable (put-ack.ts). */
  readonly acks: PutAcks;
  private readonly routes: Routes;
  private readonly state: StatePublisher;
  private readonly retainedState: RetainedState;
  private readonly audience: StateAudience;
  /** Sync protocol v2: announcement, feeds, acknowledgements, change log retention. */
  readonly sync: SyncHub;
  /** Per-device records: last seen, clock skew, GPS offset, rate refusals (broker/fleet/). */
  readonly fleet: Fleet;
  /** Latency observers of the put path (set by the metrics of the admin API). */
  readonly observers: PutObservers = {};

  constructor(
    readonly ctx: Context,
    options: HubOptions,
  ) {
    const replica = options.replica;
    ({ ns: this.ns, log: this.log, counters: this.counters } = ctx);
    const rate = new RateLimiter(options.rateLimit);
    this.refusals = new Refusals(ctx);
    this.publisher = new Publisher(ctx);
    const commit = new PutCommit(ctx, replica, this.refusals, this.observers);
    this.verify = new PutVerify(ctx, { keyring: options.keyring ?? new Keyring(), requireSigned: options.requireSigned ?? false }, this.refusals, commit);
    this.fleet = new Fleet(replica);
    const put = new PutPath(ctx, replica, rate, this.refusals, this.verify, this.fleet.tracker, this.observers);
    this.acks = new PutAcks({ aedes: () => this.publisher.aedes, forwardable: (packet) => this.refusals.forwardable(packet), log: this.log }, options.unacked);
    const retained = new RetainedBudget(options.retained);
    const sync = new SyncHub(ctx, { replica, publisher: this.publisher, logMax: options.syncLogMax ?? DEFAULT_SYNC_LOG_MAX,
      reject: (client, packet, code, reason) => this.refusals.reject(client, packet, code, reason),
    });
    this.sync = sync;
    this.routes = {
      ns: this.ns,
      put: (client, packet, device, cb) => this.acks.handle(client, packet, cb, (own, done) => put.put(client, own, device, done)),
      syncRequest: (client, packet, device) => sync.request(client, packet, device),
      syncAck: (client, packet, device) => sync.ack(client, packet, device),
      reject: (client, packet, code, reason) => this.refusals.reject(client, packet, code, reason),
      consume: (packet) => this.refusals.consume(packet),
      retain: (client, packet) => retained.take(client?.id ?? '', packet.topic, packet.payload.length),
    };
    this.audience = new StateAudience(this.ns);
    this.state = new StatePublisher(ctx, replica, this.publisher, this.audience);
    this.retainedState = new RetainedState(ctx, replica);
  }

  /** Replaces the keyring (the users file was reloaded); puts already being verified keep the old one. */
  setKeyring(keyring: Keyring): void {
    this.verify.setKeyring(keyring);
  }

  /** Devices with a known public key. */
  get keyCount(): number {
    return this.verify.keyCount;
  }

  /**
   * The hub's decision on a publish: puts are validated, resolved and made durable before their
   * PUBACK (write before ack), which the hub writes itself (put-ack.ts); `cb` is Aedes' callback.
   * broker/authorize.ts runs it after the ACL.
   */
  authorizePublish(client: Client | null, packet: PublishPacket, cb: Ack): void {
    routePublish(this.routes, client, packet, cb);
  }

  /** A subscription outside the served namespace is refused (granted as a failure). */
  authorizeSubscribe(client: Client | null, sub: Subscription): boolean {
    if (servesFilter(this.ns, sub.topic)) return true;
    this.refusals.refuseSubscribe(client, sub.topic, `namespace not served by this broker (it serves ${JSON.stringify(this.ns)})`);
    return false;
  }

  /** A rejected message is never forwarded, nor Aedes' copy of a put the hub took over (it forwards the put once durable). */
  authorizeForward(packet: AedesPublishPacket): AedesPublishPacket | null {
    return packet.topic !== HELD_TOPIC && this.refusals.forwardable(packet) ? packet : null;
  }

  /**
   * Publishes through `aedes`: live view changes as they happen, when someone can hear them
   * (broker/state-audience.ts), while its retained lookups serve the state topics from the live
   * view (broker/retained-store.ts; nothing is republished). The publish and subscribe decisions
   * are installed by broker/authorize.ts, with the ACL's.
   */
  attach(aedes: Aedes): void {
    this.publisher.aedes = aedes;
    // Aedes keeps its persistence (default: aedes-persistence's memory one) as `persistence`, untyped.
    const persistence = (aedes as unknown as { persistence: RetainedPersistence & SubscriptionPersistence }).persistence;
    serveStateFromReplica(persistence, this.ns, this.retainedState);
    this.audience.install(aedes, persistence);
    this.fleet.clients = () => Object.keys((aedes as unknown as { clients: Record<string, unknown> }).clients);
    this.fleet.start();
    this.state.start();
    this.log.info('hub attached', { ns: this.ns });
    this.sync.attach(aedes);
  }

  /** Stops publishing and ends the sync feeds (resolves once a change log prune run going ended). */
  async detach(): Promise<void> {
    this.state.stop();
    this.fleet.stop();
    this.publisher.aedes = undefined;
    await this.sync.detach();
  }
}
