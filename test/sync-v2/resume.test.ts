/**
 * Where a feed begins: resuming from a cursor sends only the log entries after it; a cursor from
 * another hub, another epoch, beyond the head or older than what retention kept gets a snapshot;
 * a feed that falls behind retention while it waits for acks continues with a snapshot.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { until } from '../helpers/wait.js';
import { broker, connect, Follower, keysOf, put, snapshotDone } from './harness.js';

test('resume from a cursor: only what came after it; a foreign hub or epoch, or a position beyond the head: a snapshot', { timeout: 60_000 }, async (t) => {
  const b = await broker(t);
  const dev = await connect(t, b, 'hamsync-dev');
  await put(dev, 'dev', [['sat/a1', 1], ['sat/a2', 2], ['other/x', 3]]);
  const f = await Follower.start(t, b, 'fol');
  await f.request('r1', ['sat/#']);
  const snap = await f.drain('r1', snapshotDone, 'the snapshot');
  const to = snap.at(-1)?.to as number;
  const { id: hub, epoch } = b.hub.sync.identity;

  await put(dev, 'dev', [['sat/b1', 1], ['other/y', 2], ['sat/b2', 3]], Date.now() - 1000);
  const head = b.hub.sync.status().head;
  const resumes0 = b.hub.counters.get('sync.resumes');
  await f.request('r2', ['sat/#'], { hub, epoch, pos: to });
  const pages = await f.drain('r2', (ps) => ps.some((p) => p.to === head), 'the resumed feed up to the head');
  assert.ok(pages.every((p) => p.mode === 'resume' && !p.snap), 'resume pages, no snapshot');
  assert.deepEqual(keysOf(pages), ['sat/b1', 'sat/b2'], 'only the entries after the cursor');
  assert.equal(b.hub.counters.get('sync.resumes') - resumes0, 1);

  const cases: [string, { hub: string; epoch: number; pos: number }][] = [
    ['another hub', { hub: randomUUID(), epoch, pos: to }],
    ['another epoch', { hub, epoch: epoch + 1, pos: to }],
    ['beyond the head', { hub, epoch, pos: head + 5 }],
  ];
  for (const [what, at] of cases) {
    const snapshots0 = b.hub.counters.get('sync.snapshots');
    await f.request(`r-${what}`, ['sat/#'], at);
    const got = await f.drain(`r-${what}`, snapshotDone, `the snapshot for ${what}`);
    assert.ok(got.every((p) => p.mode === 'snapshot' && p.snap), `${what}: a snapshot`);
    assert.deepEqual(keysOf(got).sort(), ['sat/a1', 'sat/a2', 'sat/b1', 'sat/b2'], `${what}: the whole filtered view`);
    assert.equal(b.hub.counters.get('sync.snapshots') - snapshots0, 1, `${what}: counted`);
  }
});

test('retention keeps --sync-log-max entries; a cursor older than them gets a snapshot, one at the edge resumes', { timeout: 60_000 }, async (t) => {
  const b = await broker(t, { syncLogMax: 10 });
  const dev = await connect(t, b, 'hamsync-dev');
  await put(dev, 'dev', Array.from({ length: 30 }, (_, i): [string, unknown] => [`sat/${String(i).padStart(2, '0')}`, i]));
  await b.hub.sync.prune();
  const st = b.hub.sync.status();
  assert.deepEqual([st.head, st.oldest, st.logMax], [30, 21, 10], 'the newest 10 entries kept');
  assert.equal(b.hub.counters.get('sync.log.pruned'), 20);
  const { id: hub, epoch } = b.hub.sync.identity;
  const f = await Follower.start(t, b, 'fol');

  const resumes0 = b.hub.counters.get('sync.resumes');
  await f.request('old', ['sat/#'], { hub, epoch, pos: st.oldest - 2 });
  const old = await f.drain('old', snapshotDone, 'the snapshot for an old cursor');
  assert.ok(old.every((p) => p.mode === 'snapshot'));
  assert.equal(b.hub.counters.get('sync.resumes'), resumes0, 'decided at the request: a snapshot, not a resume');
  assert.equal(keysOf(old).length, 30);

  await f.request('edge', ['sat/#'], { hub, epoch, pos: st.oldest - 1 });
  const edge = await f.drain('edge', (ps) => ps.some((p) => p.to === st.head), 'the resumed feed at the edge');
  assert.ok(edge.every((p) => p.mode === 'resume'));
  assert.deepEqual(keysOf(edge), Array.from({ length: 10 }, (_, i) => `sat/${20 + i}`));
});

test('a feed whose position retention pruned while it waited for acks continues with a snapshot', { timeout: 60_000 }, async (t) => {
  const b = await broker(t, { syncLogMax: 10 });
  const dev = await connect(t, b, 'hamsync-dev');
  const f = await Follower.start(t, b, 'fol');
  await f.request('r1', ['sat/#']);
  await f.waitPages('r1', 1);
  // Four live pages, none acked (page 1 was the empty snapshot): the window is full.
  for (let i = 1; i <= 3; i++) {
    await put(dev, 'dev', [[`sat/p${i}`, i]], Date.now() - 1000);
    await f.waitPages('r1', 1 + i);
  }
  const waits0 = b.hub.counters.get('sync.window.waits');
  await put(dev, 'dev', Array.from({ length: 30 }, (_, i): [string, unknown] => [`sat/q${String(i).padStart(2, '0')}`, i]), Date.now() - 1000);
  await until(() => b.hub.counters.get('sync.window.waits') > waits0, { what: 'the feed waiting for acks' });
  await b.hub.sync.prune();
  const feed = b.hub.sync.status();
  assert.ok((feed.feedList[0]?.pos ?? 0) < feed.oldest - 1, 'the feed\'s position was pruned');
  const snapshots0 = b.hub.counters.get('sync.snapshots');
  const pages = await f.drain('r1', (ps) => ps.filter((p) => p.n > 4).some((p) => p.snap && p.to !== undefined), 'the snapshot after the acks');
  const after = pages.filter((p) => p.n > 4);
  assert.ok(after.every((p) => p.mode === 'snapshot' && p.snap), 'snapshot pages');
  assert.deepEqual(keysOf(after).sort(), [...Array.from({ length: 3 }, (_, i) => `sat/p${i + 1}`), ...Array.from({ length: 30 }, (_, i) => `sat/q${String(i).padStart(2, '0')}`)].sort());
  assert.equal(b.hub.counters.get('sync.snapshots') - snapshots0, 1);
});
