/**
 * Sync v2 memory: an offline device costs the hub no memory per update that passes meanwhile.
 *
 * Hub broker (child process, with a GC hook: SIGUSR2 → full GC); daemon `sat --subscribe sat/#`
 * connects once (its persistent session exists), then stops. 200,000 one-update puts from another
 * device (raw mqtt.js, QoS 1, 64 in flight) pass through, 50 of them on sat keys. The hub's
 * RssAnon after a GC grows by at most 30 MiB (a v1 hub queued every put for sat's session).
 * sat restarts, catches up (backlog 0), holds every sat key, and receives at most a few hundred
 * KiB beyond the sat updates themselves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CountingProxy } from '../helpers/count-proxy.js';
import { getKey, Harness } from '../helpers/procs.js';
import { brokerV2, caughtUp, collect, gcHookEnv, inHubMode, kib, mib, procStatusKiB, publishPuts } from '../helpers/v2.js';

const PUTS = Number(process.env.HAMSYNC_MEMORY_PUTS ?? 200_000);
const WARMUP = 10_000;
const PI_KEYS = 1000;
const SAT_KEYS = 50;
const SAT_EVERY = Math.floor(PUTS / SAT_KEYS);
const GROWTH_MAX_KIB = 30 * 1024;
const EXTRA_MAX_BYTES = 300 * 1024;

test('200,000 puts while a sat/# follower is offline: hub RssAnon grows <= 30 MiB; sat catches up with a few KiB', { timeout: 600_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await brokerV2(h, { args: ['--rate-limit', '0'], env: gcHookEnv() });
  const pid = broker.proc.child.pid as number;
  const proxy = new CountingProxy(broker.port);
  await proxy.start(0);
  h.defer(() => proxy.sever());
  let sat = await h.daemon({ id: 'sat', broker: proxy.url, subscribe: ['sat/#'] });
  const satOptions = sat.options; // with its data dir
  await inHubMode(sat.http, 'sat in hub mode');
  await caughtUp(sat.http, 'sat caught up');
  await sat.proc.stop();

  const pub = await h.mqtt(broker.url, 'pi-1');
  const base = Date.now() - 3_600_000;
  const satWrites = new Map<string, { v: unknown; s: number }>();
  let satJsonBytes = 0;
  const make = (offset: number) => (i: number): string => {
    const n = offset + i;
    const s = base + n + 1;
    if (offset > 0 && i % SAT_EVERY === SAT_EVERY - 1 && satWrites.size < SAT_KEYS) {
      const k = `sat/k${satWrites.size}`;
      const v = { bat: 3.9, n };
      satWrites.set(k, { v, s });
      // What such an update costs inside a page: {"k","v","s","src"} and a comma.
      satJsonBytes += JSON.stringify({ k, v, s, src: 'pi-1' }).length + 1;
      return JSON.stringify({ src: 'pi-1', u: [{ k, v, s }] });
    }
    return JSON.stringify({ src: 'pi-1', u: [{ k: `pi-1/m${n % PI_KEYS}`, v: { t: (n % 1000) / 10 }, s }] });
  };
  // Warm-up: every pi-1 key exists (retained state), the JIT and the allocator have seen the load.
  await publishPuts(pub, 'hamsync/default/put/pi-1', WARMUP, make(0), 64);
  await collect(broker.proc);
  const before = procStatusKiB(pid, 'RssAnon');

  const sent = await publishPuts(pub, 'hamsync/default/put/pi-1', PUTS, make(WARMUP), 64, 480_000);
  await collect(broker.proc);
  const after = procStatusKiB(pid, 'RssAnon');
  const peak = procStatusKiB(pid, 'VmHWM');
  const growth = after - before;
  const memLine = `hub RssAnon after GC: before ${mib(before * 1024)}, after ${PUTS} puts ${mib(after * 1024)} (growth ${mib(growth * 1024)}; limit ${mib(GROWTH_MAX_KIB * 1024)}); hub VmHWM ${mib(peak * 1024)}; puts took ${Math.round(sent.ms)} ms (${Math.round(PUTS / (sent.ms / 1000))}/s)`;
  console.log(memLine);
  t.diagnostic(memLine);
  assert.equal(satWrites.size, SAT_KEYS);

  proxy.reset();
  const t0 = Date.now();
  sat = await h.daemon(satOptions);
  const s = await caughtUp(sat.http, 'sat to catch up after its restart', 120_000, (v) => v.last === 'resume');
  const catchUpMs = Date.now() - t0;
  for (const [k, w] of satWrites) assert.deepEqual(await getKey(sat.http, k), { k, v: w.v, s: w.s, src: 'pi-1' }, `sat ${k}`);
  const received = proxy.down;
  const extra = received - satJsonBytes;
  const byteLine = `sat catch-up: ${received} bytes received (${kib(received)}) for ${SAT_KEYS} sat updates of ${satJsonBytes} bytes; ${extra} bytes beyond them (limit ${kib(EXTRA_MAX_BYTES)}); ${catchUpMs} ms; position ${s.pos}, head ${s.head}, pages ${s.pages}`;
  console.log(byteLine);
  t.diagnostic(byteLine);
  assert.ok(growth <= GROWTH_MAX_KIB, `hub RssAnon grew ${mib(growth * 1024)} while sat was offline (limit 30 MiB)`);
  assert.ok(extra <= EXTRA_MAX_BYTES, `sat received ${extra} bytes beyond its updates (limit ${EXTRA_MAX_BYTES})`);

  await h.stopAll();
});
