import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { describe, test, type TestContext } from 'node:test';
import { open } from 'lmdb';
import { isHamsyncError } from '../../src/errors.js';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { openStore, type Store } from '../../src/store/open.js';
import { Retention, type RetentionOptions, type RetentionRun } from '../../src/sync/retention.js';
import { Replica } from '../../src/sync/replica.js';
import { parseSize } from '../../src/util/size.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const NOW = 1_000_000;

/**
 * A closed data dir with: `old` history rows at states 1, 2, ... (one each; states are > 0), one row at
 * exactly `edge`, `recent` rows at 900_000 and up, 3 deferred rows and 2 outbox messages.
 */
async function populate(t: TestContext, old: number, recent: number, valueBytes = 20): Promise<{ dir: string; keys: string[] }> {
  const dir = tempDir(t);
  const r = await Replica.open({ dataDir: dir, clock: new ManualClock(NOW) });
  const keys = Array.from({ length: 37 }, (_, i) => `dev${i % 5}/k${i}`);
  const pad = 'x'.repeat(valueBytes);
  const rows = [
    ...Array.from({ length: old }, (_, i) => ({ key: keys[i % keys.length] as string, value: `${pad}${i}`, state: i + 1, source: 'dev1' })),
    { key: 'edge/row', value: 'edge', state: old + 1, source: 'dev1' },
    ...Array.from({ length: recent }, (_, i) => ({ key: keys[i % keys.length] as string, value: `recent ${i}`, state: 900_000 + i, source: 'dev2' })),
    ...[1, 2, 3].map((i) => ({ key: `future/${i}`, value: i, state: NOW + i * 1000, source: 'dev3' })),
  ];
  for (let i = 0; i < rows.length; i += 5000) await r.receive(rows.slice(i, i + 5000)).committed;
  r.outbox().append('{"u":[1]}', 1);
  r.outbox().append('{"u":[2,3]}', 2);
  await r.close();
  return { dir, keys };
}

/** Raw bytes of every entry of the named databases (keys and values undecoded). */
async function rawDump(dir: string, names: string[]): Promise<Record<string, [string, string][]>> {
  const root = open({ path: dir, maxDbs: 8, readOnly: true });
  try {
    const out: Record<string, [string, string][]> = {};
    for (const name of names) {
      const db = root.openDB<Buffer, Buffer>({ name, encoding: 'binary', keyEncoding: 'binary' });
      out[name] = [...db.getRange({})].map(({ key, value }) => [Buffer.from(key).toString('hex'), Buffer.from(value).toString('hex')]);
    }
    return out;
  } finally {
    await root.close();
  }
}

function openFor(t: TestContext, dir: string): Store {
  const store = openStore(dir);
  t.after(() => store.root.close());
  return store;
}

/** Counts the transactions the store's root runs (retention's batches). */
function countTransactions(store: Store): { count: number } {
  const counter = { count: 0 };
  const root = store.root as unknown as { transaction: <T>(fn: () => T) => Promise<T> };
  const original = root.transaction.bind(store.root);
  root.transaction = <T>(fn: () => T): Promise<T> => {
    counter.count++;
    return original(fn);
  };
  return counter;
}

function states(store: Store): number[] {
  return [...store.history.getKeys({})].map(([s]) => s);
}

