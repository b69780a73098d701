/**
 * Sync v2, randomized with real processes (seeded: HAMSYNC_SEED replays a run; the seed and the
 * steps are printed on failure). One hub and three daemons with clock offsets (0, +1.5 s, -3 s)
 * and different key filters go through 6-10 random steps: puts on random keys from random
 * running daemons, a daemon stopped or started, the hub restarted (same port and data dir), a
 * retention run (the hub's log kept to 1,000 entries; 12,000 filler updates push it past a prune).
 * At the end everything runs again, and each daemon's live view equals the hub's live view
 * restricted to its filters, except keys with an update still deferred on that daemon or the hub.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileKeyFilters } from '../../src/wire/topics.js';
import { deferredOf, getKey, Harness, putApi, statusOf, type BrokerProc, type DaemonOptions, type DaemonProc } from '../helpers/procs.js';
import { prng, seedFromEnv } from '../helpers/seed.js';
import { brokerV2, hubView, inHubMode, publishPuts } from '../helpers/v2.js';
import { until } from '../helpers/wait.js';

const KEYS = ['a/1', 'a/2', 'b/1', 'b/2', 'c/x', 'c/y/z'];
const DEVICES: { id: string; offset: string; subscribe: string[] }[] = [
  { id: 'd0', offset: '0', subscribe: ['#'] },
  { id: 'd1', offset: '+1500ms', subscribe: ['a/#', 'c/#'] },
  { id: 'd2', offset: '-3s', subscribe: ['b/#', 'c/+'] },
];
const FILLER_KEYS = 10;
const HUB_ARGS = ['--rate-limit', '0', '--sync-log-max', '1000'];

type Step = 'put' | 'stop' | 'start' | 'hub-restart' | 'retention';

test('random interleavings of puts, daemon stops and starts, hub restarts and retention converge', { timeout: 120_000 }, async (t) => {
  const seed = seedFromEnv(Math.floor(Math.random() * 2 ** 31));
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const log: string[] = [`seed ${seed}`];
  const started = Date.now();
  try {
    const h = new Harness(t);
    let broker: BrokerProc = await brokerV2(h, { args: HUB_ARGS });
    const port = broker.port;
    const options = new Map<string, DaemonOptions>();
    const running = new Map<string, DaemonProc>();
    for (const dev of DEVICES) {
      const o: DaemonOptions = { id: dev.id, broker: broker.url, clockOffset: dev.offset, subscribe: dev.subscribe };
      const d = await h.daemon(o);
      options.set(dev.id, d.options);
      running.set(dev.id, d);
    }
    let fillerState = Date.now() - 3_600_000;
    let fillerRuns = 0;
    let hubUp = true;

    const steps = 6 + Math.floor(rand() * 5);
    for (let i = 0; i < steps; i++) {
      const choices: Step[] = ['put', 'put', 'put'];
      if (running.size > 1) choices.push('stop');
      if (running.size < DEVICES.length) choices.push('start');
      choices.push('hub-restart', 'retention');
      const step = pick(choices);
      if (step === 'put') {
        const d = pick([...running.values()]);
        const n = 1 + Math.floor(rand() * 3);
        const u = Array.from({ length: n }, () => ({ k: pick(KEYS), v: Math.floor(rand() * 1000) }));
        // Several updates of one key in one put: the last one wins locally; all are logged.
        const res = await putApi(d.http, u);
        log.push(`${i}: put on ${d.id}: ${u.map((x, j) => `${x.k}=${x.v}@${res[j]?.s}`).join(' ')}`);
      } else if (step === 'stop') {
        const d = pick([...running.values()]);
        await d.proc.stop(10_000);
        running.delete(d.id);
        log.push(`${i}: stop ${d.id}`);
      } else if (step === 'start') {
        const id = pick(DEVICES.map((x) => x.id).filter((x) => !running.has(x)));
        running.set(id, await h.daemon(options.get(id) as DaemonOptions));
        log.push(`${i}: start ${id}`);
      } else if (step === 'hub-restart') {
        await h.endClients();
        await broker.proc.stop(10_000);
        hubUp = false;
        // Sometimes a put while the hub is down (the daemon's outbox keeps it).
        if (running.size > 0 && rand() < 0.5) {
          const d = pick([...running.values()]);
          const k = pick(KEYS);
          const v = Math.floor(rand() * 1000);
          const res = await putApi(d.http, [{ k, v }]);
          log.push(`${i}: hub down; put on ${d.id}: ${k}=${v}@${res[0]?.s}`);
        }
        broker = await brokerV2(h, { port, dataDir: broker.dataDir, args: HUB_ARGS, name: `broker#${i}` });
        hubUp = true;
        log.push(`${i}: hub restarted`);
      } else {
        const pub = await h.mqtt(broker.url, 'filler');
        await publishPuts(pub, 'hamsync/default/put/filler', 120, () => JSON.stringify({ src: 'filler', u: Array.from({ length: 100 }, (_, j) => ({ k: `fill/${j % FILLER_KEYS}`, v: fillerState % 1000, s: ++fillerState })) }), 8, 60_000);
        fillerRuns++;
        log.push(`${i}: retention run (12,000 filler updates)`);
      }
    }
    assert.ok(hubUp);

    // Everything runs again.
    for (const dev of DEVICES) if (!running.has(dev.id)) running.set(dev.id, await h.daemon(options.get(dev.id) as DaemonOptions));
    for (const d of running.values()) {
      await until(async () => {
        const s = await statusOf(d.http);
        return s.connected && s.outbox.messages === 0 && s.outbox.inflight === 0;
      }, { timeoutMs: 20_000, intervalMs: 100, what: `${d.id} to drain its outbox` });
      // Following the hub again. (Not "backlog 0": a feed that resumes with nothing new for a
      // daemon sends it no page, so its status cannot show a backlog; see system-resume (e), (f).)
      await inHubMode(d.http, `${d.id} following the hub`, 20_000);
    }

    // Compare once nothing is deferred anywhere any more (offsets are seconds), with the exception
    // of the spec for whatever still is.
    const universe = [...KEYS, ...(fillerRuns > 0 ? Array.from({ length: FILLER_KEYS }, (_, j) => `fill/${j}`) : [])];
    for (const dev of DEVICES) {
      const d = running.get(dev.id) as DaemonProc;
      const wanted = compileKeyFilters(dev.subscribe);
      await until(
        async () => {
          const hub = await hubView(broker.url);
          const skip = new Set([...hub.deferred.map((r) => r.k), ...(await deferredOf(d.http)).map((r) => r.k)]);
          for (const k of universe) {
            if (!wanted(k) || skip.has(k)) continue;
            assert.deepEqual(await getKey(d.http, k), hub.live.get(k), `${d.id} ${k}`);
          }
          return skip.size === 0;
        },
        { timeoutMs: 20_000, intervalMs: 250, what: `${d.id}'s live view to equal the hub's under ${dev.subscribe.join(' ')}` },
      );
    }
    await h.stopAll(10_000);
    log.push(`converged in ${Date.now() - started} ms`);
    for (const line of log) t.diagnostic(line);
  } catch (err) {
    console.error(`system-property failed; replay with HAMSYNC_SEED=${seed}\n  ${log.join('\n  ')}`);
    throw err;
  }
});
