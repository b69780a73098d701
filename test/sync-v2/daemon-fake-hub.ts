/**
 * A FAKE sync v2 hub for the daemon's tests: a plain in-process Aedes (no hamsync hub) on port 0
 * and a scripted MQTT client that publishes the retained announcement, records requests and
 * acks, and sends the pages a test writes (encoded with encodeSyncPage). It also records the
 * broker's SUBSCRIBE / UNSUBSCRIBE events per client, the definite signal of a mode switch.
 */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { Daemon } from '../../src/daemon/daemon.js';
import type { DaemonInput } from '../../src/daemon/options.js';
import type { WireUpdate } from '../../src/wire/codec.js';
import { decodeSyncAck, decodeSyncRequestV2, encodeHubAnnouncement, encodeSyncPage, type SyncPage, type SyncRequestV2 } from '../../src/wire/sync-v2.js';
import { until } from '../helpers/wait.js';

export interface SubEvent {
  client: string;
  kind: 'subscribe' | 'unsubscribe';
  topics: { topic: string; qos?: number }[];
  at: number;
}

export class FakeHub {
  readonly requests: { device: string; req: SyncRequestV2; at: number }[] = [];
  readonly acks: { device: string; id: string; n: number }[] = [];
  readonly subs: SubEvent[] = [];
  /** Called on each ack as it arrives (e.g. to look at the daemon's store at that moment). */
  onAck: ((a: { device: string; id: string; n: number }) => void) | undefined;
  private hubClient: MqttClient | undefined;

  private constructor(
    readonly aedes: Aedes,
    private readonly server: Server,
    readonly port: number,
    readonly ns: string,
  ) {
    aedes.on('subscribe', (subs, client) => this.subs.push({ client: client?.id ?? '', kind: 'subscribe', topics: subs.map((s) => ({ topic: s.topic, qos: s.qos })), at: Date.now() }));
    aedes.on('unsubscribe', (subs, client) => this.subs.push({ client: client?.id ?? '', kind: 'unsubscribe', topics: subs.map((topic) => ({ topic })), at: Date.now() }));
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** A plain Aedes on port 0; with `script`, also the scripted hub client (requests, acks). */
  static async start(ns = 'default', script = true): Promise<FakeHub> {
    const aedes = await Aedes.createBroker();
    const server = createServer((socket) => aedes.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hub = new FakeHub(aedes, server, (server.address() as { port: number }).port, ns);
    if (script) await hub.script();
    return hub;
  }

  private async script(): Promise<void> {
    const c = await mqtt.connectAsync(this.url, { clientId: 'fake-hub', clean: true, reconnectPeriod: 0 });
    c.on('message', (topic, payload) => {
      const parts = topic.split('/');
      const device = parts[4] ?? '';
      if (parts[3] === 'req') this.requests.push({ device, req: decodeSyncRequestV2(payload), at: Date.now() });
      if (parts[3] === 'ack') {
        const a = { device, ...decodeSyncAck(payload) };
        this.acks.push(a);
        this.onAck?.(a);
      }
    });
    await c.subscribeAsync([`hamsync/${this.ns}/sync/req/+`, `hamsync/${this.ns}/sync/ack/+`], { qos: 1 });
    this.hubClient = c;
  }

  private get client(): MqttClient {
    if (!this.hubClient) throw new Error('this fake hub has no scripted client');
    return this.hubClient;
  }

  /** The retained announcement `{"pv":2,"hub","epoch"}`. */
  async announce(hub: string, epoch: number): Promise<void> {
    await this.client.publishAsync(`hamsync/${this.ns}/hub`, encodeHubAnnouncement({ hub, epoch }), { qos: 1, retain: true });
  }

  /** Sends one page to `device` (QoS 1); defaults: hub H1 epoch 1, resume, head = to. */
  async page(device: string, p: Partial<SyncPage> & { id: string; n: number; updates: WireUpdate[] }): Promise<void> {
    const page: SyncPage = { hub: 'H1', epoch: 1, mode: 'resume', snap: false, head: p.to ?? 0, t: Date.now(), deferred: p.updates.map(() => false), ...p };
    await this.client.publishAsync(`hamsync/${this.ns}/sync/res/${device}`, encodeSyncPage(page), { qos: 1 });
  }

  /** Publishes a peer's put on put/<device> (a plain MQTT client, as another daemon would). */
  async put(device: string, updates: WireUpdate[]): Promise<void> {
    const c = await mqtt.connectAsync(this.url, { clientId: `peer-${device}-${Date.now()}`, clean: true, reconnectPeriod: 0 });
    try {
      const u = updates.map((x) => `{"k":${JSON.stringify(x.key)},"v":${x.text},"s":${x.state}}`).join(',');
      await c.publishAsync(`hamsync/${this.ns}/put/${device}`, `{"src":${JSON.stringify(device)},"u":[${u}]}`, { qos: 1 });
    } finally {
      await c.endAsync();
    }
  }

  /** The `count`-th request of `device` (1-based), once it came (bounded). */
  request(device: string, count = 1): Promise<{ device: string; req: SyncRequestV2; at: number }> {
    return until(() => this.requests.filter((r) => r.device === device)[count - 1], { what: `request ${count} of ${device}`, timeoutMs: 10_000 });
  }

  /** Resolves once `device` acknowledged page `n` of feed `id` (bounded). */
  acked(device: string, id: string, n: number): Promise<unknown> {
    return until(() => this.acks.some((a) => a.device === device && a.id === id && a.n >= n), { what: `ack of page ${n} by ${device}`, timeoutMs: 10_000 });
  }

  /** The SUBSCRIBE / UNSUBSCRIBE events of `clientId` that name `topic`. */
  subEvents(clientId: string, topic: string, kind: SubEvent['kind']): SubEvent[] {
    return this.subs.filter((e) => e.client === clientId && e.kind === kind && e.topics.some((t) => t.topic === topic));
  }

  async close(): Promise<void> {
    await this.hubClient?.endAsync(true).catch(() => undefined);
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A daemon in this process on `hub`, its HTTP API on port 0, quick reconnects. */
export function startDaemon(url: string, input: Partial<DaemonInput> & { id: string; dataDir: string }): Promise<Daemon> {
  return Daemon.start({ broker: url, http: '127.0.0.1:0', reconnectMin: '100ms', reconnectMax: '500ms', ...input });
}

/** A wire update with a plain value, stamped in the past (so it applies, not defers). */
export function upd(key: string, value: unknown, source = 'other', state = Date.now() - 60_000): WireUpdate {
  return { key, state, text: JSON.stringify(value), source };
}
