/**
 * Sync v2 resume and snapshot fallback, with real processes:
 *  (a) the broker is SIGKILLed and restarted on the same data dir: the daemon resumes (status
 *      last = resume) and holds every acknowledged put;
 *  (b) the daemon is SIGKILLed in the middle of a long feed: restarted, it resumes from the
 *      position it stored (its request carries it), not from the start;
 *  (c) the hub's data dir is replaced (a new empty dir, same port): another hub identity, so the
 *      daemon falls back to a snapshot and converges with the new hub;
 *  (d) the hub's retention pruned the daemon's position (--sync-log-max small): snapshot;
 *  (e) a reconnect that resumes with nothing new still shows last = resume in the status;
 *  (f) entries that do not match a follower's filters still move its position on (empty page).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { CountingProxy } from '../helpers/count-proxy.js';
import { getKey, Harness, putApi, statusOf, type Watcher } from '../helpers/procs.js';
import { brokerV2, caughtUp, hubView, inHubMode, publishPuts, syncStatus } from '../helpers/v2.js';
import { until } from '../helpers/wait.js';

const PUT = 'hamsync/default/put/pi-1';
const BASE = Date.now() - 3_600_000;

interface SyncReq {
  pv?: number;
  id?: string;
  f?: string[];
  at?: { hub: string; epoch: number; pos: number };
}

/** The hub's "sync feed started" log lines for `device`. */
function feedsStarted(stderr: string, device: string): { mode?: string; from?: number; head?: number }[] {
  return stderr
    .split('\n')
    .filter((l) => l.includes('"sync feed started"'))
    .map((l) => JSON.parse(l) as { device?: string; mode?: string; from?: number; head?: number })
    .filter((l) => l.device === device);
}

function requestsOf(w: Watcher, device: string): SyncReq[] {
  return w.on(`hamsync/default/sync/req/${device}`).map((m) => m.json as SyncReq);
}

/** `count` puts of `per` updates on keys `<prefix>/<n>` (n = first + i*per + j), state BASE + n. */
function batches(prefix: string, first: number, per: number): (i: number) => string {
  return (i) => {
    const u = [];
    for (let j = 0; j < per; j++) {
      const n = first + i * per + j;
      u.push({ k: `${prefix}/${n}`, v: n, s: BASE + n });
    }
    return JSON.stringify({ src: 'pi-1', u });
  };
}

test('(a) broker SIGKILLed and restarted on its data dir: the daemon resumes and holds every acknowledged put', { timeout: 90_000 }, async (t) => {
  const h = new Harness(t);
  let broker = await brokerV2(h, { args: ['--rate-limit', '0'] });
  const port = broker.port;
  const d = await h.daemon({ id: 'follower', broker: broker.url });
  const first = await inHubMode(d.http, 'follower in hub mode');
  let pub = await h.mqtt(broker.url, 'pi-1');
  await publishPuts(pub, PUT, 50, batches('a', 0, 1), 8);
  await caughtUp(d.http, 'follower caught up', 20_000, (s) => (s.pos ?? 0) >= 50);

  // More puts, one key each; kill -9 the broker while they flow, after 150 are acknowledged.
  const acked = new Set<number>();
  const killed = new Promise<void>((resolve) => {
    void publishPuts(pub, PUT, 400, batches('a', 50, 1), 16, 60_000, (i) => {
      acked.add(50 + i);
      if (acked.size === 150) resolve();
    }).catch(() => undefined);
  });
  await killed;
  await broker.proc.kill();
  const ackedAtKill = new Set(acked);
  t.diagnostic(`broker SIGKILLed with ${ackedAtKill.size} of 400 puts acknowledged`);
  await until(async () => !(await statusOf(d.http)).connected, { timeoutMs: 10_000, what: 'follower to notice the broker is gone' });

  broker = await brokerV2(h, { port, dataDir: broker.dataDir, args: ['--rate-limit', '0'], name: 'broker#2' });
  const feed = await until(() => feedsStarted(broker.proc.stderr, 'follower')[0], { timeoutMs: 15_000, what: 'the follower\'s request at the restarted hub' });
  assert.equal(feed.mode, 'resume', `the restarted hub started a ${feed.mode} feed: ${JSON.stringify(feed)}`);
  // A put after the restart: the feed goes on (and its page tells the follower how the feed began).
  pub = await h.mqtt(broker.url, 'pi-1b');
  await publishPuts(pub, PUT, 1, () => JSON.stringify({ src: 'pi-1', u: [{ k: 'a/after', v: 'yes', s: BASE + 10_000 }] }));
  await until(async () => (await getKey(d.http, 'a/after'))?.v === 'yes', { timeoutMs: 10_000, what: 'a put after the restart to reach the follower' });
  const s = await caughtUp(d.http, 'follower to reconnect and catch up', 30_000, (v) => v.last === 'resume');
  assert.equal(s.hub, first.hub, 'same data dir, same hub identity');
  assert.equal(s.epoch, first.epoch, 'a SIGKILL does not change the epoch');
  const missing: number[] = [];
  for (const n of [...Array(50).keys(), ...ackedAtKill]) {
    const got = await getKey(d.http, `a/${n}`);
    if (got?.v !== n) missing.push(n);
  }
  assert.deepEqual(missing, [], `acknowledged before the kill but not on the follower: ${missing.length}`);
  await h.stopAll();
});

