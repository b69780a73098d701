/**
 * Test kit for the hub side of sync v2: an in-process broker on port 0 with a temp data dir, a
 * raw device that puts, and a raw follower (mqtt.js acting as a v2 daemon) that asks for a feed
 * and records every page and error it gets on its `sync/res/<device>`.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { TestContext } from 'node:test';
import { startBroker, type BrokerOptions, type RunningBroker } from '../../broker/server.js';
import { encodePut } from '../../src/wire/codec.js';
import { decodeSyncResponseV2, encodeSyncAck, encodeSyncRequestV2, type SyncAt, type SyncError, type SyncPageDecoded } from '../../src/wire/sync-v2.js';
import { topics } from '../../src/wire/topics.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

export const NS = 'default';

export async function broker(t: TestContext, extra: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
  const b = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t), ...extra });
  t.after(() => b.close());
  return b;
}

export async function connect(t: TestContext, b: RunningBroker, clientId: string, extra: IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId, reconnectPeriod: 0, ...extra });
  t.after(() => c.endAsync(true).catch(() => undefined));
  return c;
}

/** A put from `device` of `[key, value]` pairs (states in the past, increasing); resolves at the PUBACK (durable). */
export async function put(client: MqttClient, device: string, pairs: [string, unknown][], state = Date.now() - 60_000): Promise<void> {
  const updates = pairs.map(([key, v], i) => ({ key, state: state + i, text: JSON.stringify(v) }));
  await client.publishAsync(topics.put(NS, device), encodePut(device, updates), { qos: 1 });
}

/** A raw v2 follower: asks, records pages and errors, acks when told to. */
export class Follower {
  readonly pages: SyncPageDecoded[] = [];
  readonly errors: SyncError[] = [];

  private constructor(readonly client: MqttClient, readonly device: string) {
    client.on('message', (topic, payload) => {
      if (topic !== topics.syncResponse(NS, device)) return;
      const m = decodeSyncResponseV2(payload);
      if ('page' in m) this.pages.push(m.page);
      else this.errors.push(m.error);
    });
  }

  static async start(t: TestContext, b: RunningBroker, device: string, extra: IClientOptions = {}): Promise<Follower> {
    const client = await connect(t, b, `hamsync-${device}`, extra);
    await client.subscribeAsync(topics.syncResponse(NS, device), { qos: 1 });
    return new Follower(client, device);
  }

  async request(id: string, filters: string[], at?: SyncAt): Promise<void> {
    await this.client.publishAsync(topics.syncRequest(NS, this.device), encodeSyncRequestV2({ id, filters, ...(at ? { at } : {}) }), { qos: 1 });
  }

  async ack(id: string, n: number): Promise<void> {
    await this.client.publishAsync(topics.syncAck(NS, this.device), encodeSyncAck(id, n), { qos: 1 });
  }

  of(id: string): SyncPageDecoded[] {
    return this.pages.filter((p) => p.id === id);
  }

  /** Waits for `count` pages of feed `id`, returns them. */
  async waitPages(id: string, count: number, what = `${count} pages of ${id}`): Promise<SyncPageDecoded[]> {
    await until(() => this.of(id).length >= count, { what });
    return this.of(id);
  }

  /** Acks every page as it comes, until `done` says the pages so far are enough. */
  async drain(id: string, done: (pages: SyncPageDecoded[]) => boolean, what: string): Promise<SyncPageDecoded[]> {
    let acked = 0;
    await until(async () => {
      const pages = this.of(id);
      const last = pages.at(-1);
      if (last && last.n > acked) {
        acked = last.n;
        await this.ack(id, last.n);
      }
      return done(pages);
    }, { what });
    return this.of(id);
  }
}

/** Keys of the updates in these pages, in order. */
export const keysOf = (pages: readonly SyncPageDecoded[]): string[] => pages.flatMap((p) => p.updates.map((u) => u.key as string));

/** The feed's snapshot is complete: its last snapshot page (with `to`) came. */
export const snapshotDone = (pages: readonly SyncPageDecoded[]): boolean => pages.some((p) => p.snap && p.to !== undefined);
