/**
 * The daemon's sync v2 follower against a FAKE hub (plain Aedes + a scripted client sending
 * pages built with encodeSyncPage): the switch from peer to hub mode on the announcement, pages
 * stored and acknowledged in order with the cursor persisted, a bad update skipped alone,
 * snapshot pages without `to`, redelivered and out-of-order pages.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir, type HasAfter } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { FakeHub, startDaemon, upd } from './daemon-fake-hub.js';

const NS = 'default';
const PUT_ALL = `hamsync/${NS}/put/+`;

/** A fake hub H1 (epoch `epoch`) announced to a new daemon `id`, and the daemon's first feed request. */
async function followingH1(t: HasAfter, id: string, epoch: number): Promise<{ hub: FakeHub; d: Awaited<ReturnType<typeof startDaemon>>; req: Awaited<ReturnType<FakeHub['request']>>['req'] }> {
  const hub = await FakeHub.start();
  const d = await startDaemon(hub.url, { id, dataDir: join(tempDir(t), id) });
  t.after(async () => {
    await d.stop();
    await hub.close();
  });
  await hub.announce('H1', epoch);
  const { req } = await hub.request(id);
  return { hub, d, req };
}

test('auto mode: peer until the hub announces itself, then hub mode without put/+', { timeout: 30_000 }, async (t) => {
  const hub = await FakeHub.start();
  const dir = tempDir(t);
  const d = await startDaemon(hub.url, { id: 'd1', dataDir: join(dir, 'd1') });
  t.after(async () => {
    await d.stop();
    await hub.close();
  });
  // Peer mode first: put/+ subscribed, a peer's put arrives.
  await until(() => hub.subEvents('hamsync-d1', PUT_ALL, 'subscribe').length > 0, { what: 'd1 subscribing put/+' });
  assert.equal((d.status().sync as { mode: string }).mode, 'peer');
  await hub.put('other', [upd('peer/before', 1)]);
  await until(() => d.replica.get('peer/before'), { what: 'a peer\'s put in peer mode' });

  await hub.announce('H1', 1);
  const { req } = await hub.request('d1');
  assert.equal(req.at, undefined, 'no cursor yet: no "at"');
  assert.deepEqual(req.filters, ['#']);
  assert.equal(hub.subEvents('hamsync-d1', PUT_ALL, 'unsubscribe').length, 1, 'put/+ unsubscribed before the request');
  // A peer's put after the switch, then a page: the page arriving proves the put would have come first.
  await hub.put('other', [upd('peer/after', 2)]);
  await hub.page('d1', { id: req.id, n: 1, mode: 'snapshot', snap: true, to: 3, head: 3, updates: [upd('hub/a', 'A')] });
  await hub.acked('d1', req.id, 1);
  assert.equal(d.replica.get('hub/a')?.value, 'A');
  assert.equal(d.replica.get('peer/after'), undefined, 'no put/+ delivery in hub mode');
  const s = d.status().sync as Record<string, unknown>;
  assert.equal(s.mode, 'hub');
  assert.deepEqual(s.hub, { id: 'H1', epoch: 1 });
  assert.equal(s.position, 3);
  assert.equal(s.last, 'snapshot');
  assert.equal(d.counters.get('sync.snapshots'), 1);
  assert.equal(d.counters.get('sync.switched-to-hub'), 1);
  assert.equal(d.counters.get('sync.requested'), 1, 'one request for one announcement');
});

test('pages are stored and acknowledged in order; the cursor survives a restart and is offered as "at"', { timeout: 30_000 }, async (t) => {
  const hub = await FakeHub.start();
  const dataDir = join(tempDir(t), 'd2');
  let d = await startDaemon(hub.url, { id: 'd2', dataDir });
  t.after(async () => {
    await d.stop();
    await hub.close();
  });
  const storedAtAck: boolean[] = [];
  hub.onAck = (a) => storedAtAck.push(d.replica.get(`k/${a.n}`) !== undefined);
  await hub.announce('H1', 4);
  const { req } = await hub.request('d2');
  for (let n = 1; n <= 3; n++) await hub.page('d2', { id: req.id, n, epoch: 4, to: 10 * n, head: 40, updates: [upd(`k/${n}`, n)] });
  await hub.acked('d2', req.id, 3);
  assert.deepEqual(hub.acks.filter((a) => a.device === 'd2').map((a) => a.n), [1, 2, 3], 'one ack per page, in order');
  assert.deepEqual(storedAtAck, [true, true, true], 'each page was stored before its ack');
  const s = d.status().sync as Record<string, unknown>;
  assert.deepEqual([s.position, s.head, s.backlog, s.pages, s.last], [30, 40, 10, 3, 'resume']);
  assert.equal(d.counters.get('sync.pages'), 3);
  assert.equal(d.counters.get('sync.resumed'), 1);
  // The pages' "t" is the clock guard's hub reference.
  assert.equal((d.status().clockGuard as { state: string }).state, 'ok');

  await d.stop();
  d = await startDaemon(hub.url, { id: 'd2', dataDir });
  // The data dir remembers hub H1: hub mode from the start, and the retained announcement brings the request.
  assert.equal((d.status().sync as { mode: string }).mode, 'hub');
  const again = await hub.request('d2', 2);
  assert.deepEqual(again.req.at, { hub: 'H1', epoch: 4, pos: 30 });
  assert.equal(hub.subEvents('hamsync-d2', PUT_ALL, 'subscribe').length, 1, 'put/+ only in the first run (peer, before the announcement)');
});

