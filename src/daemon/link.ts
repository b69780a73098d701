import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Context } from '../context.js';
import { isHamsyncError } from '../errors.js';
import { checkBatch } from '../model/update.js';
import type { Replica } from '../sync/replica.js';
import { decodePut, decodeState, encodePresence, type DecodedUpdate } from '../wire/codec.js';
import { matchKey, parseTopic, topics } from '../wire/topics.js';
import type { DaemonConfig } from './options.js';
import { linkOptions } from './link-options.js';
import { Reconnector, type LinkStatus } from './reconnect.js';
import type { Verifier } from './verifier.js';
import { FeedFollower, type FeedStatus } from './feed-follower.js';
import { SyncModes, type SyncMode } from './sync-mode.js';
import { BrokerList } from './brokers.js';

export interface LinkEvents {
  connected(client: MqttClient): void;
  disconnected(): void;
  /** The hub's clock `t` (ms since the epoch) of a sync page, received at monotonic time `monotonicMs`. */
  hubTime?(t: number, monotonicMs: number): void;
}

/**
 * The device's MQTT session: a persistent session (fixed client id, clean=false, QoS 1). What it
 * subscribes to depends on the sync mode (src/daemon/sync-mode.ts): a hub's feed (the
 * FeedFollower) or peers' puts on put/+ (and, with followState, the state topics of its key
 * filters). Signatures are checked before HAM (the Verifier). A delivery is acknowledged only
 * after the replica committed and flushed it (mqtt.js sends the PUBACK when handleMessage calls
 * back, and hands over the next message only then).
 */
export class Link {
  readonly client: MqttClient;
  /** The broker URLs, tried in turn (failover between the nodes of a hub cluster). */
  readonly brokers: BrokerList;
  private readonly reconnector: Reconnector;
  private readonly modes: SyncModes;
  private readonly follower: FeedFollower;

  constructor(
    private readonly ctx: Context,
    private readonly config: DaemonConfig,
    private readonly replica: Replica,
    private readonly verifier: Verifier,
    events: LinkEvents,
  ) {
    const { id, ns } = config;
    ({ client: this.client, brokers: this.brokers } = BrokerList.connect(config.brokers, linkOptions(config)));
    this.reconnector = new Reconnector(ctx, this.client, config.reconnect);
    this.follower = new FeedFollower(ctx, config, replica, this.client, verifier, events.hubTime);
    this.modes = new SyncModes(ctx, config, replica.cursors().last() !== undefined, this.client, (hub) => this.follower.request(hub));
    this.client.handleMessage = (packet, done) => {
      this.onMessage(packet).then(() => done(), (err: Error) => {
        this.ctx.log.error('delivery not stored; not acknowledging', { topic: packet.topic, err });
        // Leave it unacknowledged: the broker redelivers it on the next session.
        this.client.stream.destroy();
      });
    };
    this.client.on('connect', (connack) => {
      (this.client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
      this.ctx.counters.inc('link.connects');
      this.ctx.log.info('connected to broker', { broker: this.brokers.current, sessionPresent: connack.sessionPresent });
      // Pages of the previous session's feed may still be queued for us: a new request supersedes them.
      this.follower.reset();
      this.modes.connected(() => {
        this.client.publish(topics.presence(ns, id), encodePresence(true, replica.now()), { qos: 1, retain: true });
        events.connected(this.client);
      });
    });
    this.client.on('close', () => {
      this.modes.disconnected();
      this.follower.reset();
      events.disconnected();
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Connection state, last error and next attempt, for status. */
  status(): LinkStatus {
    return this.reconnector.status();
  }

  /** Sync mode (hub or peer), the setting, and where the feed stands. */
  syncStatus(): FeedStatus & { mode: SyncMode; setting: string } {
    return { mode: this.modes.mode, setting: this.config.sync, ...this.follower.status() };
  }

  private wanted(key: unknown): boolean {
    return typeof key === 'string' && this.config.subscribe.some((f) => matchKey(f, key));
  }

  private async onMessage(packet: IPublishPacket): Promise<void> {
    const t = parseTopic(packet.topic);
    if (!t || t.ns !== this.config.ns) return;
    if (t.kind === 'hub') return this.modes.announcement(packet.payload as Buffer);
    if (t.kind === 'sync-res') return t.rest === this.config.id ? this.follower.receive(packet.payload as Buffer, packet.topic) : undefined;
    let durable: Promise<void>;
    try {
      const checked = checkBatch(this.decode(t.kind, t.rest, packet.payload as Buffer), this.replica.limits);
      if (checked.length === 0) return;
      // Before HAM: a put or a state message passes whole or not at all (sync pages: FeedFollower).
      if (!(await this.verifier.message(checked, packet.topic))) return;
      durable = this.replica.receiveChecked(checked).durable;
      this.ctx.counters.inc('updates.replicated', checked.length);
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      if (err.code === 'HAMSYNC_ERR_SIGNATURE') return this.verifier.refused(err, packet.topic, 1);
      this.ctx.counters.inc('messages.rejected');
      this.ctx.counters.inc(`rejected.${err.code}`);
      this.ctx.log.warn('message rejected', { topic: packet.topic.slice(0, 200), code: err.code, reason: err.message });
      return;
    }
    // Acknowledge only once it is on disk; a store failure propagates and the delivery stays unacknowledged.
    await durable;
  }

  /** The updates of a peer's put or of a state message that fall under our subscriptions. */
  private decode(kind: string, rest: string, payload: Buffer): DecodedUpdate[] {
    let updates: DecodedUpdate[];
    if (kind === 'put') {
      if (rest === this.config.id) return []; // our own puts, echoed back
      updates = decodePut(payload, rest).updates;
    } else if (kind === 'state' && this.config.followState) {
      // An empty retained message clears the topic: nothing to apply.
      if (payload.length === 0) return [];
      updates = [decodeState(payload, rest)];
    } else {
      return [];
    }
    return updates.filter((u) => this.wanted(u.key));
  }

  async close(): Promise<void> {
    this.reconnector.stop();
    this.modes.stop();
    this.follower.reset();
    if (this.client.connected) {
      await new Promise<void>((resolve) => {
        this.client.publish(topics.presence(this.config.ns, this.config.id), encodePresence(false), { qos: 1, retain: true }, () => resolve());
        setTimeout(resolve, 500).unref();
      });
    }
    // A graceful end waits for in-flight messages; with the broker gone that is forever. Give it
    // a second, then end by force (whatever was in flight is still in the outbox).
    if (!this.client.connected) {
      await this.client.endAsync(true).catch(() => undefined);
      return;
    }
    const graceful = this.client.endAsync(false).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 1000)));
    const outcome = await Promise.race([graceful, late]);
    clearTimeout(timer);
    if (outcome === 'late') await this.client.endAsync(true).catch(() => undefined);
  }
}
