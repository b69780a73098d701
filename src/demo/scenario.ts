import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import { Daemon } from '../daemon/daemon.js';
import type { ChangeEvent, Replica } from '../sync/replica.js';

export interface DemoOptions {
  /** How far gps-1's clock runs ahead, in ms: the story's "2 minutes", scaled down. Default 8000. */
  aheadMs?: number;
  /** Where the replicas live; default a temp dir, removed at the end unless keepRunning. */
  dataDir?: string;
  /** Leave the broker and devices up after the story (for hamsync get / mosquitto_sub). */
  keepRunning?: boolean;
  /** How to run hamsync in the printed commands (`npx hamsync` from a checkout). Default `hamsync`. */
  cli?: string;
  /** Where narration goes. Default stdout. */
  say?: (line: string) => void;
}

export interface Demo {
  broker: RunningBroker;
  devices: Record<string, Daemon>;
  stop(): Promise<void>;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function nextChange(replica: Replica, key: string, timeoutMs: number): Promise<ChangeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      replica.off('change', on);
      reject(new Error(`timed out waiting for ${key} to apply`));
    }, timeoutMs);
    const on = (c: ChangeEvent): void => {
      if (c.key !== key) return;
      clearTimeout(timer);
      replica.off('change', on);
      resolve(c);
    };
    replica.on('change', on);
  });
}

