/**
 * Store format 3 (src/store/open.ts, src/sync/history-index.ts): older data directories migrate in
 * place on the first writable open and keep every row; read-only opens of older formats read them;
 * the per-key history index is built in batches off the write path, and rows waiting for it are
 * read, recognised as duplicates and recovered after a crash.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HamsyncError } from '../../src/errors.js';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { openStore, STORE_FORMAT, type Store } from '../../src/store/open.js';
import { readHistory, readLive } from '../../src/store/read.js';
import { Replica } from '../../src/sync/replica.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

function copyFixture(t: TestContext, name: string): string {
  const dir = path.join(tempDir(t), name);
  fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

/** Every history row of every live key, as text (the fixture's content). */
function historyText(store: Store): string[] {
  const out: string[] = [];
  for (const e of readLive(store, '')) {
    for (const h of readHistory(store, e.key, {})) out.push(`${h.key} ${h.state} ${h.source} ${JSON.stringify(h.value)} ${h.outcome}${h.sig === undefined ? '' : ' signed'}`);
  }
  return out;
}

function liveText(store: Store): string[] {
  return [...readLive(store, '')].map((e) => `${e.key} ${e.state} ${e.source} ${JSON.stringify(e.value)}${e.sig === undefined ? '' : ' signed'}`);
}

/** The format-2 fixture (test/fixtures/v02-hub, written by the format-2 hamsync; see v01-README.md). */
const V02_TEMP = ['pi-1/temp 800000 pi-1 20 historical', 'pi-1/temp 900000 pi-1 21.5 applied', 'pi-1/temp 950000 pi-1 22 applied signed', 'pi-1/temp 950000 pi-2 21 tie-lost'];

describe('store format 3: migration', () => {
  test('a format-2 directory reads read-only as it is, migrates once on a writable open, and keeps every row', async (t) => {
    const dir = copyFixture(t, 'v02-hub');
    const ro = openStore(dir, { readOnly: true });
    assert.equal(ro.meta.get('format'), 2);
    assert.equal(ro.historyUnindexed, undefined, 'a read-only open creates nothing');
    const live = liveText(ro);
    const history = historyText(ro);
    assert.deepEqual(history.filter((h) => h.startsWith('pi-1/temp ')), V02_TEMP);
    assert.equal(history.length, 4 + 2 + 40, 'every history row of the fixture');
    assert.equal(ro.meta.get('format'), 2, 'still format 2');
    await ro.root.close();

    const r = await Replica.open({ dataDir: dir, clock: new ManualClock(2_000_000), changeLog: true });
    t.after(() => r.close());
    assert.equal(r.migratedFrom, 2);
    // Old rows (inline msgpack records) and new ones (shared structures) side by side, in both orders.
    await r.receive([{ key: 'pi-1/temp', value: 23, state: 1_500_000, source: 'pi-1' }, { key: 'pi-3/x', value: { a: [1, { b: 2 }] }, state: 1_500_001, source: 'pi-3' }]).durable;
    assert.deepEqual(r.history('pi-1/temp').map((h) => `${h.state} ${JSON.stringify(h.value)} ${h.outcome}`), ['800000 20 historical', '900000 21.5 applied', '950000 22 applied', '950000 21 tie-lost', '1500000 23 applied']);
    // The old duplicate check still sees the old rows through the complete old index.
    const again = r.receive([{ key: 'pi-1/temp', value: 20, state: 800_000, source: 'pi-1' }]);
    assert.deepEqual(again.results, [{ decision: 'historical', duplicate: true }]);
    assert.equal(r.get('pi-1/later')?.value, 7, 'the deferred update fell due on open');
    await r.close();

    const store = openStore(dir);
    t.after(() => store.root.close());
    assert.equal(store.meta.get('format'), STORE_FORMAT);
    assert.equal(store.migratedFrom, undefined, 'migrated once');
    assert.equal(store.historyUnindexed?.getCount(), 0, 'a clean close leaves nothing waiting for the index');
    const after = historyText(store);
    for (const h of history) assert.ok(after.includes(h), `kept: ${h}`);
    assert.deepEqual(liveText(store).filter((l) => !l.startsWith('pi-1/temp ') && !l.startsWith('pi-3/') && !l.startsWith('pi-1/later')), live.filter((l) => !l.startsWith('pi-1/temp ') && !l.startsWith('pi-1/later')));
  });

  for (const name of ['v01-hub', 'v01-daemon']) {
    test(`a format-1 directory (${name}) reads read-only and migrates on a writable open`, async (t) => {
      const dir = copyFixture(t, name);
      const ro = openStore(dir, { readOnly: true });
      assert.equal(ro.meta.get('format'), 1);
      const before = historyText(ro);
      const live = liveText(ro);
      assert.ok(before.length >= 2 || live.length === 0, `${name}: history ${before.join('; ')}`);
      await ro.root.close();
      const store = openStore(dir);
      t.after(() => store.root.close());
      assert.equal(store.migratedFrom, 1);
      assert.equal(store.meta.get('format'), STORE_FORMAT);
      assert.deepEqual(historyText(store), before);
      assert.deepEqual(liveText(store), live);
    });
  }

  test('a directory of a newer format is refused with HAMSYNC_ERR_STORE, read-only or not', async (t) => {
    const dir = tempDir(t);
    const s = openStore(dir);
    s.meta.putSync('format', STORE_FORMAT + 1);
    await s.root.close();
    for (const readOnly of [false, true]) {
      assert.throws(() => openStore(dir, { readOnly }), (err: unknown) => err instanceof HamsyncError && err.code === 'HAMSYNC_ERR_STORE' && /store format 4/.test(err.message));
    }
  });
});

