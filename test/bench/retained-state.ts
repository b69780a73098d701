/**
 * Retained state with a big live view (issue 13, item 2): a broker started on a data dir of N live
 * keys (default 100,000; HAMSYNC_BENCH_RETAINED_N). Reports, for the broker child: start time
 * (startBroker called -> resolved, and -> a marker published after it went through Aedes, so any
 * publishing the start queued is done), RSS after that (after a GC), the time a fresh subscriber
 * to `hamsync/<ns>/state/#` takes to receive all N retained messages, and RSS after it.
 * A script, not a test, and not a section of run.ts: `node --expose-gc dist/test/bench/retained-state.js`.
 * To compare with an older build, copy this compiled file into that build's dist/test/bench/.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AedesPublishPacket } from 'aedes';
import mqtt from 'mqtt';
import { startBroker } from '../../broker/server.js';
import { Replica } from '../../src/sync/replica.js';

const SELF = fileURLToPath(import.meta.url);
const N = Number(process.env.HAMSYNC_BENCH_RETAINED_N ?? 100_000);
const RUNS = Number(process.env.HAMSYNC_BENCH_RUNS ?? 3);

const mib = (): number => Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function serve(dir: string): Promise<void> {
  gc();
  const rss0 = mib();
  const t0 = performance.now();
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dir });
  const started = performance.now() - t0;
  // A marker through the same path (retained publish): when it is delivered, what start queued went before.
  await new Promise<void>((resolve) => {
    const marker = (_p: AedesPublishPacket, cb: () => void): void => {
      cb();
      resolve();
    };
    broker.aedes.subscribe('bench/marker', marker, () => broker.aedes.publish({ cmd: 'publish', topic: 'bench/marker', payload: Buffer.from('x'), qos: 1, retain: true, dup: false }, () => undefined));
  });
  const settled = performance.now() - t0;
  gc();
  const rssStarted = mib();
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'bench-sub', reconnectPeriod: 0 });
  let got = 0;
  const t1 = performance.now();
  const all = new Promise<void>((resolve) => sub.on('message', (topic) => topic.startsWith('hamsync/') && ++got === N && resolve()));
  await sub.subscribeAsync('hamsync/default/state/#', { qos: 1 });
  await all;
  const subscribeMs = performance.now() - t1;
  gc();
  const rssAfterSub = mib();
  await sub.endAsync(true);
  await broker.close();
  process.stdout.write(`${JSON.stringify({ rss0, started, settled, rssStarted, subscribeMs, rssAfterSub })}\n`);
}

async function fill(dir: string): Promise<void> {
  const replica = await Replica.open({ dataDir: dir });
  const s = Date.now() - 3_600_000;
  for (let b = 0; b < N / 1000; b++) {
    await replica.receive(Array.from({ length: 1000 }, (_, i) => ({ key: `dev-${b % 100}/sensor-${Math.floor(b / 100)}/k${i}`, value: { t: b * 1000 + i, ok: true }, state: s + b, source: `dev-${b % 100}` }))).durable;
  }
  await replica.close();
}

function child(dir: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', SELF, '--serve', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Record<string, number>) : reject(new Error(`child exited ${code}`))));
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--serve') return serve(process.argv[3] as string);
  const dir = mkdtempSync(join(tmpdir(), 'hamsync-bench-retained-'));
  try {
    await fill(dir);
    for (let r = 0; r < RUNS; r++) console.log(JSON.stringify({ n: N, ...(await child(dir)) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
