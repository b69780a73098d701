/**
 * Which way a daemon syncs (sync protocol v2, `--sync auto|hub|peer`) and the subscriptions that
 * go with it, on the one persistent session:
 * - hub: `sync/res/<me>` and `hamsync/<ns>/hub` (QoS 1) and, with followState, the state filters
 *   at QoS 0 — not `put/+`, so the broker's offline queue for the session holds only feed pages;
 * - peer: `put/+` (and state filters at QoS 1), as protocol v1 did; converges through a plain broker;
 * - auto: also `hamsync/<ns>/hub`. A data dir that remembers a hub starts as hub and falls back to
 *   peer when no announcement arrives within HUB_FALLBACK_MS of the SUBACK; otherwise it starts as
 *   peer and switches to hub (unsubscribing `put/+`) when a hub announces itself.
 * Each announcement heard in hub mode (the retained one comes with every SUBSCRIBE, so at every
 * (re)connect) calls `onHub`, which sends the feed request — only once the subscriptions of hub
 * mode are acknowledged, so nothing of `put/+` arrives after the request.
 */
import type { MqttClient } from 'mqtt';
import type { Context } from '../context.js';
import { isHamsyncError } from '../errors.js';
import { decodeHubAnnouncement, type HubAnnouncement } from '../wire/sync-v2.js';
import { topics } from '../wire/topics.js';
import type { DaemonConfig, SyncSetting } from './options.js';

export type SyncMode = 'hub' | 'peer';

/** How long (ms) a remembered hub has, after the SUBACK, to announce itself before auto mode falls back to peer. */
export const HUB_FALLBACK_MS = 3000;

export interface SubscriptionPlan {
  subscribe: Record<string, { qos: 0 | 1 }>;
  unsubscribe: string[];
}

/** The subscriptions of `mode` under `setting`, and the ones to drop (the persistent session may hold them from before). */
export function subscriptionPlan(mode: SyncMode, setting: SyncSetting, config: Pick<DaemonConfig, 'ns' | 'id' | 'subscribe' | 'followState'>): SubscriptionPlan {
  const { ns, id } = config;
  const subscribe: Record<string, { qos: 0 | 1 }> = {};
  const stateQos = mode === 'hub' ? 0 : 1;
  if (mode === 'hub') {
    subscribe[topics.syncResponse(ns, id)] = { qos: 1 };
    subscribe[topics.hub(ns)] = { qos: 1 };
  } else {
    subscribe[topics.putAll(ns)] = { qos: 1 };
    if (setting === 'auto') subscribe[topics.hub(ns)] = { qos: 1 };
  }
  if (config.followState) for (const f of config.subscribe) subscribe[topics.stateFilter(ns, f)] = { qos: stateQos };
  const unsubscribe = mode === 'hub' ? [topics.putAll(ns)] : setting === 'auto' ? [topics.syncResponse(ns, id)] : [topics.syncResponse(ns, id), topics.hub(ns)];
  return { subscribe, unsubscribe };
}