describe('store format 3: the per-key history index', () => {
  test('rows wait in history-unindexed, are read and recognised as duplicates there, and move to the index in one build', async (t) => {
    const dir = tempDir(t);
    const r = await Replica.open({ dataDir: dir, clock: new ManualClock(1_000_000), historyIndex: { intervalMs: 3_600_000, maxRows: 1_000_000 } });
    t.after(() => r.close());
    const updates = Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 5}`, value: i, state: 1000 + i, source: 'dev' }));
    await r.receive(updates).durable;
    const reader = openStore(dir, { readOnly: true });
    t.after(() => reader.root.close());
    assert.equal(reader.historyByKey.getCount(), 0, 'nothing indexed on the write path');
    assert.equal(reader.historyUnindexed?.getCount(), 50);
    assert.deepEqual(readHistory(reader, 'k3', {}).map((h) => h.value), [3, 8, 13, 18, 23, 28, 33, 38, 43, 48]);
    assert.deepEqual(readHistory(reader, 'k3', { from: 1008, to: 1030, limit: 2 }).map((h) => h.value), [8, 13]);
    // Every one of them again: historical duplicates, found among the rows waiting for the index.
    const again = r.receive(updates.slice(0, 45));
    assert.ok(again.results.every((x) => x.duplicate), 'resends are duplicates');
    await again.durable;
    await (r as unknown as { parts: { index: { flush(): Promise<void> } } }).parts.index.flush();
    assert.equal(reader.historyUnindexed?.getCount(), 0);
    assert.equal(reader.historyByKey.getCount(), 50);
    assert.deepEqual(readHistory(reader, 'k3', {}).map((h) => h.value), [3, 8, 13, 18, 23, 28, 33, 38, 43, 48]);
    assert.ok(r.receive(updates.slice(0, 10)).results.every((x) => x.duplicate), 'and still duplicates once indexed');
  });

  test('maxRows rows waiting start a build without waiting for the interval', async (t) => {
    const dir = tempDir(t);
    const r = await Replica.open({ dataDir: dir, clock: new ManualClock(1_000_000), historyIndex: { intervalMs: 3_600_000, maxRows: 100 } });
    t.after(() => r.close());
    const reader = openStore(dir, { readOnly: true });
    t.after(() => reader.root.close());
    for (let b = 0; b < 5; b++) await r.receive(Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: b, state: 1000 + b * 30 + i, source: 'dev' }))).durable;
    await until(() => (reader.historyByKey.getCount() >= 90 ? true : undefined), { timeoutMs: 5000, what: 'a build after 100 rows' });
    assert.ok((reader.historyUnindexed?.getCount() ?? 0) < 100, 'no more than maxRows wait');
  });

  test('rows left waiting by a crash are recovered on open: duplicates stay duplicates, and they get indexed', async (t) => {
    const dir = tempDir(t);
    // What a crash after a commit and before the index build leaves: history rows and their history-unindexed entries.
    const s = openStore(dir);
    const history = Array.from({ length: 20 }, (_, i) => ({ state: 500 + i, seq: i, key: `k${i % 4}` }));
    await s.root.transaction(() => {
      for (const h of history) {
        void s.history.put([h.state, h.seq], { k: h.key, src: 'dev', j: String(h.seq), o: 'historical', d: false, rx: 1 });
        void s.historyUnindexed?.put(h.seq, [h.key, h.state]);
        void s.live.put(h.key, { s: h.state, src: 'dev', j: String(h.seq) });
      }
      // An entry whose history row retention pruned meanwhile.
      void s.historyUnindexed?.put(99, ['gone', 1]);
      void s.meta.put('seq', 100);
    });
    await s.root.close();
    const r = await Replica.open({ dataDir: dir, clock: new ManualClock(1_000_000), historyIndex: { intervalMs: 3_600_000, maxRows: 1_000_000 } });
    const results = r.receive(history.map((h) => ({ key: h.key, value: h.seq, state: h.state, source: 'dev' }))).results;
    assert.ok(results.every((x) => x.duplicate), JSON.stringify(results));
    assert.equal(r.history('k1').length, 5);
    await r.close();
    const after = openStore(dir, { readOnly: true });
    t.after(() => after.root.close());
    assert.equal(after.historyUnindexed?.getCount(), 0);
    assert.deepEqual([...after.historyByKey.getKeys({ start: ['k1'], end: ['k1', Infinity] })].map((k) => k[1]), [501, 505, 509, 513, 517]);
    assert.equal([...after.historyByKey.getKeys({ start: ['gone'], end: ['gone', Infinity] })].length, 0, 'a pruned row is not indexed');
  });
});