test('a page with one invalid update: the others are stored and the page is acknowledged', { timeout: 30_000 }, async (t) => {
  const { hub, d, req } = await followingH1(t, 'd3', 1);
  await hub.page('d3', { id: req.id, n: 1, to: 3, head: 3, updates: [upd('ok/1', 1), upd('bad/state', 2, 'other', -5), upd('ok/2', 3)] });
  await hub.acked('d3', req.id, 1);
  assert.equal(d.replica.get('ok/1')?.value, 1);
  assert.equal(d.replica.get('ok/2')?.value, 3);
  assert.equal(d.replica.get('bad/state'), undefined);
  assert.equal(d.counters.get('rejected.HAMSYNC_ERR_STATE'), 1);
  assert.equal(d.replica.cursors().get('H1')?.pos, 3, 'the page\'s position is stored all the same');
  // The feed goes on.
  await hub.page('d3', { id: req.id, n: 2, to: 4, head: 4, updates: [upd('ok/3', 4)] });
  await hub.acked('d3', req.id, 2);
  assert.equal(d.replica.get('ok/3')?.value, 4);
});

test('snapshot pages without "to" leave the cursor; the last one (with "to") moves it', { timeout: 30_000 }, async (t) => {
  const { hub, d, req } = await followingH1(t, 'd4', 2);
  const snap = { id: req.id, epoch: 2, mode: 'snapshot' as const, snap: true, head: 50 };
  await hub.page('d4', { ...snap, n: 1, updates: [upd('s/1', 1)] });
  await hub.acked('d4', req.id, 1);
  assert.equal(d.replica.get('s/1')?.value, 1);
  assert.equal(d.replica.cursors().get('H1'), undefined, 'no position after a snapshot page without "to"');
  await hub.page('d4', { ...snap, n: 2, updates: [upd('s/2', 2)] });
  await hub.acked('d4', req.id, 2);
  assert.equal(d.replica.cursors().get('H1'), undefined);
  await hub.page('d4', { ...snap, n: 3, to: 50, updates: [upd('s/3', 3)] });
  await hub.acked('d4', req.id, 3);
  assert.deepEqual(d.replica.cursors().get('H1'), { hub: 'H1', epoch: 2, pos: 50 });
  assert.equal((d.status().sync as { backlog: number }).backlog, 0);
});

test('a redelivered page is acknowledged again; a gap asks anew; pages of an old request are ignored', { timeout: 30_000 }, async (t) => {
  const { hub, d, req } = await followingH1(t, 'd5', 1);
  await hub.page('d5', { id: req.id, n: 1, to: 1, updates: [upd('r/1', 1)] });
  await hub.acked('d5', req.id, 1);
  await hub.page('d5', { id: req.id, n: 1, to: 1, updates: [upd('r/1', 1)] });
  await until(() => hub.acks.filter((a) => a.id === req.id && a.n === 1).length === 2, { what: 'the redelivered page acknowledged again' });
  assert.equal(d.counters.get('sync.pages'), 1);
  await hub.page('d5', { id: req.id, n: 3, to: 3, updates: [upd('r/3', 3)] });
  const second = await hub.request('d5', 2);
  assert.deepEqual(second.req.at, { hub: 'H1', epoch: 1, pos: 1 });
  assert.equal(d.replica.get('r/3'), undefined, 'the page after the gap was not stored');
  assert.equal(d.counters.get('rejected.HAMSYNC_ERR_PROTOCOL'), 1);
  // The old feed's pages are ignored; the new one's stored.
  await hub.page('d5', { id: req.id, n: 2, to: 2, updates: [upd('r/old', 0)] });
  await hub.page('d5', { id: second.req.id, n: 1, to: 2, updates: [upd('r/new', 2)] });
  await hub.acked('d5', second.req.id, 1);
  assert.equal(d.replica.get('r/old'), undefined);
  assert.equal(d.replica.get('r/new')?.value, 2);
});
