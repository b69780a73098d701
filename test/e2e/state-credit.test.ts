/**
 * The retained state topic follows the source credited in the live view (issue 14, item 15): when
 * a second source writes the same value at the same state and is lexically greater, every replica
 * credits it, and the hub's `hamsync/<ns>/state/<key>` message must say so too, both to a
 * subscriber that was there and to one that subscribes afterwards (the retained message).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { startBroker } from '../../broker/server.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

test('a `same` that credits a greater source republishes the retained state with that source', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: tempDir(t) });
  t.after(() => broker.close());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const connect = async (clientId: string): Promise<mqtt.MqttClient> => {
    const c = await mqtt.connectAsync(url, { clientId, reconnectPeriod: 0 });
    t.after(() => c.endAsync(true).catch(() => undefined));
    return c;
  };
  const topic = 'hamsync/default/state/shared/mode';
  const live = await connect('live-subscriber');
  const seen: { src?: string; v?: unknown; s?: number }[] = [];
  live.on('message', (tp, payload) => tp === topic && seen.push(JSON.parse(payload.toString()) as { src?: string }));
  await live.subscribeAsync(topic, { qos: 1 });
  const s = Date.now() - 5000;
  for (const dev of ['dev-a', 'dev-b', 'dev-0']) {
    const c = await connect(dev);
    await c.publishAsync(`hamsync/default/put/${dev}`, JSON.stringify({ src: dev, u: [{ k: 'shared/mode', v: 'safe', s }] }), { qos: 1 });
  }
  assert.equal(broker.replica.get('shared/mode')?.source, 'dev-b', 'the replica credits the greatest source');
  await until(() => seen.at(-1)?.src === 'dev-b', { what: 'the live subscriber sees dev-b credited', timeoutMs: 5000 });
  assert.deepEqual(seen.map((m) => m.src), ['dev-a', 'dev-b'], 'dev-0 (lesser) changed nothing');
  // The retained message, as a newcomer gets it.
  const late = await connect('late-subscriber');
  const first = new Promise<{ src?: string; v?: unknown; s?: number }>((resolve) => late.once('message', (_tp, p) => resolve(JSON.parse(p.toString()) as { src?: string })));
  await late.subscribeAsync(topic, { qos: 1 });
  assert.deepEqual(await first, { v: 'safe', s, src: 'dev-b' });
});