describe('Retention by age', () => {
  test('removes only history older than maxAge, oldest first, in batches of one transaction each, index entries too', async (t) => {
    const { dir, keys } = await populate(t, 2500, 500);
    const untouched = ['live', 'deferred', 'outbox', 'meta'];
    const before = await rawDump(dir, untouched);
    const store = openFor(t, dir);
    const historyBefore = store.history.getCount();
    assert.equal(historyBefore, 3001);
    const txns = countTransactions(store);
    const events: string[] = [];
    let ticking = true;
    const tick = (): void => {
      events.push('tick');
      if (ticking) setImmediate(tick);
    };
    const root = store.root as unknown as { transaction: <T>(fn: () => T) => Promise<T> };
    const counted = root.transaction;
    root.transaction = <T>(fn: () => T): Promise<T> => {
      events.push('txn');
      return counted(fn);
    };
    setImmediate(tick);

    // cutoff = NOW - maxAge = 2501: states 1 .. 2500 go (2500 rows), the row at 2501 stays.
    const run = await new Retention(store, new ManualClock(NOW), { maxAgeMs: NOW - 2501, batch: 1000 }).runOnce();
    ticking = false;
    assert.equal(run.removed, 2500);
    assert.equal(run.byAge, 2500);
    assert.equal(run.bySize, 0);
    assert.equal(run.batches, 3);
    assert.equal(txns.count, 3, '2,500 rows with batch 1000: three transactions');
    const txnAt = events.flatMap((e, i) => (e === 'txn' ? [i] : []));
    for (let i = 1; i < txnAt.length; i++) assert.ok(events.slice(txnAt[i - 1], txnAt[i]).includes('tick'), 'the event loop ran between batches');

    const left = states(store);
    assert.equal(left.length, 501);
    assert.equal(left[0], 2501, 'the row at exactly the cutoff stays');
    assert.ok(left.slice(1).every((s) => s >= 900_000));
    assert.equal(store.historyByKey.getCount(), 501, 'index entries went with their rows');
    for (const [k, s, seq] of store.historyByKey.getKeys({})) assert.equal(store.history.get([s, seq])?.k, k);
    await store.root.close();

    assert.deepEqual(await rawDump(dir, untouched), before, 'live, deferred, outbox and meta are byte-for-byte the same');

    const r = await Replica.open({ dataDir: dir, clock: new ManualClock(NOW) });
    t.after(() => r.close());
    for (const key of keys) {
      const rows = r.history(key);
      assert.ok(rows.length > 0);
      assert.ok(rows.every((h) => h.state >= 900_000 && h.source === 'dev2'), `${key}: only recent rows listed`);
    }
    assert.deepEqual(r.history('edge/row').map((h) => h.state), [2501]);
    assert.equal(r.deferred().length, 3);
    assert.equal(r.outbox().size().messages, 2);
    // Live values are kept even when their history row is gone.
    assert.equal([...r.live()].length, keys.length + 1);

    // A second run has nothing to do.
    const store2 = openStore(dir);
    t.after(() => store2.root.close());
    const again = await new Retention(store2, new ManualClock(NOW), { maxAgeMs: NOW - 2400 }).runOnce();
    assert.equal(again.removed, 0);
    assert.equal(again.batches, 0);
  });

  test('an exact multiple of the batch, a batch larger than the backlog, and nothing old enough', async (t) => {
    const { dir } = await populate(t, 2000, 10);
    const store = openFor(t, dir);
    const txns = countTransactions(store);
    const run = await new Retention(store, new ManualClock(NOW), { maxAgeMs: NOW - 2001, batch: 500 }).runOnce();
    assert.equal(run.removed, 2000);
    assert.equal(run.batches, 4);
    assert.equal(txns.count, 5, 'the fifth transaction finds nothing');
    const none = await new Retention(store, new ManualClock(NOW), { maxAgeMs: NOW, batch: 10_000 }).runOnce();
    assert.equal(none.removed, 0);
  });
});

describe('Retention by size', () => {
  test('brings history under maxBytes, removing the oldest rows first, and leaves the rest alone', async (t) => {
    const { dir } = await populate(t, 20_000, 0, 200);
    const untouched = ['live', 'deferred', 'outbox', 'meta'];
    const before = await rawDump(dir, untouched);
    const store = openFor(t, dir);
    const retention = new Retention(store, new ManualClock(NOW), { maxBytes: 1, batch: 1000 });
    const full = retention.historyBytes();
    const stats = store.history.getStats() as { pageSize: number; treeLeafPageCount: number; treeBranchPageCount: number; overflowPages: number };
    assert.ok(full >= (stats.treeLeafPageCount + stats.treeBranchPageCount + stats.overflowPages) * stats.pageSize);
    assert.ok(full > 4_000_000, `history takes ${full} bytes`);
    const cap = Math.floor(full / 2);
    const allStates = states(store);

    const run = await new Retention(store, new ManualClock(NOW), { maxBytes: cap, batch: 1000 }).runOnce();
    assert.ok(run.removed > 0 && run.removed < 20_001, `removed ${run.removed}`);
    assert.equal(run.bySize, run.removed);
    assert.ok(retention.historyBytes() <= cap, `${retention.historyBytes()} <= ${cap}`);
    assert.equal(run.bytes, retention.historyBytes());
    assert.deepEqual(states(store), allStates.slice(run.removed), 'the oldest went first');
    assert.equal(store.historyByKey.getCount(), store.history.getCount());
    // Not much more than needed: within a couple of batches of the cap.
    const again = await new Retention(store, new ManualClock(NOW), { maxBytes: cap, batch: 1000 }).runOnce();
    assert.equal(again.removed, 0, 'already under the cap');
    await store.root.close();
    assert.deepEqual(await rawDump(dir, untouched), before);
  });

  test('age first, then size; maxBytes 0 empties history but nothing else', async (t) => {
    const { dir } = await populate(t, 3000, 100);
    const store = openFor(t, dir);
    const liveBefore = store.live.getCount();
    const run = await new Retention(store, new ManualClock(NOW), { maxAgeMs: NOW - 1101, maxBytes: 0, batch: 700 }).runOnce();
    assert.equal(run.byAge, 1100);
    assert.equal(run.bySize, 3101 - 1100);
    assert.equal(store.history.getCount(), 0);
    assert.equal(store.historyByKey.getCount(), 0);
    assert.equal(run.bytes, 0);
    assert.equal(store.live.getCount(), liveBefore);
    assert.equal(store.deferred.getCount(), 3);
  });
});