test('(b) daemon SIGKILLed mid-feed: restarted, it resumes from its stored position', { timeout: 120_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await brokerV2(h, { args: ['--rate-limit', '0'] });
  const proxy = new CountingProxy(broker.port);
  await proxy.start(0);
  h.defer(() => proxy.sever());
  const reqs = await h.watch(broker.url, ['hamsync/default/sync/req/+'], 'reqs');
  let d = await h.daemon({ id: 'follower', broker: proxy.url });
  const options = d.options; // with its data dir
  await inHubMode(d.http, 'follower in hub mode');
  await caughtUp(d.http, 'follower caught up');
  await d.proc.stop();

  // A long backlog: 1,000 puts of 100 updates.
  const MESSAGES = 1000;
  const PER = 100;
  const pub = await h.mqtt(broker.url, 'pi-1');
  await publishPuts(pub, PUT, MESSAGES, batches('b', 0, PER), 8, 120_000);
  const head = (await hubView(broker.url, 'default', ['none/#'])).head;
  assert.ok(head >= MESSAGES * PER, `hub head ${head} after ${MESSAGES * PER} updates`);

  // Restart; once it stored part of the feed, SIGKILL it.
  proxy.reset();
  d = await h.daemon(options);
  const mid = await until(
    async () => {
      const s = await syncStatus(d.http);
      return (s.pos ?? 0) > 0 && s.hub !== undefined && (s.backlog ?? 0) > 0 && s.last !== undefined ? s : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 10, what: 'the follower to be part way through its feed' },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; requests: ${requestsOf(reqs, 'follower').map((r) => JSON.stringify(r)).join(' ')}`);
  });
  await d.proc.kill();
  const bytesFirst = proxy.down;
  t.diagnostic(`follower SIGKILLed at position ${mid.pos} of ${head} (${bytesFirst} bytes received)`);

  proxy.reset();
  const before = requestsOf(reqs, 'follower').length;
  d = await h.daemon(options);
  const s = await caughtUp(d.http, 'follower to finish its feed after the restart', 60_000, (v) => v.last === 'resume' && (v.pos ?? 0) >= head);
  const req = await until(() => requestsOf(reqs, 'follower').slice(before).find((r) => r.pv === 2), { timeoutMs: 5000, what: 'the restarted follower\'s request' });
  assert.ok(req.at, `the restarted follower asked without a position: ${JSON.stringify(req)}`);
  assert.equal(req.at.hub, s.hub);
  assert.ok(req.at.pos >= (mid.pos as number), `asked from ${req.at.pos}, but it had stored ${mid.pos} before the kill`);
  assert.ok(req.at.pos < head, `asked from ${req.at.pos}: the feed had finished before the kill (head ${head}); not mid-feed`);
  const rest = head - req.at.pos;
  console.log(`resume after SIGKILL: stored position ${req.at.pos} of ${head}; ${proxy.down} bytes for the remaining ${rest} updates (${(proxy.down / rest).toFixed(1)} B/update); before the kill ${bytesFirst} bytes`);
  for (const n of [0, 1, Math.floor((MESSAGES * PER) / 2), MESSAGES * PER - 1]) assert.equal((await getKey(d.http, `b/${n}`))?.v, n, `b/${n}`);
  assert.equal((await statusOf(d.http)).live, MESSAGES * PER, 'every key');
  await h.stopAll();
});

test('(c) hub data dir replaced (empty, same port): the daemon takes a snapshot of the new hub and converges', { timeout: 90_000 }, async (t) => {
  const h = new Harness(t);
  let broker = await brokerV2(h);
  const port = broker.port;
  const d = await h.daemon({ id: 'follower', broker: broker.url });
  const first = await inHubMode(d.http, 'follower in hub mode');
  let pub: MqttClient = await h.mqtt(broker.url, 'pi-1');
  await publishPuts(pub, PUT, 20, batches('c', 0, 5), 4);
  await caughtUp(d.http, 'follower caught up', 20_000, (s) => (s.pos ?? 0) >= 100);
  await h.endClients();
  await broker.proc.stop();

  broker = await brokerV2(h, { port, name: 'broker#2' }); // a fresh temp dir
  pub = await h.mqtt(broker.url, 'pi-1b');
  await publishPuts(pub, PUT, 10, batches('c2', 0, 5), 4);
  const s = await caughtUp(d.http, 'follower to sync with the new hub', 30_000, (v) => v.hub !== first.hub && v.last === 'snapshot');
  t.diagnostic(`new hub ${s.hub} (was ${first.hub}); position ${s.pos}, head ${s.head}`);
  await putApi(d.http, [{ k: 'follower/own', v: 1 }]);
  await until(async () => (await hubView(broker.url)).live.get('follower/own')?.v === 1, { timeoutMs: 10_000, what: 'the follower\'s put to reach the new hub' });
  // Converged: everything the new hub holds, the follower holds the same way.
  await until(
    async () => {
      const hub = await hubView(broker.url);
      assert.equal(hub.live.size, 51);
      for (const [k, row] of hub.live) assert.deepEqual(await getKey(d.http, k), row, k);
      return true;
    },
    { timeoutMs: 15_000, intervalMs: 200, what: 'the follower to hold the new hub\'s live view' },
  );
  // And what it had from the old hub is still there.
  assert.equal((await getKey(d.http, 'c/99'))?.v, 99);
  await h.stopAll();
});

test('(d) retention pruned the daemon\'s position (--sync-log-max 1000): snapshot fallback', { timeout: 120_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await brokerV2(h, { args: ['--rate-limit', '0', '--sync-log-max', '1000'] });
  let d = await h.daemon({ id: 'follower', broker: broker.url, subscribe: ['d/#'] });
  const options = d.options; // with its data dir
  await inHubMode(d.http, 'follower in hub mode');
  const pub = await h.mqtt(broker.url, 'pi-1');
  await publishPuts(pub, PUT, 1, batches('d', 0, 10));
  const first = await caughtUp(d.http, 'follower caught up', 20_000, (s) => (s.pos ?? 0) >= 10);
  await d.proc.stop();

  // 30,000 entries later (keys outside and inside its filter), its position is long pruned.
  await publishPuts(pub, PUT, 300, (i) => JSON.stringify({ src: 'pi-1', u: Array.from({ length: 100 }, (_, j) => ({ k: j === 0 ? `d/${10 + i}` : `x/${j}`, v: i, s: BASE + 100 + i * 100 + j })) }), 8);
  d = await h.daemon(options);
  const s = await caughtUp(d.http, 'follower to sync again', 30_000, (v) => v.last === 'snapshot');
  assert.equal(s.hub, first.hub, 'the same hub');
  assert.equal(s.epoch, first.epoch, 'the same epoch: only the position was too old');
  for (let n = 0; n < 310; n++) assert.equal((await getKey(d.http, `d/${n}`))?.v, n < 10 ? n : n - 10, `d/${n}`);
  assert.equal(await getKey(d.http, 'x/1'), undefined, 'nothing outside its filter');
  t.diagnostic(`snapshot after pruning: position ${s.pos}, head ${s.head}, pages ${s.pages}`);
  await h.stopAll();
});

test('(e) a reconnect that resumes with nothing new shows last = resume in the status', { timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  let broker = await brokerV2(h);
  const d = await h.daemon({ id: 'follower', broker: broker.url });
  await inHubMode(d.http, 'follower in hub mode');
  const pub = await h.mqtt(broker.url, 'pi-1');
  await publishPuts(pub, PUT, 5, batches('e', 0, 2));
  await caughtUp(d.http, 'follower caught up', 20_000, (s) => (s.pos ?? 0) >= 10 && s.last === 'snapshot');
  await h.endClients();
  await broker.proc.stop();
  broker = await brokerV2(h, { port: broker.port, dataDir: broker.dataDir, name: 'broker#2' });
  const feed = await until(() => feedsStarted(broker.proc.stderr, 'follower')[0], { timeoutMs: 15_000, what: 'the follower\'s request at the restarted hub' });
  assert.equal(feed.mode, 'resume');
  const s = await caughtUp(d.http, 'the follower\'s status to say its last (re)connect resumed', 10_000, (v) => v.last === 'resume');
  t.diagnostic(JSON.stringify(s));
  await h.stopAll();
});

test('(f) entries that do not match the follower\'s filters still move its position on (an empty page within 5 s)', { timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await brokerV2(h);
  const d = await h.daemon({ id: 'sat', broker: broker.url, subscribe: ['sat/#'] });
  await caughtUp(d.http, 'sat caught up');
  const pub = await h.mqtt(broker.url, 'pi-1');
  await publishPuts(pub, PUT, 100, batches('f', 0, 1));
  const head = (await hubView(broker.url, 'default', ['none/#'])).head;
  assert.equal(head, 100);
  const s = await caughtUp(d.http, 'sat\'s position to reach the hub\'s head (100 entries, none for sat)', 12_000, (v) => (v.pos ?? 0) >= head);
  t.diagnostic(JSON.stringify(s));
  await h.stopAll();
});
