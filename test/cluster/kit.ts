/**
 * Test kit for the hub cluster (broker/cluster/): in-process brokers on port 0 joined through a
 * private Redis, QoS 1 puts, and views of each node's hub replica to compare.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { TestContext } from 'node:test';
import { startBroker, type BrokerOptions, type RunningBroker } from '../../broker/server.js';
import { createLogger } from '../../src/log.js';
import type { ChangeRow } from '../../src/store/rows.js';
import { encodePut } from '../../src/wire/codec.js';
import { topics } from '../../src/wire/topics.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

export const NS = 'default';
/** Short timeouts so failures are detected within a test's patience. */
export const FAST = { heartbeatMs: 500, link: { pingMs: 250, timeoutMs: 1000, blockMs: 300 }, snapshotTimeoutMs: 15_000 };

export interface NodeSpec {
  nodeId: string;
  url: string;
  dataDir?: string;
  logMax?: number;
  extra?: Partial<BrokerOptions>;
  /** More cluster options (e.g. the node's login at its peers: username, password). */
  cluster?: { username?: string; password?: string };
}

/** A broker that is one cluster node; closed when the test ends (closing twice is harmless). */
export async function node(t: TestContext, spec: NodeSpec): Promise<RunningBroker> {
  // HAMSYNC_TEST_LOG=info: each node's log on stderr (debugging a failure).
  const level = process.env.HAMSYNC_TEST_LOG;
  const b = await startBroker({
    port: 0, host: '127.0.0.1', dataDir: spec.dataDir ?? tempDir(t), ...(level ? { log: createLogger(level as 'info', { node: spec.nodeId }) } : {}), ...spec.extra,
    cluster: { url: spec.url, nodeId: spec.nodeId, ...(spec.logMax === undefined ? {} : { logMax: spec.logMax }), ...FAST, ...spec.cluster } as BrokerOptions['cluster'],
  });
  t.after(() => b.close());
  return b;
}

export async function client(t: TestContext, b: RunningBroker, clientId: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId, reconnectPeriod: 0 });
  t.after(() => c.endAsync(true).catch(() => undefined));
  return c;
}

/** A QoS 1 put from `device` of `[key, value]` pairs, states increasing from `state`; resolves at the PUBACK. */
export async function put(c: MqttClient, device: string, pairs: [string, unknown][], state: number): Promise<void> {
  const updates = pairs.map(([key, v], i) => ({ key, state: state + i, text: JSON.stringify(v) }));
  await c.publishAsync(topics.put(NS, device), encodePut(device, updates), { qos: 1 });
}

/** A node's live view as comparable text: key=value@state/source per line. */
export function view(b: RunningBroker): string {
  return [...b.replica.live()].map((e) => `${e.key}=${JSON.stringify(e.value)}@${e.state}/${e.source}`).join('\n');
}

/** Waits until every node shows the same live view with `keys` keys; returns it. */
export async function converged(nodes: RunningBroker[], keys: number, timeoutMs = 30_000): Promise<string> {
  let last: string[] = [];
  try {
    await until(() => {
      last = nodes.map(view);
      return last.every((v) => v === last[0]) && (last[0] ?? '').split('\n').filter(Boolean).length === keys;
    }, { timeoutMs, what: `${nodes.length} nodes converged on ${keys} keys` });
  } catch (err) {
    for (const [i, v] of last.entries()) console.error(`node ${i}:\n${v}\n`);
    throw err;
  }
  return last[0] as string;
}

/** Every row of a node's change log. */
export function changeRows(b: RunningBroker): ChangeRow[] {
  return [...(b.replica.changeLog?.read(0) ?? [])].map((l) => l.row);
}
