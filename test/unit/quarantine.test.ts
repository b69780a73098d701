/**
 * The bounded deferred queue and the quarantine, at the replica (manual clock): the horizon
 * boundary, per-source caps by count and bytes, whole batches refused with nothing written,
 * reservations (admit / receiveAdmitted / cancel), release and drop, and per-source counts that
 * stay exact across promotion, release, drop and restart (checked against a full recount,
 * also under a seeded random workload).
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { open as openLmdb } from 'lmdb';
import { ManualClock, Replica, type Json, type ReplicaOptions, type Update } from '../../src/index.js';
import { checkBatch } from '../../src/model/update.js';
import { openStore } from '../../src/store/open.js';
import type { SourceQueues } from '../../src/sync/accounts.js';
import { DEFAULT_QUEUE_LIMITS } from '../../src/sync/queue-limits.js';
import { expectHamsyncError } from '../helpers/errors.js';
import { prng, seedFromEnv } from '../helpers/seed.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const T0 = 1_000_000;
const DAY = 86_400_000;

function upd(key: string, state: number, value: Json, source = 'dev1'): Update {
  return { key, state, value, source };
}

async function open(t: TestContext, clock: ManualClock, options: Partial<ReplicaOptions> = {}, dir = tempDir()): Promise<{ r: Replica; dir: string }> {
  const r = await Replica.open({ ...options, dataDir: dir, clock });
  t.after(async () => {
    await r.close();
    removeDir(dir);
  });
  return { r, dir };
}

async function expectRejects(p: Promise<unknown>, code: string, label: string): Promise<void> {
  await assert.rejects(p, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, `${label}: ${err.message}`);
    return true;
  });
}

/** Per-source sizes recounted from what the replica lists (committed data), for comparison with queues(). */
function recount(r: Replica): Record<string, SourceQueues> {
  const out: Record<string, SourceQueues> = {};
  const bytes = (key: string, value: Json): number => Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
  const of = (src: string): SourceQueues => (out[src] ??= { deferred: 0, deferredBytes: 0, quarantined: 0, quarantinedBytes: 0 });
  for (const e of r.deferred()) {
    of(e.source).deferred++;
    of(e.source).deferredBytes += bytes(e.key, e.value);
  }
  for (const e of r.quarantined()) {
    of(e.source).quarantined++;
    of(e.source).quarantinedBytes += bytes(e.key, e.value);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * queues() equals a recount of the committed rows. The deferred timer promotes in the
 * background (counts move when it writes, rows vanish when that commits): wait for it to settle.
 */
async function assertExact(r: Replica, label: string): Promise<void> {
  // The clock is manual: advancing it starts any promotion at once, so once the replica is idle
  // (no promotion, release or drop running, every batch committed) nothing can still move.
  await r.idle();
  await r.flushed();
  assert.deepEqual(r.queues().sources, recount(r), `${label}: in-memory counts match a recount`);
}

describe('options', () => {
  test('defaults, and every bad value is named with its field before anything is opened', async (t) => {
    const { r } = await open(t, new ManualClock(T0));
    assert.deepEqual(r.queueLimits, { maxFutureMs: 30 * DAY, deferredMaxPerSource: 10_000, deferredMaxBytesPerSource: 16 * 1024 * 1024, quarantineMaxPerSource: 1000 });
    assert.deepEqual(r.queueLimits, DEFAULT_QUEUE_LIMITS);
    const bad: [Partial<ReplicaOptions>, string, string][] = [
      [{ maxFutureMs: 0 }, 'maxFutureMs', 'got 0'],
      [{ maxFutureMs: Infinity }, 'maxFutureMs', 'got Infinity'],
      [{ deferredMaxPerSource: 1.5 }, 'deferredMaxPerSource', 'got 1.5'],
      [{ deferredMaxPerSource: 0 }, 'deferredMaxPerSource', 'got 0'],
      [{ deferredMaxBytesPerSource: -1 }, 'deferredMaxBytesPerSource', 'got -1'],
      [{ quarantineMaxPerSource: -1 }, 'quarantineMaxPerSource', 'got -1'],
      [{ quarantineMaxPerSource: '5' as unknown as number }, 'quarantineMaxPerSource', 'got "5"'],
    ];
    for (const [options, field, got] of bad) {
      const dir = `${tempDir(t)}/not-created`;
      await assert.rejects(Replica.open({ ...options, dataDir: dir, clock: new ManualClock(T0) }), (err: Error & { code?: string; details?: Record<string, unknown> }) => {
        assert.equal(err.code, 'HAMSYNC_ERR_CONFIG');
        assert.equal(err.details?.field, field);
        assert.match(err.message, new RegExp(`${field}.*${got.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        return true;
      });
      assert.throws(() => openStore(dir, { readOnly: true }), /no hamsync data/, `${field}: nothing was created`);
    }
  });
});

describe('the horizon', () => {
  test('exactly maxFuture ahead is deferred, anything beyond is quarantined', async (t) => {
    const clock = new ManualClock(T0);
    const { r } = await open(t, clock, { maxFutureMs: 1000 });
    const rc = r.receive([upd('a', T0 + 1000, 'at'), upd('b', T0 + 1000 + 1 / 1024, 'just beyond'), upd('c', T0 + 5 * DAY, 'far'), upd('d', T0, 'now')]);
    assert.deepEqual(
      rc.results.map((x) => x.decision),
      ['defer', 'quarantine', 'quarantine', 'apply'],
    );
    await rc.durable;
    assert.deepEqual(
      r.deferred().map((e) => e.key),
      ['a'],
    );
    assert.deepEqual(
      r.quarantined().map((e) => [e.key, e.state, e.source, e.received]),
      [
        ['b', T0 + 1000 + 1 / 1024, 'dev1', T0],
        ['c', T0 + 5 * DAY, 'dev1', T0],
      ],
    );
    assert.deepEqual(r.queues().totals, { deferred: 1, quarantined: 2 });
    assert.equal(r.counters.get('quarantine.added'), 2);
    // The horizon moves with the clock: the same far state, sent again later, is merely deferred.
    clock.advance(5 * DAY);
    assert.deepEqual(r.receive([upd('c2', T0 + 5 * DAY + 1000, 'x')]).results, [{ decision: 'defer', duplicate: false }]);
  });

  test('quarantined updates never become live on their own, not even across a restart', async (t) => {
    const clock = new ManualClock(T0);
    const dir = tempDir(t);
    let r = await Replica.open({ dataDir: dir, clock, maxFutureMs: 1000 });
    await r.receive([upd('k', T0 + 2000, 'from the future'), upd('k', T0, 'now')]).durable;
    // A resend is recognised as the same update: no second row.
    assert.deepEqual(r.receive([upd('k', T0 + 2000, 'from the future')]).results, [{ decision: 'quarantine', duplicate: true }]);
    clock.advance(10_000);
    await r.idle();
    assert.equal(r.get('k')?.value, 'now');
    await r.close();
    r = await Replica.open({ dataDir: dir, clock, maxFutureMs: 1000 });
    t.after(() => r.close());
    clock.advance(10_000);
    await r.idle();
    assert.equal(r.get('k')?.value, 'now', 'still the old value');
    assert.deepEqual(
      r.quarantined().map((e) => e.value),
      ['from the future'],
    );
    assert.equal(
      r.history('k').some((h) => h.value === 'from the future'),
      false,
    );
    assert.equal(r.quarantined().length, 1);
  });
});

describe('caps', () => {
  test('by count: over the cap the whole batch is refused and nothing of it is written; other sources are unaffected', async (t) => {
    const clock = new ManualClock(T0);
    const { r } = await open(t, clock, { deferredMaxPerSource: 3 });
    await r.receive([upd('d/1', T0 + 10, 1), upd('d/2', T0 + 20, 2), upd('d/3', T0 + 30, 3)]).durable;
    const before = r.queues();
    const err = expectHamsyncError(() => r.receive([upd('now/1', T0, 'due'), upd('d/4', T0 + 40, 4)]), 'HAMSYNC_ERR_DEFERRED_FULL', 'fourth deferred');
    assert.match(err.message, /source dev1 has 3 deferred updates .* would add 1 .* cap is 3 updates/);
    await r.flushed();
    assert.equal(r.get('now/1'), undefined, 'the due update of the refused batch was not applied');
    assert.deepEqual(r.history('now/1'), []);
    assert.deepEqual(r.queues(), before);
    assert.equal(r.counters.get('refused.HAMSYNC_ERR_DEFERRED_FULL'), 1);
    // A flood is refused after the first update that does not fit (no lookup for the rest).
    const flood = expectHamsyncError(() => r.receive([5, 6, 7].map((i) => upd(`d/${i}`, T0 + 10 * i, i))), 'HAMSYNC_ERR_DEFERRED_FULL', 'three more');
    assert.match(flood.message, /would add at least 1 /);
    // Exact copies of what already waits need no room.
    assert.deepEqual(r.receive([upd('d/3', T0 + 30, 3), upd('now/2', T0, 'ok')]).results, [
      { decision: 'defer', duplicate: true },
      { decision: 'apply', duplicate: false },
    ]);
    // Another source has its own cap.
    await r.receive([upd('o/1', T0 + 10, 1, 'dev2'), upd('o/2', T0 + 10, 2, 'dev2'), upd('o/3', T0 + 10, 3, 'dev2')]).durable;
    // The queue drains as the clock moves: room again.
    clock.advance(15);
    await until(() => r.queues().sources.dev1?.deferred === 2, { what: 'd/1 promoted', intervalMs: 5 });
    r.receive([upd('d/4', T0 + 40, 4)]);
    await assertExact(r, 'after promotion');
    assert.equal(r.queues().sources.dev1?.deferred, 3);
    assert.equal(r.queues().sources.dev2, undefined, 'dev2 drained too (sources with nothing waiting are left out)');
  });

  test('by bytes: key + canonical value text in UTF-8, exactly at the cap is allowed', async (t) => {
    const clock = new ManualClock(T0);
    // "k/é" is 4 bytes, '"ü"' is 4 bytes: 8 per update.
    const { r } = await open(t, clock, { deferredMaxBytesPerSource: 24 });
    await r.receive([upd('k/é', T0 + 1, 'ü'), upd('k/é', T0 + 2, 'ü'), upd('k/é', T0 + 3, 'ü')]).durable;
    assert.deepEqual(r.queues().sources.dev1, { deferred: 3, deferredBytes: 24, quarantined: 0, quarantinedBytes: 0 });
    const err = expectHamsyncError(() => r.receive([upd('k', T0 + 4, 0)]), 'HAMSYNC_ERR_DEFERRED_FULL', 'one byte over');
    assert.match(err.message, /\(24 bytes\).*would add 1 \(2 bytes\).*24 bytes per source/);
    await assertExact(r, 'bytes');
  });

  test('the quarantine is bounded too; 0 refuses every update beyond the horizon', async (t) => {
    const clock = new ManualClock(T0);
    const { r } = await open(t, clock, { maxFutureMs: 100, quarantineMaxPerSource: 2 });
    await r.receive([upd('q/1', T0 + DAY, 1), upd('q/2', T0 + DAY, 2)]).durable;
    const err = expectHamsyncError(() => r.receive([upd('ok', T0, 'due'), upd('dd', T0 + 50, 'deferred'), upd('q/3', T0 + DAY, 3)]), 'HAMSYNC_ERR_QUARANTINE_FULL', 'third');
    assert.match(err.message, /source dev1 has 2 quarantined updates .* would add 1; the cap is 2/);
    await r.flushed();
    assert.equal(r.get('ok'), undefined);
    assert.deepEqual(r.deferred(), []);
    assert.equal(r.quarantined().length, 2);
    const { r: none } = await open(t, clock, { maxFutureMs: 100, quarantineMaxPerSource: 0 });
    expectHamsyncError(() => none.receive([upd('q', T0 + 101, 1)]), 'HAMSYNC_ERR_QUARANTINE_FULL', 'quarantine off');
    assert.deepEqual(none.receive([upd('q', T0 + 100, 1)]).results, [{ decision: 'defer', duplicate: false }]);
  });

  test('admit reserves room until the admission is written or cancelled', async (t) => {
    const clock = new ManualClock(T0);
    const { r } = await open(t, clock, { deferredMaxPerSource: 5 });
    const batch = (from: number): ReturnType<typeof checkBatch> => checkBatch([0, 1, 2].map((i) => upd(`k/${from + i}`, T0 + 10 + from + i, i)), r.limits);
    const a = r.admit(batch(0));
    expectHamsyncError(() => r.admit(batch(10)), 'HAMSYNC_ERR_DEFERRED_FULL', 'reserved room counts');
    r.cancel(a);
    r.cancel(a);
    const b = r.admit(batch(10));
    const c = r.admit(checkBatch([upd('due', T0, 'x'), upd('k/99', T0 + 99, 'y')], r.limits));
    const rc = r.receiveAdmitted([b, c]);
    assert.equal(rc.results.length, 5);
    await rc.durable;
    assert.equal(r.queues().sources.dev1?.deferred, 4);
    assert.throws(() => r.receiveAdmitted([b]), /already written or cancelled/);
    // An admitted update that fell due before it was written is resolved, not deferred.
    const d = r.admit(checkBatch([upd('late', T0 + 500, 'z')], r.limits));
    clock.advance(1000);
    assert.deepEqual(r.receiveAdmitted([d]).results, [{ decision: 'apply', duplicate: false }]);
    await assertExact(r, 'after admissions');
  });
});

describe('release and drop', () => {
  async function seeded(t: TestContext, options: Partial<ReplicaOptions> = {}): Promise<{ r: Replica; clock: ManualClock; dir: string }> {
    const clock = new ManualClock(T0);
    const { r, dir } = await open(t, clock, { maxFutureMs: 1000, ...options });
    await r.receive([
      upd('pi-7/gps/lat', T0 + 5000, 1, 'pi-7'),
      upd('pi-7/gps/lon', T0 + 9000, 2, 'pi-7'),
      upd('pi-7/cpu/temp', T0 + 3 * DAY, 3, 'pi-7'),
      upd('sat-1/x', T0 + 2 * DAY, 4, 'sat-1'),
    ]).durable;
    return { r, clock, dir };
  }

  test('selectors: required for release and drop; all alone; bad filters and ids named', async (t) => {
    const { r } = await seeded(t);
    for (const sel of [{}, { sources: [] }, { keys: [] }, undefined, { all: false }]) {
      await expectRejects(r.releaseQuarantined(sel as never), 'HAMSYNC_ERR_CONFIG', `release ${JSON.stringify(sel)}`);
      await expectRejects(r.dropQuarantined(sel as never), 'HAMSYNC_ERR_CONFIG', `drop ${JSON.stringify(sel)}`);
    }
    await expectRejects(r.dropQuarantined({ all: true, sources: ['pi-7'] }), 'HAMSYNC_ERR_CONFIG', 'all + sources');
    await expectRejects(r.dropQuarantined({ keys: ['a/#/b'] }), 'HAMSYNC_ERR_CONFIG', 'bad filter');
    await expectRejects(r.dropQuarantined({ sources: ['not an id'] }), 'HAMSYNC_ERR_SOURCE', 'bad source');
    await expectRejects(r.dropQuarantined({ everything: true } as never), 'HAMSYNC_ERR_CONFIG', 'unknown field');
    assert.equal(r.quarantined().length, 4, 'nothing was touched');
    // Listing takes the same selectors, optionally.
    assert.deepEqual(
      r.quarantined({ keys: ['+/gps/#'] }).map((e) => e.key),
      ['pi-7/gps/lat', 'pi-7/gps/lon'],
    );
    assert.deepEqual(
      r.quarantined({ sources: ['sat-1'] }).map((e) => e.key),
      ['sat-1/x'],
    );
    assert.deepEqual(
      r.quarantined({ sources: ['pi-7'], keys: ['pi-7/cpu/#'] }).map((e) => e.key),
      ['pi-7/cpu/temp'],
    );
    assert.equal(r.quarantined(undefined, 2).length, 2);
  });

  test('release: due updates are resolved now, the others deferred (the horizon is bypassed); audited; counts exact', async (t) => {
    const { r, clock } = await seeded(t);
    clock.advance(6000); // lat (T0+5000) is due now, lon (T0+9000) is not
    const report = await r.releaseQuarantined({ keys: ['pi-7/gps/#'] });
    assert.deepEqual(report, { released: 2, resolved: 1, deferred: 1, duplicates: 0 });
    assert.equal(r.get('pi-7/gps/lat')?.value, 1);
    assert.deepEqual(
      r.history('pi-7/gps/lat').map((h) => [h.outcome, h.deferred, h.received]),
      [['applied', true, T0]],
    );
    assert.deepEqual(
      r.deferred().map((e) => e.key),
      ['pi-7/gps/lon'],
    );
    assert.deepEqual(
      r.quarantined().map((e) => e.key),
      ['pi-7/cpu/temp', 'sat-1/x'],
    );
    await assertExact(r, 'after release');
    clock.advance(3000);
    await until(() => r.get('pi-7/gps/lon')?.value === 2, { what: 'the released, deferred update applies when due', intervalMs: 5 });
    await assertExact(r, 'after promotion');
    assert.deepEqual(
      r.quarantineLogEntries().map((e) => [e.action, e.key, e.at]),
      [
        ['release', 'pi-7/gps/lon', T0 + 6000],
        ['release', 'pi-7/gps/lat', T0 + 6000],
      ],
    );
    assert.equal(r.counters.get('quarantine.released'), 2);
    assert.deepEqual(await r.releaseQuarantined({ sources: ['nobody'] }), { released: 0, resolved: 0, deferred: 0, duplicates: 0 });
  });

  test('release honours the per-source deferred cap: over it, nothing is released', async (t) => {
    const { r } = await seeded(t, { deferredMaxPerSource: 2 });
    await r.receive([upd('pi-7/d', T0 + 10, 'waiting', 'pi-7')]).durable;
    const before = r.quarantined();
    await expectRejects(r.releaseQuarantined({ sources: ['pi-7'] }), 'HAMSYNC_ERR_DEFERRED_FULL', 'three into one free slot');
    assert.deepEqual(r.quarantined(), before);
    assert.deepEqual(r.quarantineLogEntries(), []);
    assert.deepEqual(await r.releaseQuarantined({ keys: ['pi-7/cpu/temp'] }), { released: 1, resolved: 0, deferred: 1, duplicates: 0 });
    await assertExact(r, 'after a partial release');
  });

  test('drop deletes, is audited and counted; counts survive a restart', async (t) => {
    const { r, clock, dir } = await seeded(t);
    assert.deepEqual(await r.dropQuarantined({ sources: ['pi-7'], keys: ['pi-7/gps/+'] }), { dropped: 2 });
    assert.deepEqual(
      r.quarantined().map((e) => e.key),
      ['pi-7/cpu/temp', 'sat-1/x'],
    );
    assert.equal(r.counters.get('quarantine.dropped'), 2);
    const log = r.quarantineLogEntries();
    assert.deepEqual(
      log.map((e) => [e.action, e.key, e.value, e.state, e.source, e.received]),
      [
        ['drop', 'pi-7/gps/lon', 2, T0 + 9000, 'pi-7', T0],
        ['drop', 'pi-7/gps/lat', 1, T0 + 5000, 'pi-7', T0],
      ],
    );
    await r.receive([upd('x/d', T0 + 100, 'deferred', 'pi-7')]).durable;
    await assertExact(r, 'after drop');
    const counts = r.queues();
    await r.close();
    const again = await Replica.open({ dataDir: dir, clock, maxFutureMs: 1000 });
    try {
      assert.deepEqual(again.queues(), counts, 'rebuilt from LMDB at open');
      assert.equal(again.quarantineLogEntries().length, 2, 'the audit trail persists');
      assert.deepEqual(await again.dropQuarantined({ all: true }), { dropped: 2 });
      await assertExact(again, 'after drop all');
      assert.deepEqual(again.queues().sources, { 'pi-7': { deferred: 1, deferredBytes: 'x/d'.length + '"deferred"'.length, quarantined: 0, quarantinedBytes: 0 } });
    } finally {
      await again.close();
    }
  });
});

describe('store compatibility', () => {
  test('a data directory written before the quarantine existed opens, read-only and writable', async (t) => {
    const dir = tempDir(t);
    // The format-1 layout without the quarantine databases, as an older hamsync left it.
    const root = openLmdb({ path: dir, maxDbs: 8 });
    const deferred = root.openDB({ name: 'deferred' });
    const meta = root.openDB({ name: 'meta' });
    for (const n of ['live', 'history', 'history-by-key', 'outbox']) root.openDB({ name: n });
    await meta.put('format', 1);
    await deferred.put([T0 + 50, 'old/k', 1], { src: 'old', j: '"v"', rx: T0 });
    await root.close();
    const ro = openStore(dir, { readOnly: true });
    assert.equal(ro.quarantine, undefined);
    assert.equal(ro.deferred.getCount(), 1);
    await ro.root.close();
    const clock = new ManualClock(T0);
    const r = await Replica.open({ dataDir: dir, clock });
    try {
      assert.deepEqual(r.queues().sources, { old: { deferred: 1, deferredBytes: 8, quarantined: 0, quarantinedBytes: 0 } });
      assert.deepEqual(r.quarantined(), []);
      await r.receive([upd('far', T0 + 365 * DAY, 1, 'old')]).durable;
      assert.equal(r.quarantined().length, 1);
    } finally {
      await r.close();
    }
  });
});

describe('exact counts under a random workload', () => {
  test('receive, clock moves, release, drop and restarts: queues() always equals a recount', { timeout: 60_000 }, async (t) => {
    const seed = seedFromEnv(Date.now() % 1_000_000);
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const clock = new ManualClock(T0);
    const dir = tempDir(t);
    const options = { dataDir: dir, clock, maxFutureMs: 500, deferredMaxPerSource: 30, deferredMaxBytesPerSource: 600, quarantineMaxPerSource: 10 };
    let r = await Replica.open(options);
    const refused: Record<string, number> = {};
    try {
      for (let step = 0; step < 300; step++) {
        const what = rand();
        if (what < 0.6) {
          const n = 1 + Math.floor(rand() * 6);
          const batch = Array.from({ length: n }, () =>
            upd(`${pick(['a', 'b', 'c/é'])}/${Math.floor(rand() * 5)}`, clock.now() + Math.floor(rand() * 1200) - 200, pick([1, 'x', 'long value '.repeat(3), null]), pick(['s1', 's2', 's3'])),
          );
          try {
            r.receive(batch);
          } catch (err) {
            const code = (err as { code?: string }).code ?? String(err);
            assert.ok(code === 'HAMSYNC_ERR_DEFERRED_FULL' || code === 'HAMSYNC_ERR_QUARANTINE_FULL', `unexpected ${code}`);
            refused[code] = (refused[code] ?? 0) + 1;
          }
        } else if (what < 0.8) {
          clock.advance(Math.floor(rand() * 150));
        } else if (what < 0.87) {
          await r.releaseQuarantined(rand() < 0.5 ? { sources: [pick(['s1', 's2', 's3'])] } : { keys: [pick(['a/#', '+/1', 'c/é/#'])] }).catch((err: { code?: string }) => {
            assert.equal(err.code, 'HAMSYNC_ERR_DEFERRED_FULL');
          });
        } else if (what < 0.93) {
          await r.dropQuarantined({ keys: [pick(['a/#', 'b/+', '#'])] });
        } else {
          await r.close();
          r = await Replica.open(options);
        }
        if (step % 10 === 0) {
          await assertExact(r, `seed ${seed}, step ${step}`);
        }
        const s = r.queues().sources;
        for (const [src, q] of Object.entries(s)) {
          assert.ok(q.deferred <= 30 && q.deferredBytes <= 600 && q.quarantined <= 10, `seed ${seed}: ${src} within its caps: ${JSON.stringify(q)}`);
        }
      }
      await assertExact(r, `seed ${seed}, end`);
      assert.ok(Object.keys(refused).length > 0, `seed ${seed}: the workload reached a cap at least once`);
    } catch (err) {
      (err as Error).message += ` (HAMSYNC_SEED=${seed})`;
      throw err;
    } finally {
      await r.close();
    }
  });
});
