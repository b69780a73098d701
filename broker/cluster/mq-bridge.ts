/**
 * Aedes' message emitter (`mq`) for one node of a hub cluster: local delivery through a plain
 * mqemitter, at once (Redis is never in the local path: a Redis outage does not hold up a
 * SUBACK or a local message), and the bridged topics (bridged-topics.ts) sent to and received
 * from the other nodes through mqemitter-redis, tagged with their origin node.
 *
 * Bounded: at most `maxInFlight` messages / `maxInFlightBytes` bytes wait for Redis, and at most
 * `maxInFlight` messages from other nodes are being delivered here; beyond that, and whenever
 * the Redis connection is not ready, cross-node messages are dropped and counted
 * (`cluster.mq.dropped.*` in the hub's counters: /v1/status, hamsync_hub_events_total).
 * Redis pub/sub is best effort by nature; nothing that must arrive goes this way (the hub
 * replicas use the shared log).
 *
 * Retained messages from other nodes (presence) are stored in this node's retained store when
 * they arrive, so a subscriber here gets them as it would on their node; one published while
 * this node was cut off from Redis, or before it started, is not (docs/operations.md "Cluster").
 */
import { Redis } from 'ioredis';
import mqemitter from 'mqemitter';
import MQEmitterRedis from 'mqemitter-redis';
import type { Aedes } from 'aedes';
import type { Counters } from '../../src/counters.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { LogThrottle, suppressedField } from '../../src/log-throttle.js';
import { bridgedTopic } from './bridged-topics.js';

type Message = mqemitter.Message;
type Listener = (message: Message, done: () => void) => void;

/** Messages (and bytes) that may wait for Redis, and messages from other nodes being delivered here, by default. */
export const MQ_BRIDGE_DEFAULTS = { maxInFlight: 1000, maxInFlightBytes: 16 * 1024 * 1024, concurrency: 100 } as const;

export interface MqBridgeOptions {
  /** The shared Redis server, redis:// or rediss://. */
  url: string;
  /** This node's id (also Aedes' id). */
  nodeId: string;
  /** The namespace: the Redis channels are `hamsync-mq/<ns>/<topic>`, so clusters of different namespaces can share a Redis. */
  ns: string;
  counters: Counters;
  log?: Logger;
  /** Whether a message may leave this node: false for a message the hub rejected or consumed (its authorizeForward). */
  forwardable?: (packet: Message) => boolean;
  maxInFlight?: number;
  maxInFlightBytes?: number;
  /** Local deliveries in parallel (Aedes' `concurrency`). Default 100. */
  concurrency?: number;
}

export interface MqBridgeStatus {
  /** Both Redis connections (publish, subscribe) are ready, and the subscription was made. */
  redis: 'up' | 'down';
  inFlight: number;
  inFlightBytes: number;
  delivering: number;
}

export class MqBridge {
  private readonly local: mqemitter.MQEmitter;
  private readonly redis: MQEmitterRedis.MQEmitterRedis;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly prefix: string;
  private readonly log: Logger;
  private readonly logThrottle = new LogThrottle();
  private readonly maxInFlight: number;
  private readonly maxInFlightBytes: number;
  private inFlight = 0;
  private inFlightBytes = 0;
  private delivering = 0;
  /** Messages from other nodes behind a retained one being stored (delivered in order, after it). */
  private storing = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Redis acknowledged our subscription once (ioredis makes it again after each reconnect). */
  private subscribed = false;
  private aedes: Aedes | undefined;

