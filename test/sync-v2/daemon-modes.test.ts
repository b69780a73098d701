/**
 * The daemon's sync modes without a hub: `--sync peer` daemons converge through a plain broker
 * (put/+), a remembered hub that does not announce itself makes an auto daemon fall back to peer
 * after HUB_FALLBACK_MS, and the option is checked (errors name the field and value).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { daemonConfig } from '../../src/daemon/options.js';
import { HUB_FALLBACK_MS } from '../../src/daemon/sync-mode.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';
import { FakeHub, startDaemon, upd } from './daemon-fake-hub.js';

const PUT_ALL = 'hamsync/default/put/+';

test('peer mode, no hub: two daemons converge through a plain broker', { timeout: 30_000 }, async (t) => {
  const broker = await FakeHub.start('default', false);
  const dir = tempDir(t);
  const a = await startDaemon(broker.url, { id: 'pa', dataDir: join(dir, 'pa'), sync: 'peer' });
  const b = await startDaemon(broker.url, { id: 'pb', dataDir: join(dir, 'pb'), sync: 'peer' });
  t.after(async () => {
    await a.stop();
    await b.stop();
    await broker.close();
  });
  for (const id of ['pa', 'pb']) await until(() => broker.subEvents(`hamsync-${id}`, PUT_ALL, 'subscribe').length > 0, { what: `${id} subscribing put/+` });
  assert.equal(broker.subEvents('hamsync-pa', 'hamsync/default/hub', 'subscribe').length, 0, 'peer mode does not listen for a hub');
  const s0 = Date.now() - 10_000;
  await a.put([{ key: 'a/x', value: 1 }, { key: 'both', value: 'from-a', state: s0 }]);
  await b.put([{ key: 'b/y', value: 2 }, { key: 'both', value: 'from-b', state: s0 + 1 }]);
  for (const d of [a, b]) {
    await until(() => d.replica.get('a/x') && d.replica.get('b/y') && d.replica.get('both')?.value === 'from-b', { what: `${d.config.id} to converge` });
    const s = d.status().sync as Record<string, unknown>;
    assert.deepEqual([s.mode, s.setting, s.hub], ['peer', 'peer', null]);
    assert.equal(d.counters.get('sync.requested'), 0, 'no catch-up request in peer mode');
  }
});

test('auto mode: a remembered hub that does not announce itself → peer after ~3 s', { timeout: 30_000 }, async (t) => {
  const dataDir = join(tempDir(t), 'rm');
  // First run: a hub announces itself and sends one page; the data dir remembers it.
  const hub = await FakeHub.start();
  let d = await startDaemon(hub.url, { id: 'rm', dataDir });
  await hub.announce('H9', 1);
  const { req } = await hub.request('rm');
  await hub.page('rm', { id: req.id, n: 1, hub: 'H9', to: 7, updates: [upd('old/1', 1)] });
  await hub.acked('rm', req.id, 1);
  await d.stop();
  await hub.close();

  // Second run: a plain broker, no announcement.
  const plain = await FakeHub.start('default', false);
  d = await startDaemon(plain.url, { id: 'rm', dataDir });
  t.after(async () => {
    await d.stop();
    await plain.close();
  });
  assert.equal((d.status().sync as { mode: string }).mode, 'hub', 'starts in hub mode: it remembers hub H9');
  const first = await until(() => plain.subEvents('hamsync-rm', 'hamsync/default/hub', 'subscribe')[0], { what: 'the hub topic subscribed' });
  assert.equal(plain.subEvents('hamsync-rm', PUT_ALL, 'subscribe').length, 0, 'not put/+ while waiting for the hub');
  const fell = await until(() => plain.subEvents('hamsync-rm', PUT_ALL, 'subscribe')[0], { what: 'put/+ subscribed after the fallback', timeoutMs: HUB_FALLBACK_MS + 3000 });
  const waited = fell.at - first.at;
  assert.ok(waited >= HUB_FALLBACK_MS - 200 && waited < HUB_FALLBACK_MS + 2000, `fell back after ${waited} ms`);
  assert.equal(d.counters.get('sync.fallbacks'), 1);
  const s = d.status().sync as Record<string, unknown>;
  assert.equal(s.mode, 'peer');
  assert.deepEqual([s.hub, s.position], [{ id: 'H9', epoch: 1 }, 7], 'the remembered position is still shown');
  await plain.put('other', [upd('peer/now', 'yes')]);
  await until(() => d.replica.get('peer/now'), { what: 'a peer\'s put after the fallback' });
});

test('--sync must be auto, hub or peer', () => {
  assert.equal(daemonConfig({ id: 'x', dataDir: '/tmp/x' }).sync, 'auto');
  assert.equal(daemonConfig({ id: 'x', dataDir: '/tmp/x', sync: 'hub' }).sync, 'hub');
  assert.throws(() => daemonConfig({ id: 'x', dataDir: '/tmp/x', sync: 'mesh' as never }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'HAMSYNC_ERR_CONFIG');
    assert.match(err.message, /sync must be one of auto, hub, peer, got "mesh"$/);
    return true;
  });
});
