/**
 * Sync v2 feeds at the hub, with a raw mqtt.js follower acting as a v2 daemon: a snapshot of
 * exactly the filtered keys, then live pages; never more than 4 pages un-acknowledged; the log
 * phase leaves out the follower's own updates (its snapshot has them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from '../helpers/wait.js';
import { broker, connect, Follower, keysOf, put, snapshotDone } from './harness.js';

test('snapshot then live: exactly the sat/# keys, at most 4 pages un-acked, the hub goes on after acks', { timeout: 60_000 }, async (t) => {
  const b = await broker(t);
  const dev = await connect(t, b, 'hamsync-dev');
  // 200 keys of ~2 KB: 32 per page (64 KiB of key + value text), so 7 snapshot pages.
  const big = 'x'.repeat(2000);
  const sat = Array.from({ length: 200 }, (_, i) => `sat/${String(i).padStart(3, '0')}`);
  for (let i = 0; i < sat.length; i += 50) await put(dev, 'dev', sat.slice(i, i + 50).map((k) => [k, big]));
  await put(dev, 'dev', [['other/a', 1], ['satx/b', 2], ['sat', 3]]);
  const head0 = b.hub.sync.status().head;
  const f = await Follower.start(t, b, 'fol');
  const waits0 = b.hub.counters.get('sync.window.waits');
  await f.request('r1', ['sat/#']);

  await f.waitPages('r1', 4);
  await until(() => b.hub.counters.get('sync.window.waits') > waits0, { what: 'the feed waiting for an ack after 4 pages' });
  assert.equal(f.of('r1').length, 4, 'no fifth page before an ack');
  const feed = b.hub.sync.status().feedList[0];
  assert.deepEqual([feed?.device, feed?.pagesSent, feed?.pagesAcked, feed?.phase], ['fol', 4, 0, 'snapshot']);
  for (const [i, p] of f.of('r1').entries()) {
    assert.deepEqual([p.n, p.mode, p.snap, p.to, p.hub, p.epoch], [i + 1, 'snapshot', true, undefined, b.hub.sync.identity.id, b.hub.sync.identity.epoch]);
  }

  // A cumulative ack of 2 lets exactly 2 more through before the feed waits again.
  const waits1 = b.hub.counters.get('sync.window.waits');
  await f.ack('r1', 2);
  await f.waitPages('r1', 6);
  await until(() => b.hub.counters.get('sync.window.waits') > waits1, { what: 'the feed waiting again at 4 un-acked' });
  assert.equal(f.of('r1').length, 6);

  const snap = await f.drain('r1', snapshotDone, 'the whole snapshot');
  // As in MQTT, `sat/#` matches `sat` itself too.
  assert.deepEqual(keysOf(snap).sort(), ['sat', ...sat], 'exactly the sat/# keys (not "satx/b" or "other/a")');
  assert.equal(snap.length, 7, '7 pages of at most 64 KiB');
  for (const p of snap) {
    assert.ok(p.updates.length <= 500);
    assert.ok(p.updates.reduce((n, u) => n + (u.key as string).length + JSON.stringify(u.value).length, 0) <= 64 * 1024, `page ${p.n} within 64 KiB`);
  }
  const last = snap.at(-1);
  assert.deepEqual([last?.snap, last?.to], [true, head0], 'the last snapshot page carries to = the head when the snapshot began');
  assert.ok(snap.slice(0, -1).every((p) => p.to === undefined), 'earlier snapshot pages carry no position');

  // Live: only the matching new update, in a log page whose `to` is the new head.
  await put(dev, 'dev', [['other/live', 1], ['sat/live', 2]], Date.now() - 1000);
  const head1 = b.hub.sync.status().head;
  const all = await f.drain('r1', (ps) => ps.some((p) => !p.snap && p.to === head1), 'the live page');
  const live = all.filter((p) => !p.snap);
  assert.deepEqual(keysOf(live), ['sat/live']);
  assert.equal(live.at(-1)?.head, head1);
  assert.equal(b.hub.counters.get('sync.snapshots'), 1);
  assert.ok(b.hub.counters.get('sync.pages.sent') >= 8);
  await until(() => b.hub.sync.status().feedList[0]?.backlog === 0, { what: 'the feed status showing no backlog' });
});

test('the log phase leaves out the follower\'s own updates; its snapshot has them', { timeout: 60_000 }, async (t) => {
  const b = await broker(t);
  const dev = await connect(t, b, 'hamsync-dev');
  const f = await Follower.start(t, b, 'fol');
  await put(f.client, 'fol', [['sat/fol-old', 1]]);
  await put(dev, 'dev', [['sat/dev-old', 1]]);
  await f.request('r1', ['sat/#']);
  const snap = await f.drain('r1', snapshotDone, 'the snapshot');
  assert.deepEqual(keysOf(snap).sort(), ['sat/dev-old', 'sat/fol-old']);

  await put(f.client, 'fol', [['sat/fol-new', 2]], Date.now() - 1000);
  await put(dev, 'dev', [['sat/dev-new', 2]], Date.now() - 1000);
  const head = b.hub.sync.status().head;
  const all = await f.drain('r1', (ps) => ps.some((p) => !p.snap && p.to === head), 'a log page up to the head');
  assert.deepEqual(keysOf(all.filter((p) => !p.snap)), ['sat/dev-new'], 'sat/fol-new is the follower\'s own');
});

test('a feed ends when its client disconnects; a new request replaces the device\'s feed', { timeout: 60_000 }, async (t) => {
  const b = await broker(t);
  const f = await Follower.start(t, b, 'fol');
  await f.request('r1', ['#']);
  await f.waitPages('r1', 1);
  await f.request('r2', ['#']);
  await f.waitPages('r2', 1);
  assert.deepEqual(b.hub.sync.status().feedList.map((x) => x.id), ['r2']);
  await f.client.endAsync();
  await until(() => b.hub.sync.status().feeds === 0, { what: 'the feed ended with its client' });
});