  constructor(private readonly options: MqBridgeOptions) {
    this.log = options.log ?? silentLogger;
    this.maxInFlight = options.maxInFlight ?? MQ_BRIDGE_DEFAULTS.maxInFlight;
    this.maxInFlightBytes = options.maxInFlightBytes ?? MQ_BRIDGE_DEFAULTS.maxInFlightBytes;
    this.prefix = `hamsync-mq/${options.ns}/`;
    this.local = mqemitter({ concurrency: options.concurrency ?? MQ_BRIDGE_DEFAULTS.concurrency, matchEmptyLevels: true });
    // Our own connections: the subscription waits for Redis as long as it takes (it is one
    // command, not a queue), and is made again by ioredis after every reconnect.
    this.pub = new Redis(options.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectionName: `hamsync-mq-pub-${options.nodeId}` });
    this.sub = new Redis(options.url, { maxRetriesPerRequest: null, connectionName: `hamsync-mq-sub-${options.nodeId}` });
    this.redis = MQEmitterRedis({ pubConn: this.pub, subConn: this.sub });
    // Connection errors come as events on `state` (an 'error' without a listener would throw).
    // One warning per outage (the first error), then debug lines: ioredis retries every 2 s at most.
    let down = true;
    let warned = false;
    (this.redis as unknown as { state: NodeJS.EventEmitter }).state.on('error', (err: Error) => {
      if (warned) return this.log.debug('cluster pub/sub: Redis connection error', { err: err.message });
      warned = true;
      this.log.warn('cluster pub/sub: Redis unreachable; messages to other nodes are dropped until it is back (local delivery goes on)', { err: err.message });
    });
    this.guardDecode();
    this.redis.on(`${this.prefix}#`, (m, done) => {
      done();
      this.receive(m);
    }, () => (this.subscribed = true));
    this.pub.on('ready', () => {
      if (warned) this.log.info('cluster pub/sub: Redis reachable again');
      down = false;
      warned = false;
      this.announceBirth();
    });
    this.pub.on('close', () => {
      if (down || this.closed) return;
      down = true;
      warned = true;
      this.log.warn('cluster pub/sub: Redis connection lost; messages to other nodes are dropped until it is back (local delivery goes on)');
    });
  }

  /** The broker whose retained store keeps retained messages from other nodes (set once Aedes exists). */
  attach(aedes: Aedes): void {
    this.aedes = aedes;
  }

  status(): MqBridgeStatus {
    const up = this.subscribed && this.pub.status === 'ready' && this.sub.status === 'ready';
    return { redis: up ? 'up' : 'down', inFlight: this.inFlight, inFlightBytes: this.inFlightBytes, delivering: this.delivering };
  }

  // --- Aedes' mq interface -------------------------------------------------------------------

  get current(): number {
    return this.local.current;
  }

  get concurrent(): number {
    return this.local.concurrent;
  }

  on(topic: string, listener: Listener, done?: () => void): this {
    this.local.on(topic, listener, done);
    return this;
  }

  removeListener(topic: string, listener: Listener, done?: () => void): void {
    this.local.removeListener(topic, listener, done);
  }

  /** Delivers locally at once; a bridged topic is also sent to the other nodes, if Redis is ready and within the bounds. */
  emit(message: Message, done?: (err?: Error) => void): void {
    this.local.emit(message, done);
    if (this.closed || !bridgedTopic(message.topic)) return;
    if (this.options.forwardable && !this.options.forwardable(message)) return;
    this.send(message);
  }

  close(cb?: () => void): void {
    if (this.closed) {
      if (cb) setImmediate(cb);
      return;
    }
    this.closed = true;
    // Not mqemitter-redis' close: it QUITs, which never ends while Redis is unreachable.
    (this.redis as unknown as { closing: boolean }).closing = true;
    this.pub.disconnect();
    this.sub.disconnect();
    this.local.close(cb ?? (() => undefined));
  }

  // --- between nodes -------------------------------------------------------------------------

  private send(message: Message): void {
    const c = this.options.counters;
    if (this.pub.status !== 'ready') return c.inc('cluster.mq.dropped.redis-down');
    const payload = Buffer.isBuffer(message.payload) ? message.payload : Buffer.from(String(message.payload ?? ''));
    const bytes = payload.length + message.topic.length;
    if (this.inFlight >= this.maxInFlight || this.inFlightBytes + bytes > this.maxInFlightBytes) return c.inc('cluster.mq.dropped.full');
    this.inFlight++;
    this.inFlightBytes += bytes;
    const wire: Message = {
      origin: this.options.nodeId,
      cmd: 'publish',
      topic: this.prefix + message.topic,
      payload,
      qos: message.qos ?? 0,
      retain: message.retain === true,
      brokerId: message.brokerId,
      brokerCounter: message.brokerCounter,
    };
    if (message.properties !== undefined) wire.properties = message.properties;
    if (message.messageExpiry !== undefined) wire.messageExpiry = message.messageExpiry;
    this.redis.emit(wire, (err) => {
      this.inFlight--;
      this.inFlightBytes -= bytes;
      if (err) {
        c.inc('cluster.mq.dropped.redis-error');
        this.warn('send', 'cluster pub/sub: a message to the other nodes was lost', { err: err.message });
      } else {
        c.inc('cluster.mq.sent');
      }
    });
  }

  /** A message from the Redis channel: ours coming back is ignored; another node's is delivered here (retained ones stored first). */
  private receive(m: Message): void {
    const c = this.options.counters;
    if (this.closed || m.origin === this.options.nodeId) return;
    const topic = typeof m.topic === 'string' && m.topic.startsWith(this.prefix) ? m.topic.slice(this.prefix.length) : '';
    // A node of another version may bridge more than we do: what we keep local stays local here too.
    if (topic === '' || !Buffer.isBuffer(m.payload) || !bridgedTopic(topic)) return c.inc('cluster.mq.dropped.invalid');
    if (this.delivering >= this.maxInFlight) return c.inc('cluster.mq.dropped.busy');
    const qos = m.qos === 1 || m.qos === 2 ? m.qos : 0;
    const packet: Message = { cmd: 'publish', topic, payload: m.payload, qos, retain: m.retain === true, dup: false };
    if (typeof m.brokerId === 'string' && typeof m.brokerCounter === 'number') {
      packet.brokerId = m.brokerId;
      packet.brokerCounter = m.brokerCounter;
    }
    if (m.properties !== null && typeof m.properties === 'object') packet.properties = m.properties;
    if (typeof m.messageExpiry === 'number') packet.messageExpiry = m.messageExpiry;
    c.inc('cluster.mq.received');
    this.delivering++;
    const deliver = (): void => this.local.emit(packet, () => void this.delivering--);
    const persistence = (this.aedes as unknown as { persistence?: { storeRetained(p: Message): Promise<void> } } | undefined)?.persistence;
    const store = packet.retain && persistence !== undefined;
    // In order: while a retained message is being stored, the messages after it wait for it.
    if (!store && this.storing === 0) return deliver();
    this.storing++;
    this.tail = this.tail
      .then(() => (store ? persistence.storeRetained(packet) : undefined))
      .catch((err: Error) => this.warn('retain', 'cluster pub/sub: a retained message from another node was not stored', { topic, err: err.message }))
      .then(() => {
        this.storing--;
        deliver();
      });
  }

  /**
   * Aedes publishes `$SYS/<id>/birth` when it starts, when Redis may not be ready yet: sent again
   * each time the connection is ready, so the other nodes reset their duplicate filters for this
   * node's message counter (which starts again at every start).
   */
  private announceBirth(): void {
    const id = this.options.nodeId;
    this.send({ topic: `$SYS/${id}/birth`, payload: Buffer.from(id), qos: 0, retain: false, brokerId: id, brokerCounter: 0 });
  }

  /** mqemitter-redis decodes in ioredis' event handler: a foreign message on our channels must not throw out of it. */
  private guardDecode(): void {
    for (const event of ['messageBuffer', 'pmessageBuffer'] as const) {
      const listeners = this.sub.listeners(event) as ((...args: unknown[]) => void)[];
      this.sub.removeAllListeners(event);
      for (const l of listeners) {
        this.sub.on(event, (...args: unknown[]) => {
          try {
            l(...args);
          } catch (err) {
            this.options.counters.inc('cluster.mq.dropped.invalid');
            this.warn('decode', 'cluster pub/sub: a message on the Redis channel could not be decoded', { err: (err as Error).message });
          }
        });
      }
    }
  }

  private warn(key: string, msg: string, fields: Record<string, unknown>): void {
    const line = this.logThrottle.take(key);
    if (line) this.log.warn(msg, { ...fields, ...suppressedField(line) });
  }
}