export class SyncModes {
  private current: SyncMode;
  private fallback: NodeJS.Timeout | undefined;
  /** Bumped at every (re)connect and disconnect: callbacks of an older session do nothing. */
  private session = 0;
  /** The subscriptions of the current mode are acknowledged in this session. */
  private ready = false;
  /** The announcement heard in this session, if any. */
  private heard: HubAnnouncement | undefined;
  private hub: HubAnnouncement | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly config: DaemonConfig,
    /** The data dir remembers a hub (`replica.cursors().last()`). */
    remembered: boolean,
    private readonly client: MqttClient,
    private readonly onHub: (hub: HubAnnouncement) => void,
  ) {
    const s = config.sync;
    this.current = s === 'auto' ? (remembered ? 'hub' : 'peer') : s;
  }

  get mode(): SyncMode {
    return this.current;
  }

  /** The last hub announcement heard, if any. */
  get announced(): HubAnnouncement | undefined {
    return this.hub;
  }

  /** After each CONNACK: subscribes for the current mode; `ready` once that is acknowledged. */
  connected(ready: () => void): void {
    this.disconnected();
    this.apply(this.current, true, () => {
      this.settled();
      ready();
    });
  }

  disconnected(): void {
    this.session++;
    this.ready = false;
    this.heard = undefined;
    this.clearFallback();
  }

  /** A message on `hamsync/<ns>/hub` (retained: it comes with every SUBSCRIBE of the topic). */
  announcement(payload: Buffer): void {
    if (this.config.sync === 'peer') return;
    if (payload.length === 0) return this.ctx.log.info('the hub announcement was cleared');
    let hub: HubAnnouncement;
    try {
      hub = decodeHubAnnouncement(payload);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      this.ctx.counters.inc('messages.rejected');
      this.ctx.counters.inc(`rejected.${err.code}`);
      this.ctx.log.warn('hub announcement rejected', { code: err.code, reason: err.message });
      return;
    }
    this.hub = hub;
    this.heard = hub;
    this.clearFallback();
    // While subscriptions are changing, `settled` acts on it once they are acknowledged.
    if (this.ready) this.act();
  }

  stop(): void {
    this.disconnected();
  }

  /** The subscriptions of the current mode are in place: act on an announcement heard meanwhile, or wait for one. */
  private settled(): void {
    this.ready = true;
    if (this.heard) this.act();
    else if (this.config.sync === 'auto' && this.current === 'hub') this.armFallback();
  }

  /** An announcement in hub mode: request the feed; in (auto) peer mode: switch to hub first. */
  private act(): void {
    const hub = this.heard;
    if (!hub) return;
    if (this.current === 'hub') return this.onHub(hub);
    this.current = 'hub';
    this.ctx.counters.inc('sync.switched-to-hub');
    this.ctx.log.info('a hub announced itself: following its feed (no peers\' puts from put/+)', { hub: hub.hub, epoch: hub.epoch });
    this.ready = false;
    this.apply('hub', false, () => this.settled());
  }

  private armFallback(): void {
    this.clearFallback();
    this.fallback = setTimeout(() => {
      this.fallback = undefined;
      if (this.current !== 'hub' || this.heard) return;
      this.current = 'peer';
      this.ctx.counters.inc('sync.fallbacks');
      this.ctx.log.warn('the remembered hub did not announce itself; syncing with peers through put/+', { waitedMs: HUB_FALLBACK_MS });
      this.ready = false;
      this.apply('peer', false, () => this.settled());
    }, HUB_FALLBACK_MS);
    this.fallback.unref();
  }

  private clearFallback(): void {
    if (this.fallback) clearTimeout(this.fallback);
    this.fallback = undefined;
  }

  /**
   * SUBSCRIBE then UNSUBSCRIBE (the broker handles them in order); `then` once both are
   * acknowledged, in the same session. A switch leaves the hub topic as it is: subscribing it
   * again would bring the retained announcement (and another request) again.
   */
  private apply(mode: SyncMode, connecting: boolean, then: () => void): void {
    const session = this.session;
    const plan = subscriptionPlan(mode, this.config.sync, this.config);
    if (!connecting) delete plan.subscribe[topics.hub(this.config.ns)];
    let waiting = 2;
    // A refused filter (SUBACK 128, e.g. a broker ACL without the hub topic) is logged and
    // counted, and the session goes on: local puts need no subscription.
    const done = (what: string) => (err?: Error | null) => {
      if (err && session === this.session) {
        this.ctx.counters.inc('link.subscribe-failed');
        this.ctx.log.warn(`${what} failed`, { mode, err: err.message });
      }
      if (--waiting > 0 || session !== this.session) return;
      then();
    };
    this.client.subscribe(plan.subscribe, done('subscribe'));
    this.client.unsubscribe(plan.unsubscribe, done('unsubscribe'));
  }
}
