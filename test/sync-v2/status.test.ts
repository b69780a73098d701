/**
 * The hub's sync status on the broker admin API (GET /v1/status, `sync`): identity, epoch, head,
 * oldest position, feeds with their position and backlog; and the sync counters. Also: a
 * format-1 data dir is migrated when the broker opens it, with one log line.
 */
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../helpers/tmp.js';
import { STORE_FORMAT } from '../../src/store/open.js';
import { until } from '../helpers/wait.js';
import { broker, connect, Follower, keysOf, put, snapshotDone } from './harness.js';

interface Status {
  counters: Record<string, number>;
  sync: { hub: string; epoch: number; head: number; oldest: number; feeds: number; feedList: { device: string; pos: number; backlog: number; pagesSent: number; pagesAcked: number; mode: string }[] };
}

test('admin status: hub identity, epoch, head, oldest, feeds with position and backlog; sync counters', { timeout: 30_000 }, async (t) => {
  const b = await broker(t, { http: { host: '127.0.0.1', port: 0 } });
  const status = async (): Promise<Status> => (await (await fetch(`http://127.0.0.1:${b.httpPort as number}/v1/status`)).json()) as Status;
  const dev = await connect(t, b, 'hamsync-dev');
  await put(dev, 'dev', [['a', 1], ['b', 2]]);
  const f = await Follower.start(t, b, 'fol');
  await f.request('r1', ['#']);
  await f.drain('r1', snapshotDone, 'the snapshot');
  const s = await status();
  assert.deepEqual([s.sync.hub, s.sync.epoch, s.sync.head, s.sync.oldest, s.sync.feeds], [b.hub.sync.identity.id, b.hub.sync.identity.epoch, 2, 1, 1]);
  assert.deepEqual(s.sync.feedList.map((x) => [x.device, x.mode, x.pos, x.backlog]), [['fol', 'snapshot', 2, 0]]);
  assert.equal(s.counters['sync.feeds'], 1);
  assert.equal(s.counters['sync.snapshots'], 1);
  assert.ok((s.counters['sync.pages.sent'] ?? 0) >= 1);
  await f.request('r2', ['#'], { hub: s.sync.hub, epoch: s.sync.epoch, pos: 2 });
  await until(async () => (await status()).counters['sync.resumes'] === 1, { what: 'a resume counted' });
});

test('a format-1 hub data dir is migrated when the broker opens it, with one log line', { timeout: 30_000 }, async (t) => {
  const fixture = fileURLToPath(new URL('../../../test/fixtures/v01-hub', import.meta.url));
  const dir = join(tempDir(t), 'hub');
  cpSync(fixture, dir, { recursive: true });
  const lines: string[] = [];
  const b = await broker(t, { dataDir: dir, log: createLogger('info', {}, (l) => lines.push(l)) });
  assert.equal(lines.filter((l) => l.includes(`data dir migrated from store format 1 to ${STORE_FORMAT}`)).length, 1);
  assert.equal(b.replica.migratedFrom, 1);
  // Its log starts empty; a follower gets what the v0.1 hub held in a snapshot.
  const f = await Follower.start(t, b, 'fol');
  await f.request('r1', ['pi-1/#']);
  const pages = await f.drain('r1', snapshotDone, 'the snapshot of the migrated hub');
  assert.deepEqual(keysOf(pages).filter((k) => k !== 'pi-1/later').sort(), ['pi-1/name', 'pi-1/temp']);
  assert.equal(pages.at(-1)?.to, 0);
});