describe('Retention in the background', () => {
  test('start() prunes beside a running replica, stop() ends it; the replica keeps working', async (t) => {
    const dir = tempDir(t);
    const clock = new ManualClock(NOW);
    const r = await Replica.open({ dataDir: dir, clock });
    t.after(() => r.close());
    await r.receive(Array.from({ length: 1500 }, (_, i) => ({ key: `k/${i % 10}`, value: i, state: i + 0.5, source: 'dev1' }))).committed;
    const store = openFor(t, dir);
    const retention = new Retention(store, clock, { maxAgeMs: NOW - 1000, intervalMs: 20, batch: 400 });
    const pruned: RetentionRun[] = [];
    retention.on('pruned', (run) => pruned.push(run));
    // Retention's timer is unref'd (a daemon's servers keep the process up): keep this test's up.
    const keepAlive = setInterval(() => undefined, 1000);
    t.after(() => clearInterval(keepAlive));
    retention.start();
    retention.start();
    await once(retention, 'pruned');
    assert.equal(pruned[0]?.removed, 1000);
    // New old rows arrive; the next run takes them.
    await r.receive(Array.from({ length: 50 }, (_, i) => ({ key: `k/${i % 10}`, value: -i, state: 10 + i, source: 'dev2' }))).committed;
    await once(retention, 'pruned');
    assert.equal(pruned[1]?.removed, 50);
    await until(() => retention.scheduled, { what: 'the next run to be scheduled' });
    await retention.stop();
    assert.equal(retention.scheduled, false, 'no run after stop(): nothing is scheduled');
    await r.receive([{ key: 'k/1', value: 'old', state: 1, source: 'dev3' }]).committed;
    assert.equal(pruned.length, 2);
    assert.ok(r.history('k/1').some((h) => h.state === 1), 'the replica still writes history');
    assert.ok(r.history('k/1').every((h) => h.state === 1 || h.state >= 1000));
  });

  test('runOnce() during a run returns that run', async (t) => {
    const { dir } = await populate(t, 3000, 0);
    const store = openFor(t, dir);
    const retention = new Retention(store, new ManualClock(NOW), { maxAgeMs: 0, batch: 100 });
    const [a, b] = await Promise.all([retention.runOnce(), retention.runOnce()]);
    assert.equal(a, b);
    assert.equal(a.removed, 3001);
  });

  test('bad options are HAMSYNC_ERR_CONFIG naming the field', async (t) => {
    const { dir } = await populate(t, 1, 0);
    const store = openFor(t, dir);
    const bad: [RetentionOptions, string][] = [
      [{ maxAgeMs: -1 }, 'retention.maxAgeMs'],
      [{ maxAgeMs: Infinity }, 'retention.maxAgeMs'],
      [{ maxBytes: 1.5 }, 'retention.maxBytes'],
      [{ maxBytes: '1GB' as unknown as number }, 'retention.maxBytes'],
      [{ intervalMs: 0 }, 'retention.intervalMs'],
      [{ batch: 0 }, 'retention.batch'],
      [{ batch: 2.5 }, 'retention.batch'],
    ];
    for (const [options, field] of bad) {
      assert.throws(
        () => new Retention(store, new ManualClock(NOW), options),
        (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_CONFIG') && err.details.field === field && err.message.includes(field),
        JSON.stringify(options),
      );
    }
  });

  test('Replica.open checks retention options before it opens (or creates) anything', async (t) => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'hamsync-retention-open-'));
    t.after(() => fs.rmSync(parent, { recursive: true, force: true }));
    const dir = path.join(parent, 'data');
    await assert.rejects(Replica.open({ dataDir: dir, clock: new ManualClock(NOW), retention: { maxAgeMs: -1 } }), (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_CONFIG') && err.details.field === 'retention.maxAgeMs');
    assert.equal(fs.existsSync(dir), false, 'no data directory was created, no store left open');
  });
});

describe('parseSize', () => {
  test('units: KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024; bare numbers are bytes', () => {
    const cases: [unknown, number][] = [
      [1048576, 1048576],
      [0, 0],
      ['1048576', 1048576],
      ['500MB', 500_000_000],
      ['500 MB', 500_000_000],
      ['1GiB', 1024 ** 3],
      ['1gib', 1024 ** 3],
      ['2KiB', 2048],
      ['2kB', 2000],
      ['1.5GiB', 1.5 * 1024 ** 3],
      ['0.5KB', 500],
      ['3 GB', 3e9],
      ['1TiB', 1024 ** 4],
      ['  64MiB ', 64 * 1024 ** 2],
      ['10B', 10],
    ];
    for (const [input, bytes] of cases) assert.equal(parseSize(input, 'retention.maxBytes'), bytes, String(input));
  });

  test('bad input throws HAMSYNC_ERR_CONFIG naming the field', () => {
    for (const input of ['', 'MB', '-1MB', '1.5', '10 MBs', '1e6', '5XB', 'lots', -5, 1.5, NaN, Infinity, null, undefined, {}, '1 000']) {
      assert.throws(
        () => parseSize(input, 'maxHistory'),
        (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_CONFIG') && err.details.field === 'maxHistory' && /maxHistory must be a size/.test(err.message),
        String(input),
      );
    }
  });
});