async function until(fn: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error('the demo timed out waiting for replication');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** How often gps-1 reports a position while the demo keeps running. */
const FIX_EVERY_MS = 5000;

/** While the demo keeps running, gps-1 reports a position fix every FIX_EVERY_MS: each is deferred at the hub, then applied. */
function keepDrifting(gps: Daemon): NodeJS.Timeout {
  let n = 0;
  const timer = setInterval(() => {
    n++;
    const value = { lat: Number((48.0012 + n * 0.0001).toFixed(4)), lon: 7.8523, fix: '3d' };
    gps.put([{ key: 'gps-1/position', value }]).catch(() => undefined);
  }, FIX_EVERY_MS);
  timer.unref();
  return timer;
}

/**
 * `hamsync demo`: an in-process broker and three simulated devices — Earth, Mars and a GPS unit
 * whose clock runs fast — narrated as it happens: the tie, the drifted update deferred and then
 * applied, the history kept.
 */
export async function runDemo(options: DemoOptions = {}): Promise<Demo> {
  const say = options.say ?? ((l: string) => process.stdout.write(`${l}\n`));
  const ahead = options.aheadMs ?? 8000;
  const t0 = Date.now();
  const at = (): string => `[${secs(Date.now() - t0).padStart(6)}]`;
  const own = options.dataDir === undefined;
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hamsync-demo-'));

  say('hamsync demo: one broker, three devices, and clocks that cannot be trusted.\n');
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), http: { host: '127.0.0.1', port: 0 } });
  const dashboard = `http://127.0.0.1:${broker.httpPort ?? 0}/`;
  say(`${at()} Broker listening on 127.0.0.1:${broker.port}, with a hub replica (LMDB) in ${join(dir, 'hub')}.`);
  say(`${at()} Drift dashboard: ${dashboard} (open it in a browser to watch the story)`);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const devices: Record<string, Daemon> = {};
  for (const [id, offset] of [['earth', 0], ['mars', 0], ['gps-1', ahead]] as const) {
    devices[id] = await Daemon.start({ id, broker: url, dataDir: join(dir, id), http: '127.0.0.1:0', clockOffset: `${offset}ms` });
  }
  const { earth, mars } = devices as { earth: Daemon; mars: Daemon; 'gps-1': Daemon };
  const gps = devices['gps-1'] as Daemon;
  const observer = await mqtt.connectAsync(url, { clientId: `demo-observer-${process.pid}` });
  const seen: { key: string; v: unknown; at: number }[] = [];
  observer.on('message', (topic, payload) => {
    try {
      seen.push({ key: topic.split('/').slice(3).join('/'), v: (JSON.parse(payload.toString()) as { v: unknown }).v, at: Date.now() });
    } catch {
      /* not ours */
    }
  });
  await observer.subscribeAsync('hamsync/default/state/#', { qos: 1 });
  let fixes: NodeJS.Timeout | undefined;
  const stop = async (): Promise<void> => {
    clearInterval(fixes);
    await observer.endAsync().catch(() => undefined);
    for (const d of Object.values(devices)) await d.stop();
    await broker.close();
    if (own) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(() => Object.values(devices).every((d) => d.status().connected === true), 10_000);
    say(`${at()} Devices earth, mars and gps-1 are connected. gps-1's clock runs 2 minutes fast (${secs(ahead)} in this demo).`);
    say(`${at()} A plain MQTT observer subscribes to hamsync/default/state/# — the resolved view, as anyone would see it.\n`);

    say('1. The tie. Earth and Mars write mission/hello at the very same state.');
    const state = Math.max(earth.replica.now(), mars.replica.now());
    await earth.put([{ key: 'mission/hello', value: 'Hello Mars', state }]);
    await mars.put([{ key: 'mission/hello', value: 'Hello Earth', state }]);
    say(`${at()}   earth writes "Hello Mars", mars writes "Hello Earth", both at state ${state}.`);
    await until(() => [broker.replica, earth.replica, mars.replica, gps.replica].every((r) => r.get('mission/hello')?.value === 'Hello Mars'), 10_000);
    say(`${at()}   Equal states, different values: HAM breaks the tie by lexical order of the JSON text,`);
    say('             and "Hello Mars" > "Hello Earth" — on every machine, with no coordination.');
    say(`${at()}   hub, earth, mars and gps-1 all hold mission/hello = "Hello Mars". "Hello Earth" is not lost: it is in history.\n`);

    say(`2. A clock from the future. gps-1 writes gps-1/position, stamped by its own clock, ${secs(ahead)} ahead.`);
    const [put] = await gps.put([{ key: 'gps-1/position', value: { lat: 48.0012, lon: 7.8523, fix: '3d' } }]);
    const due = put?.state ?? 0;
    const hubApplied = nextChange(broker.replica, 'gps-1/position', ahead + 10_000);
    const earthApplied = nextChange(earth.replica, 'gps-1/position', ahead + 10_000);
    await until(() => broker.replica.deferred().some((d) => d.key === 'gps-1/position') && earth.replica.deferred().some((d) => d.key === 'gps-1/position'), 10_000);
    say(`${at()}   The hub and earth received it, but its state is ${secs(due - broker.replica.now())} past their clocks: DEFERRED, not applied.`);
    const early = seen.some((x) => x.key === 'gps-1/position');
    say(`${at()}   The observer ${early ? 'ALREADY SAW gps-1/position (this should not happen)' : 'sees no gps-1/position yet'}; 'hamsync deferred' lists it. A lying clock gains nothing — it only waits.`);
    say(`${at()}   ...waiting for the local clocks to reach its state...`);
    const applied = await hubApplied;
    await earthApplied;
    await until(() => seen.some((s) => s.key === 'gps-1/position'), 5000);
    const seenAt = seen.find((s) => s.key === 'gps-1/position')?.at ?? 0;
    say(`${at()}   The hub's clock reached it: APPLIED gps-1/position = ${JSON.stringify(applied.value)} (it waited in the deferred queue).`);
    say(`${at()}   The observer received it ${seenAt >= due - 50 ? 'only now, when it became due' : 'EARLY (this should not happen)'}; earth applied it too.\n`);

    say('3. The history the hub kept for mission/hello (every accepted update, with its outcome):');
    for (const h of broker.replica.history('mission/hello')) say(`             ${h.source.padEnd(6)} ${JSON.stringify(h.value).padEnd(14)} state ${h.state}  ${h.outcome}`);
    say(`\nDone in ${secs(Date.now() - t0)}.`);
    if (options.keepRunning) {
      const cli = options.cli ?? 'hamsync';
      say(`\nStill running (Ctrl-C to stop). Try, in another terminal:`);
      say(`  ${cli} get mission/hello --http 127.0.0.1:${earth.httpPort}`);
      say(`  ${cli} put mission/hello '"Hello Venus"' --http 127.0.0.1:${mars.httpPort}`);
      say(`  ${cli} deferred --http 127.0.0.1:${earth.httpPort}`);
      say(`  mosquitto_sub -h 127.0.0.1 -p ${broker.port} -v -t 'hamsync/default/state/#'`);
      say(`\nThe drift dashboard: ${dashboard}`);
      say(`  gps-1 reports a position fix every ${secs(FIX_EVERY_MS)}; each waits ${secs(ahead)} in the hub's deferred queue (watch it count down).`);
      fixes = keepDrifting(gps);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { broker, devices, stop };
}
