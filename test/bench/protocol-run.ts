/**
 * One run of the protocol bench against one build of hamsync (this checkout, v2, or a v1 build):
 * a hub (`hamsync broker --rate-limit 0`, with the GC hook of test/helpers/gc-hook.ts) and a daemon
 * `sat --subscribe 'sat/#'` behind a counting TCP proxy; device `pi-1` (an mqtt.js client in this
 * process) publishes the Workload.
 *
 *  live     sat online; N updates in puts of LIVE_PER_PUT: bytes broker → sat until sat holds the
 *           last sat update, and hub CPU (utime + stime) per update over the same span.
 *  offline  sat stopped (SIGTERM; its persistent session stays); N one-update puts: the hub's
 *           RssAnon after a full GC, minus the same before the puts.
 *  catch-up sat restarted on its data dir: bytes broker → sat, and the time from its TCP connect
 *           until it has completed a sync, replicated what the build sends it, and holds the last
 *           sat update.
 */
import type { MqttClient } from 'mqtt';
import { CountingProxy } from '../helpers/count-proxy.js';
import { connectMqtt, getKey, statusOf } from '../helpers/procs.js';
import { gcHookEnv, procCpuMs, procStatusKiB, publishPuts, syncOf } from '../helpers/v2.js';
import { until } from '../helpers/wait.js';
import { startDaemon, startHub, type Kid } from './fleet-procs.js';
import { SAT_PER_PHASE, Workload } from './protocol-load.js';

/** A build of hamsync to run. */
export interface Build {
  label: string;
  /** Its dist/src/cli/main.js. */
  cli: string;
  /** How many sat updates it replicates on the reconnect, given those written while it was online and offline. */
  catchUpUpdates(online: number, offline: number): number;
}

export interface ProtocolRun {
  liveBytes: number;
  hubCpuUsPerUpdate: number;
  offlineGrowthKiB: number;
  catchUpBytes: number;
  catchUpMs: number;
  /** How the catch-up started, from sat's sync status (`resume`, `snapshot`; v1 has none: `-`). */
  catchUpMode: string;
}

export const LIVE_PER_PUT = 10;
const TOPIC = 'hamsync/default/put/pi-1';
const PHASE_TIMEOUT_MS = 300_000;

/** Full GCs in the hub (SIGUSR2, gc-hook.ts), then its RssAnon in KiB. */
async function settledAnon(hub: Kid): Promise<number> {
  process.kill(hub.pid, 'SIGUSR2');
  await hub.line<number>('gc', 30_000);
  return procStatusKiB(hub.pid, 'RssAnon');
}

/**
 * Waits until sat is connected, has completed a sync (counter sync.completed), has replicated at
 * least `updates` updates since it started (counter updates.replicated), and holds `last`.
 */
async function synced(http: string, what: string, updates = 0, last?: { k: string; s: number }): Promise<void> {
  await until(
    async () => {
      const s = await statusOf(http);
      if (!s.connected || (s.counters['sync.completed'] ?? 0) < 1 || (s.counters['updates.replicated'] ?? 0) < updates) return false;
      return last === undefined || (await getKey(http, last.k))?.s === last.s;
    },
    { timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 20, what },
  );
}

export async function protocolRun(build: Build, updates: number): Promise<ProtocolRun> {
  const cli = { cli: build.cli };
  const kids: Kid[] = [];
  const hub = await startHub(['--rate-limit', '0'], { ...cli, env: gcHookEnv() });
  kids.push(hub.kid);
  const proxy = new CountingProxy(hub.port);
  let pub: MqttClient | undefined;
  try {
    pub = await connectMqtt(`mqtt://127.0.0.1:${hub.port}`, 'pi-1');
    await proxy.start(0);
    let sat = await startDaemon('sat', proxy.url, ['sat/#'], undefined, cli);
    hub.kid.dirs.push(sat.dataDir); // removed when the hub stops, after sat's second run
    kids.push(sat.kid);
    await synced(sat.http, `${build.label} sat's first sync`);
    const load = new Workload();

    // live
    proxy.reset();
    const cpu0 = procCpuMs(hub.kid.pid);
    const livePuts = Math.ceil(updates / LIVE_PER_PUT);
    await publishPuts(pub, TOPIC, livePuts, load.phase(livePuts, LIVE_PER_PUT), 32, PHASE_TIMEOUT_MS);
    await synced(sat.http, `${build.label} sat holding the live phase's last sat update`, 0, load.lastSat);
    const hubCpuUsPerUpdate = ((procCpuMs(hub.kid.pid) - cpu0) * 1000) / (livePuts * LIVE_PER_PUT);
    const liveBytes = proxy.down;

    // offline
    await sat.kid.stop();
    const before = await settledAnon(hub.kid);
    await publishPuts(pub, TOPIC, updates, load.phase(updates, 1), 64, PHASE_TIMEOUT_MS);
    const offlineGrowthKiB = (await settledAnon(hub.kid)) - before;

    // catch-up
    proxy.reset();
    sat = await startDaemon('sat', proxy.url, ['sat/#'], sat.dataDir, cli);
    kids.push(sat.kid);
    await synced(sat.http, `${build.label} sat's catch-up`, build.catchUpUpdates(SAT_PER_PHASE, SAT_PER_PHASE), load.lastSat);
    const catchUpMs = performance.now() - proxy.connectedAt;
    const catchUpMode = syncOf(await statusOf(sat.http)).last ?? '-';
    return { liveBytes, hubCpuUsPerUpdate, offlineGrowthKiB, catchUpBytes: proxy.down, catchUpMs, catchUpMode };
  } finally {
    await pub?.endAsync(true).catch(() => undefined);
    for (const k of kids.reverse()) await k.stop();
    await proxy.sever();
  }
}
