/**
 * The fleet bench's simulated devices, run as a child process (so their CPU is not the parent's):
 * `node fleet-devices.js <port> <devices> <updatesPerPut> <putsPerSecond>`. Each device is one
 * mqtt.js client (clean session, id `fleet-dev-<j>`) that publishes on `hamsync/default/put/dev-<j>`
 * one put of <updatesPerPut> updates (keys `dev-<j>/m<i>`, state = its wall clock in ms) every
 * 1/<putsPerSecond> s, QoS 1, starting at a staggered offset.
 *
 * Prints `{"ready":N}` once every client is connected. Commands on stdin, one per line:
 * `mark` starts a measured window (counts and PUBACK times from then on), `report` prints
 * `{"sent","acked","errors","ackMs":{"p50","p99","max"},"windowMs"}` for the window, `quit` ends.
 */
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';

const [portArg, devicesArg, perPutArg, rateArg] = process.argv.slice(2);
const PORT = Number(portArg);
const DEVICES = Number(devicesArg ?? 1000);
const PER_PUT = Number(perPutArg ?? 10);
const PUTS_PER_SECOND = Number(rateArg ?? 1);
const CONNECT_PARALLEL = 50;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function connect(j: number): Promise<MqttClient> {
  const client = await mqtt.connectAsync({ host: '127.0.0.1', port: PORT, clientId: `fleet-dev-${j}`, clean: true, reconnectPeriod: 0, keepalive: 60, connectTimeout: 30_000 });
  (client.stream as Socket).setNoDelay(true);
  client.on('error', () => undefined);
  return client;
}

async function main(): Promise<void> {
  const clients: MqttClient[] = [];
  for (let j = 0; j < DEVICES; j += CONNECT_PARALLEL) {
    const batch = await Promise.all(Array.from({ length: Math.min(CONNECT_PARALLEL, DEVICES - j) }, (_, i) => connect(j + i)));
    clients.push(...batch);
  }
  let window = { start: performance.now(), sent: 0, acked: 0, errors: 0, ackMs: [] as number[] };
  let marked = false;
  const lastState = new Array<number>(DEVICES).fill(0);
  const periodMs = 1000 / PUTS_PER_SECOND;
  const timers: NodeJS.Timeout[] = [];
  const publish = (j: number): void => {
    const client = clients[j] as MqttClient;
    const s = Math.max(Date.now(), (lastState[j] as number) + 1);
    lastState[j] = s;
    const u: string[] = [];
    for (let i = 0; i < PER_PUT; i++) u.push(`{"k":"dev-${j}/m${i}","v":${(s % 100_000) / 100},"s":${s}}`);
    const w = window;
    const t = performance.now();
    if (marked) w.sent++;
    client.publish(`hamsync/default/put/dev-${j}`, `{"src":"dev-${j}","u":[${u.join(',')}]}`, { qos: 1 }, (err) => {
      if (!marked || w !== window) return;
      if (err) w.errors++;
      else {
        w.acked++;
        w.ackMs.push(performance.now() - t);
      }
    });
  };
  for (let j = 0; j < DEVICES; j++) {
    timers.push(
      setTimeout(() => {
        publish(j);
        timers.push(setInterval(() => publish(j), periodMs));
      }, (j / DEVICES) * periodMs),
    );
  }
  process.stdout.write(`${JSON.stringify({ ready: clients.length })}\n`);
  const quit = async (): Promise<void> => {
    for (const t of timers) clearTimeout(t);
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    process.exit(0);
  };
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'mark') {
      window = { start: performance.now(), sent: 0, acked: 0, errors: 0, ackMs: [] };
      marked = true;
    } else if (line === 'report') {
      const w = window;
      const sorted = [...w.ackMs].sort((a, b) => a - b);
      marked = false;
      process.stdout.write(`${JSON.stringify({ sent: w.sent, acked: w.acked, errors: w.errors, ackMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN }, windowMs: performance.now() - w.start })}\n`);
    } else if (line === 'quit') {
      void quit();
    }
  });
  process.stdin.on('end', () => void quit());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
