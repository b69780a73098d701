import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import {
  ManualClock,
  Replica,
  WallClock,
  isHamsyncError,
  type ChangeEvent,
  type Clock,
  type ErrorCode,
  type HistoryEntry,
  type Json,
  type Receipt,
  type ReplicaOptions,
  type Update,
} from '../../src/index.js';
// openStore is not re-exported by the package entry point; it is the store layer's own API.
import { openStore } from '../../src/store/open.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

// ---------------------------------------------------------------------------------------------
// Helpers

function upd(key: string, state: number, value: Json, source = 'dev1'): Update {
  return { key, state, value, source };
}

/** Compact view of history rows: [state, value, source, outcome, deferred]. */
function rows(r: Replica, key: string): [number, Json, string, string, boolean][] {
  return r.history(key).map((h: HistoryEntry) => [h.state, h.value, h.source, h.outcome, h.deferred]);
}

/** The documented fields of a change event (other fields may be added by src). */
function ev(c: ChangeEvent | undefined): Pick<ChangeEvent, 'key' | 'value' | 'state' | 'source' | 'deferred'> | undefined {
  return c && { key: c.key, value: c.value, state: c.state, source: c.source, deferred: c.deferred };
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isHamsyncError(err), `expected a HamsyncError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

async function expectCodeAsync(fn: () => Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(isHamsyncError(err), `expected a HamsyncError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return true;
  });
}

interface Harness {
  r: Replica;
  dir: string;
  changes: ChangeEvent[];
}

/**
 * Opens a replica in a fresh temp dir; it is closed and its dir removed when the test ends.
 * Every change event is recorded in `changes`.
 */
async function openReplica(t: TestContext, clock: Clock, options: Partial<ReplicaOptions> = {}, dir = tempDir()): Promise<Harness> {
  const r = await Replica.open({ ...options, dataDir: dir, clock });
  const changes: ChangeEvent[] = [];
  r.on('change', (c) => changes.push(c));
  t.after(async () => {
    await r.close();
    removeDir(dir);
  });
  return { r, dir, changes };
}

/** A clock over a ManualClock (`inner`, which tests move); subclasses decide how timers run. */
abstract class OverManual implements Clock {
  readonly inner: ManualClock;

  constructor(start: number) {
    this.inner = new ManualClock(start);
  }

  now(): number {
    return this.inner.now();
  }

  stamp(): number {
    return this.inner.stamp();
  }

  abstract schedule(state: number, fn: () => void): () => void;
}

/** A ManualClock that counts the timers it holds (scheduled, neither run nor cancelled) and the callbacks it ran. */
class CountingClock extends OverManual {
  armed = 0;
  ran = 0;

  schedule(state: number, fn: () => void): () => void {
    let live = true;
    const end = (): void => {
      if (live) this.armed--;
      live = false;
    };
    this.armed++;
    const cancel = this.inner.schedule(state, () => {
      end();
      this.ran++;
      fn();
    });
    return () => {
      end();
      cancel();
    };
  }
}

/**
 * A clock over ManualClock whose timer callbacks can be held back: models the real window in
 * which the wall clock has passed a deferred state but the replica's timer has not fired yet.
 */
class GatedClock extends OverManual {
  private gated = true;
  private held: (() => void)[] = [];

  schedule(state: number, fn: () => void): () => void {
    let cancelled = false;
    const run = (): void => {
      if (!cancelled) fn();
    };
    const cancelInner = this.inner.schedule(state, () => {
      if (this.gated) this.held.push(run);
      else run();
    });
    return () => {
      cancelled = true;
      cancelInner();
    };
  }

  /** Lets the held timer callbacks (and any later ones) run. */
  release(): void {
    this.gated = false;
    const held = this.held;
    this.held = [];
    for (const fn of held) fn();
  }
}

// ---------------------------------------------------------------------------------------------

describe('HAM outcomes in history', () => {
  test('applied, historical, tie-lost and same are each recorded', async (t) => {
    const { r } = await openReplica(t, new ManualClock(1000));
    let rc = r.receive([upd('k', 10, 'b')]);
    assert.deepEqual(rc.results, [{ decision: 'apply', duplicate: false }]);
    await rc.committed;
    rc = r.receive([upd('k', 5, 'old', 'dev2')]);
    assert.deepEqual(rc.results, [{ decision: 'historical', duplicate: false }]);
    rc = r.receive([upd('k', 10, 'a', 'dev3')]);
    assert.deepEqual(rc.results, [{ decision: 'historical', duplicate: false }], '"a" < "b": the tie is lost');
    rc = r.receive([upd('k', 10, 'b', 'dev0')]);
    assert.deepEqual(rc.results, [{ decision: 'same', duplicate: false }]);
    await rc.committed;
    assert.deepEqual(rows(r, 'k'), [
      [5, 'old', 'dev2', 'historical', false],
      [10, 'b', 'dev1', 'applied', false],
      [10, 'a', 'dev3', 'tie-lost', false],
      [10, 'b', 'dev0', 'same', false],
    ]);
    assert.deepEqual(r.get('k'), { key: 'k', value: 'b', state: 10, source: 'dev1' });
    for (const h of r.history('k')) assert.equal(h.received, 1000);
  });

  for (const order of ['Earth first', 'Mars first'] as const) {
    test(`Earth/Mars tie in separate batches (${order}) ends on "Hello Mars"`, async (t) => {
      const { r } = await openReplica(t, new ManualClock(100));
      const earth = upd('greeting', 7, 'Hello Earth', 'earth');
      const mars = upd('greeting', 7, 'Hello Mars', 'mars');
      const [first, second] = order === 'Earth first' ? [earth, mars] : [mars, earth];
      const a = r.receive([first]);
      await a.committed;
      const b = r.receive([second]);
      await b.committed;
      assert.deepEqual(a.results[0], { decision: 'apply', duplicate: false });
      assert.deepEqual(b.results[0], { decision: order === 'Earth first' ? 'apply' : 'historical', duplicate: false });
      assert.deepEqual(r.get('greeting'), { key: 'greeting', value: 'Hello Mars', state: 7, source: 'mars' });
      const hist = r.history('greeting');
      const earthRow = hist.find((h) => h.value === 'Hello Earth');
      assert.ok(earthRow, 'Hello Earth is in history');
      assert.equal(earthRow.outcome, order === 'Earth first' ? 'applied' : 'tie-lost');
      assert.equal(hist.find((h) => h.value === 'Hello Mars')?.outcome, 'applied');
      assert.equal(hist.length, 2);
    });

    test(`Earth/Mars tie in one batch (${order}) ends on "Hello Mars"`, async (t) => {
      const { r, changes } = await openReplica(t, new ManualClock(100));
      const earth = upd('greeting', 7, 'Hello Earth', 'earth');
      const mars = upd('greeting', 7, 'Hello Mars', 'mars');
      const batch = order === 'Earth first' ? [earth, mars] : [mars, earth];
      const rc = r.receive(batch);
      await rc.committed;
      assert.deepEqual(
        rc.results.map((x) => x.decision),
        order === 'Earth first' ? ['apply', 'apply'] : ['apply', 'historical'],
      );
      assert.deepEqual(r.get('greeting')?.value, 'Hello Mars');
      assert.deepEqual(
        r.history('greeting').map((h) => [h.value, h.outcome]),
        order === 'Earth first' ? [['Hello Earth', 'applied'], ['Hello Mars', 'applied']] : [['Hello Mars', 'applied'], ['Hello Earth', 'tie-lost']],
      );
      assert.deepEqual(changes.map((c) => c.value), ['Hello Mars'], 'only the key\'s last change in the batch is announced');
    });
  }

  test('equal value from a different source is "same" with its own history row', async (t) => {
    const { r, changes } = await openReplica(t, new ManualClock(100));
    await r.receive([upd('k', 5, { v: 1 }, 'dev2')]).committed;
    const rc = r.receive([upd('k', 5, { v: 1 }, 'dev1')]);
    assert.deepEqual(rc.results, [{ decision: 'same', duplicate: false }]);
    await rc.committed;
    assert.deepEqual(rows(r, 'k'), [
      [5, { v: 1 }, 'dev2', 'applied', false],
      [5, { v: 1 }, 'dev1', 'same', false],
    ]);
    // The lexically greatest source is credited, whatever the order (so replicas agree).
    assert.deepEqual(r.get('k'), { key: 'k', value: { v: 1 }, state: 5, source: 'dev2' });
    const rc2 = r.receive([upd('k', 5, { v: 1 }, 'dev3')]);
    assert.deepEqual(rc2.results, [{ decision: 'same', duplicate: false }]);
    await rc2.committed;
    assert.equal(r.get('k')?.source, 'dev3');
    assert.equal(r.history('k').length, 3);
    // The value never changed; the credited source did (dev3), and that is announced (the hub's state topic follows it).
    assert.deepEqual(changes.filter((c) => c.key === 'k').map((c) => c.source), ['dev2', 'dev3'], 'a "same" is announced only when it changes the credited source');
  });

  test('change events fire after commit, one per key per batch (the last), with deferred=false', async (t) => {
    const { r } = await openReplica(t, new ManualClock(100));
    const seen: { c: ChangeEvent; committedRows: number }[] = [];
    r.on('change', (c) => seen.push({ c, committedRows: r.history(c.key).length }));
    const rc = r.receive([upd('x', 1, 'x1'), upd('y', 1, 'y1'), upd('x', 3, 'x3'), upd('x', 2, 'x2'), upd('y', 0.5, 'y0')]);
    assert.equal(seen.length, 0, 'nothing is announced before commit');
    await rc.committed;
    const byKey = [...seen].sort((a, b) => a.c.key.localeCompare(b.c.key));
    assert.deepEqual(
      byKey.map(({ c }) => ev(c)),
      [
        { key: 'x', value: 'x3', state: 3, source: 'dev1', deferred: false },
        { key: 'y', value: 'y1', state: 1, source: 'dev1', deferred: false },
      ],
    );
    assert.deepEqual(byKey.map((s) => s.committedRows), [3, 2], 'history is readable (committed) when the event fires');
    const quiet = r.receive([upd('x', 1, 'x1'), upd('y', 0.5, 'older')]);
    await quiet.committed;
    assert.equal(seen.length, 2, 'historical and duplicate updates announce nothing');
  });
});

describe('write-through (uncommitted writes are seen by the next resolution)', () => {
  test('one batch, newer then older', async (t) => {
    const { r, changes } = await openReplica(t, new ManualClock(100));
    const rc = r.receive([upd('k', 2, 'new'), upd('k', 1, 'old')]);
    assert.deepEqual(rc.results, [{ decision: 'apply', duplicate: false }, { decision: 'historical', duplicate: false }]);
    assert.equal(r.get('k')?.value, 'new', 'get() sees the uncommitted write');
    await rc.committed;
    assert.deepEqual(r.get('k'), { key: 'k', value: 'new', state: 2, source: 'dev1' });
    assert.deepEqual(rows(r, 'k'), [[1, 'old', 'dev1', 'historical', false], [2, 'new', 'dev1', 'applied', false]]);
    assert.deepEqual(changes.map((c) => c.value), ['new']);
  });

  test('one batch, older then newer', async (t) => {
    const { r, changes } = await openReplica(t, new ManualClock(100));
    const rc = r.receive([upd('k', 1, 'old'), upd('k', 2, 'new')]);
    assert.deepEqual(rc.results, [{ decision: 'apply', duplicate: false }, { decision: 'apply', duplicate: false }]);
    await rc.committed;
    assert.deepEqual(r.get('k'), { key: 'k', value: 'new', state: 2, source: 'dev1' });
    assert.deepEqual(rows(r, 'k'), [[1, 'old', 'dev1', 'applied', false], [2, 'new', 'dev1', 'applied', false]]);
    assert.deepEqual(changes.map((c) => c.value), ['new']);
  });

  test('back-to-back batches not awaited, newer then older', async (t) => {
    const { r, changes } = await openReplica(t, new ManualClock(100));
    const a = r.receive([upd('k', 2, 'new')]);
    const b = r.receive([upd('k', 1, 'old')]);
    assert.deepEqual(a.results, [{ decision: 'apply', duplicate: false }]);
    assert.deepEqual(b.results, [{ decision: 'historical', duplicate: false }]);
    await Promise.all([a.committed, b.committed]);
    assert.deepEqual(r.get('k'), { key: 'k', value: 'new', state: 2, source: 'dev1' });
    assert.deepEqual([...r.live()], [{ key: 'k', value: 'new', state: 2, source: 'dev1' }]);
    assert.deepEqual(rows(r, 'k'), [[1, 'old', 'dev1', 'historical', false], [2, 'new', 'dev1', 'applied', false]]);
    assert.deepEqual(changes.map((c) => c.value), ['new']);
  });

  test('back-to-back batches not awaited, older then newer', async (t) => {
    const { r, changes } = await openReplica(t, new ManualClock(100));
    const a = r.receive([upd('k', 1, 'old')]);
    const b = r.receive([upd('k', 2, 'new')]);
    assert.deepEqual(a.results, [{ decision: 'apply', duplicate: false }]);
    assert.deepEqual(b.results, [{ decision: 'apply', duplicate: false }]);
    await Promise.all([a.committed, b.committed]);
    assert.deepEqual(r.get('k'), { key: 'k', value: 'new', state: 2, source: 'dev1' });
    assert.deepEqual([...r.live()], [{ key: 'k', value: 'new', state: 2, source: 'dev1' }]);
    assert.deepEqual(rows(r, 'k'), [[1, 'old', 'dev1', 'applied', false], [2, 'new', 'dev1', 'applied', false]]);
    assert.deepEqual(changes.map((c) => c.value), ['old', 'new'], 'each batch announces its own change, in order');
  });

  test('back-to-back ties and "same" resolve against the uncommitted winner', async (t) => {
    const { r } = await openReplica(t, new ManualClock(100));
    const receipts: Receipt[] = [
      r.receive([upd('k', 5, 'Hello Earth', 'earth')]),
      r.receive([upd('k', 5, 'Hello Mars', 'mars')]),
      r.receive([upd('k', 5, 'Hello Earth', 'earth2')]),
      r.receive([upd('k', 5, 'Hello Mars', 'mars2')]),
      r.receive([upd('k', 4, 'older', 'dev1')]),
    ];
    assert.deepEqual(receipts.map((x) => x.results[0]?.decision), ['apply', 'apply', 'historical', 'same', 'historical']);
    await Promise.all(receipts.map((x) => x.committed));
    assert.deepEqual(r.get('k'), { key: 'k', value: 'Hello Mars', state: 5, source: 'mars2' });
    assert.deepEqual(
      r.history('k').map((h) => [h.state, h.source, h.outcome]),
      [[4, 'dev1', 'historical'], [5, 'earth', 'applied'], [5, 'mars', 'applied'], [5, 'earth2', 'tie-lost'], [5, 'mars2', 'same']],
    );
  });

  test('many back-to-back batches over a few keys end on the greatest state of each key', async (t) => {
    const { r } = await openReplica(t, new ManualClock(1000));
    const receipts: Receipt[] = [];
    const states = [5, 9, 1, 7, 3, 8, 2, 6, 4, 0];
    for (const s of states) receipts.push(r.receive([upd('p', s + 1, `p${s + 1}`), upd('q', 10 - s, `q${10 - s}`)]));
    await Promise.all(receipts.map((x) => x.committed));
    assert.deepEqual([...r.live()], [
      { key: 'p', value: 'p10', state: 10, source: 'dev1' },
      { key: 'q', value: 'q10', state: 10, source: 'dev1' },
    ]);
    const applied = r.history('p').filter((h) => h.outcome === 'applied').map((h) => h.state);
    assert.deepEqual(applied, [6, 10], 'only 6 then 10 were ever applied for p');
    assert.equal(r.history('p').length, 10);
  });
});

describe('exact duplicates add no history row', () => {
  test('in the same batch', async (t) => {
    const { r } = await openReplica(t, new ManualClock(100));
    const rc = r.receive([upd('k', 5, 'v'), upd('k', 5, 'v')]);
    assert.deepEqual(rc.results, [{ decision: 'apply', duplicate: false }, { decision: 'same', duplicate: true }]);
    await rc.committed;
    assert.deepEqual(rows(r, 'k'), [[5, 'v', 'dev1', 'applied', false]]);
  });

  test('in a later batch (awaited), back-to-back (not awaited), and with object keys reordered', async (t) => {
    const { r } = await openReplica(t, new ManualClock(100));
    const first = r.receive([upd('k', 5, { a: 1, b: [1, { c: 2, d: 3 }] })]);
    const b2b = r.receive([upd('k', 5, { b: [1, { d: 3, c: 2 }], a: 1 })]);
    assert.deepEqual(b2b.results, [{ decision: 'same', duplicate: true }]);
    await Promise.all([first.committed, b2b.committed]);
    const later = r.receive([upd('k', 5, { a: 1, b: [1, { c: 2, d: 3 }] })]);
    assert.deepEqual(later.results, [{ decision: 'same', duplicate: true }]);
    await later.committed;
    assert.equal(r.history('k').length, 1);
  });

  test('of a historical and of a tie-lost update', async (t) => {
    const { r } = await openReplica(t, new ManualClock(100));
    await r.receive([upd('k', 1, 'old'), upd('k', 5, 'b'), upd('k', 5, 'a')]).committed;
    const rc = r.receive([upd('k', 1, 'old'), upd('k', 5, 'a'), upd('k', 5, 'b')]);
    assert.deepEqual(rc.results, [
      { decision: 'historical', duplicate: true },
      { decision: 'historical', duplicate: true },
      { decision: 'same', duplicate: true },
    ]);
    await rc.committed;
    assert.equal(r.history('k').length, 3);
  });

  test('a different source, state or value is not a duplicate', async (t) => {
    const { r } = await openReplica(t, new ManualClock(100));
    await r.receive([upd('k', 5, 'v')]).committed;
    const rc = r.receive([upd('k', 5, 'v', 'dev2'), upd('k', 4, 'v'), upd('k', 5, 'w'), upd('k2', 5, 'v')]);
    assert.ok(rc.results.every((x) => !x.duplicate));
    await rc.committed;
    assert.equal(r.history('k').length, 4);
    assert.equal(r.history('k2').length, 1);
  });

  test('of a deferred update while it is deferred (same batch, back-to-back, later batch)', async (t) => {
    const clock = new ManualClock(100);
    const { r, changes } = await openReplica(t, clock);
    const f = upd('k', 500, 'future');
    const a = r.receive([f, { ...f }]);
    const b = r.receive([{ ...f }]);
    assert.deepEqual(a.results, [{ decision: 'defer', duplicate: false }, { decision: 'defer', duplicate: true }]);
    assert.deepEqual(b.results, [{ decision: 'defer', duplicate: true }]);
    await Promise.all([a.committed, b.committed]);
    const c = r.receive([{ ...f }]);
    assert.deepEqual(c.results, [{ decision: 'defer', duplicate: true }]);
    await c.committed;
    assert.equal(r.deferred().length, 1);
    clock.set(500);
    await until(() => changes.length > 0, { what: 'the deferred update is promoted', intervalMs: 5 });
    assert.deepEqual(rows(r, 'k'), [[500, 'future', 'dev1', 'applied', true]]);
    assert.deepEqual(r.deferred(), []);
  });

  test('arriving after a deferred update was promoted', async (t) => {
    const clock = new ManualClock(100);
    const { r, changes } = await openReplica(t, clock);
    await r.receive([upd('k', 500, 'future')]).committed;
    clock.set(600);
    await until(() => changes.length === 1, { what: 'promotion', intervalMs: 5 });
    const rc = r.receive([upd('k', 500, 'future')]);
    assert.deepEqual(rc.results, [{ decision: 'same', duplicate: true }]);
    await rc.committed;
    assert.deepEqual(rows(r, 'k'), [[500, 'future', 'dev1', 'applied', true]]);
    assert.deepEqual(r.deferred(), []);
    assert.equal(changes.length, 1);
  });

  test('arriving directly after the clock passed a deferred state but before the timer fired', async (t) => {
    const clock = new GatedClock(100);
    const { r, changes } = await openReplica(t, clock);
    await r.receive([upd('k', 500, 'future')]).committed;
    clock.inner.set(600); // the timer is due but held back
    const direct = r.receive([upd('k', 500, 'future')]);
    assert.deepEqual(direct.results, [{ decision: 'apply', duplicate: false }]);
    await direct.committed;
    clock.release();
    await until(() => r.deferred().length === 0, { what: 'the deferred row is resolved', intervalMs: 5 });
    await r.idle(); // and anything that promotion set off
    assert.deepEqual(rows(r, 'k'), [[500, 'future', 'dev1', 'applied', false]], 'one row: the promoted copy is a duplicate');
    assert.equal(changes.length, 1);
  });
});

describe('deferred updates', () => {
  test('a future update waits, is listed, and is applied when the clock reaches its state', async (t) => {
    const clock = new ManualClock(1000);
    const { r, changes } = await openReplica(t, clock);
    await r.receive([upd('k', 900, 'now')]).committed;
    const rc = r.receive([upd('k', 1500, 'future', 'dev2'), upd('other', 1200, 'o', 'dev2')]);
    assert.deepEqual(rc.results.map((x) => x.decision), ['defer', 'defer']);
    await rc.committed;
    assert.deepEqual(r.get('k'), { key: 'k', value: 'now', state: 900, source: 'dev1' });
    assert.equal(r.get('other'), undefined);
    assert.deepEqual(r.deferred(), [
      { key: 'other', value: 'o', state: 1200, source: 'dev2', received: 1000 },
      { key: 'k', value: 'future', state: 1500, source: 'dev2', received: 1000 },
    ]);
    assert.deepEqual(r.deferred(1).map((d) => d.key), ['other']);
    assert.equal(r.history('k').length, 1);
    assert.equal(changes.length, 1);

    clock.set(1200);
    await until(() => r.get('other') !== undefined && changes.length === 2, { what: 'promotion of "other"', intervalMs: 5 });
    assert.deepEqual(r.get('k')?.value, 'now', 'k is not due yet');
    clock.set(1499); // a ManualClock runs due timers now: a promotion would be running
    await r.idle();
    assert.equal(r.get('k')?.value, 'now', 'still not due one ms before');
    assert.equal(r.deferred().length, 1);

    const events: ChangeEvent[] = [];
    r.on('change', (c) => events.push(c));
    const at: number[] = [];
    r.on('change', () => at.push(clock.now()));
    clock.set(1500);
    await until(() => events.length === 1, { what: 'promotion of "k"', intervalMs: 5 });
    assert.deepEqual(ev(events[0]), { key: 'k', value: 'future', state: 1500, source: 'dev2', deferred: true });
    assert.ok((at[0] ?? -Infinity) >= 1500);
    assert.deepEqual(r.get('k'), { key: 'k', value: 'future', state: 1500, source: 'dev2' });
    assert.deepEqual(r.deferred(), []);
    const promoted = r.history('k').at(-1);
    assert.deepEqual(promoted, { key: 'k', value: 'future', state: 1500, source: 'dev2', outcome: 'applied', deferred: true, received: 1000 });
  });

  test('several due at once are resolved in state order (older first) in one go', async (t) => {
    const clock = new ManualClock(0);
    const { r, changes } = await openReplica(t, clock);
    await r.receive([upd('k', 30, 'c'), upd('k', 10, 'a'), upd('k', 20, 'b'), upd('j', 15, 'j')]).committed;
    clock.set(100);
    await until(() => r.deferred().length === 0 && changes.length === 2, { what: 'promotion', intervalMs: 5 });
    assert.deepEqual(rows(r, 'k'), [
      [10, 'a', 'dev1', 'applied', true],
      [20, 'b', 'dev1', 'applied', true],
      [30, 'c', 'dev1', 'applied', true],
    ]);
    const announced = changes.map((c) => [c.key, c.value, c.deferred]).sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    assert.deepEqual(announced, [['j', 'j', true], ['k', 'c', true]], 'one event per key: the last promoted value');
    assert.equal(r.get('k')?.value, 'c');
  });

  test('persists across close/reopen and is promoted at start-up once due', async (t) => {
    const dir = tempDir(t);
    let r = await Replica.open({ dataDir: dir, clock: new ManualClock(1000) });
    const rc = r.receive([upd('k', 5000, 'future'), upd('later', 9000, 'much later')]);
    await rc.durable;
    await r.close();

    r = await Replica.open({ dataDir: dir, clock: new ManualClock(2000) });
    assert.deepEqual(r.deferred().map((d) => [d.key, d.state, d.received]), [['k', 5000, 1000], ['later', 9000, 1000]]);
    assert.equal(r.get('k'), undefined);
    await r.close();

    const clock = new ManualClock(6000);
    r = await Replica.open({ dataDir: dir, clock });
    try {
      assert.deepEqual(r.get('k'), { key: 'k', value: 'future', state: 5000, source: 'dev1' });
      assert.deepEqual(rows(r, 'k'), [[5000, 'future', 'dev1', 'applied', true]]);
      assert.deepEqual(r.deferred().map((d) => d.key), ['later'], 'what is not due stays deferred');
      // The timer is armed at start-up for what is left.
      const changes: ChangeEvent[] = [];
      r.on('change', (c) => changes.push(c));
      clock.set(9000);
      await until(() => changes.length === 1, { what: 'promotion of "later" after reopen', intervalMs: 5 });
      assert.deepEqual(ev(changes[0]), { key: 'later', value: 'much later', state: 9000, source: 'dev1', deferred: true });
      assert.deepEqual(r.deferred(), []);
    } finally {
      await r.close();
    }
  });

  test('a deferred update that falls due but loses to a newer live value goes to history as historical', async (t) => {
    const clock = new GatedClock(100);
    const { r, changes } = await openReplica(t, clock);
    await r.receive([upd('k', 500, 'deferred old', 'dev2'), upd('t', 500, 'Hello Earth', 'earth')]).committed;
    clock.inner.set(700); // due, but the timer has not fired yet (as on a wall clock)
    const direct = r.receive([upd('k', 600, 'newer', 'dev1'), upd('t', 500, 'Hello Mars', 'mars')]);
    assert.deepEqual(direct.results.map((x) => x.decision), ['apply', 'apply']);
    await direct.committed;
    clock.release();
    await until(() => r.deferred().length === 0, { what: 'the deferred rows are resolved', intervalMs: 5 });
    await r.idle(); // and anything that promotion set off
    assert.deepEqual(r.get('k'), { key: 'k', value: 'newer', state: 600, source: 'dev1' });
    assert.deepEqual(rows(r, 'k'), [
      [500, 'deferred old', 'dev2', 'historical', true],
      [600, 'newer', 'dev1', 'applied', false],
    ]);
    assert.deepEqual(r.get('t')?.value, 'Hello Mars');
    assert.deepEqual(rows(r, 't'), [
      [500, 'Hello Mars', 'mars', 'applied', false],
      [500, 'Hello Earth', 'earth', 'tie-lost', true],
    ]);
    assert.ok(changes.every((c) => !c.deferred), 'a deferred update that lost announces nothing');
  });

  test('2500 deferred updates (more than the promote chunk of 1000) all promote', async (t) => {
    const clock = new ManualClock(0);
    const { r, changes } = await openReplica(t, clock);
    const n = 2500;
    const batch: Update[] = [];
    for (let i = 0; i < n; i++) batch.push(upd(`dev/${i % 50}/m${i}`, 100 + (i % 37), i));
    const rc = r.receive(batch);
    assert.ok(rc.results.every((x) => x.decision === 'defer' && !x.duplicate));
    await rc.committed;
    assert.equal(r.deferred().length, n);
    clock.set(200);
    await until(() => r.deferred().length === 0 && changes.length === n, { what: `${n} promotions`, timeoutMs: 10_000, intervalMs: 5 });
    assert.ok(changes.every((c) => c.deferred));
    assert.equal([...r.live('dev/')].length, n);
    for (const i of [0, 999, 1000, 1001, 2499]) {
      const key = `dev/${i % 50}/m${i}`;
      assert.deepEqual(r.get(key), { key, value: i, state: 100 + (i % 37), source: 'dev1' });
      assert.deepEqual(rows(r, key), [[100 + (i % 37), i, 'dev1', 'applied', true]]);
    }
  });

  test('a small promoteChunk also promotes everything, across many chunks', async (t) => {
    const clock = new ManualClock(0);
    const { r, changes } = await openReplica(t, clock, { promoteChunk: 7 });
    const batch: Update[] = [];
    for (let i = 0; i < 100; i++) batch.push(upd(`k${i}`, 10 + (i % 5), i));
    await r.receive(batch).committed;
    clock.set(50);
    await until(() => r.deferred().length === 0 && changes.length === 100, { what: '100 promotions', intervalMs: 5 });
  });

  // Regression: DeferredTimer reads committed rows only. If the clock reached a deferred state
  // before the batch that deferred it had committed, the timer fired, found nothing and was never
  // re-armed: the update stayed deferred until a restart (fixed in 0d7a479).
  test('a deferred update whose state is reached before its batch committed is still promoted', async (t) => {
    const clock = new ManualClock(0);
    const { r, changes } = await openReplica(t, clock);
    const rc = r.receive([upd('k', 100, 'future')]);
    assert.deepEqual(rc.results, [{ decision: 'defer', duplicate: false }]);
    clock.set(100); // the deferral is not committed yet
    await rc.committed;
    await until(() => changes.length === 1, { what: 'promotion of an update deferred just before its state was reached', intervalMs: 5 });
    assert.deepEqual(r.get('k')?.value, 'future');
    assert.deepEqual(r.deferred(), []);
  });

  // Regression (production clock): a device whose clock is a millisecond ahead sends updates
  // deferred by < 1 ms. WallClock's timer (setTimeout ~1 ms) used to fire before LMDB had
  // committed the deferred row, find nothing, and never re-arm: the update was stranded until a
  // restart (or until a later deferred update happened to re-arm the timer). Each update must be
  // promoted on its own, before the next one is sent; README promises a re-check at least every second.
  test('with the wall clock, updates a millisecond in the future are promoted, not stranded', async (t) => {
    const { r } = await openReplica(t, new WallClock());
    for (let i = 0; i < 25; i++) {
      const key = `near/${i}`;
      await r.receive([upd(key, r.now() + 0.2 + (i % 5) * 0.2, i)]).committed;
      // get() also sees the uncommitted promotion; the deferred queue shows what is committed.
      await until(() => r.get(key) !== undefined && r.deferred().length === 0, { what: `${key} (under 1.1 ms in the future) promoted on its own`, timeoutMs: 1500, intervalMs: 5 });
    }
    assert.equal([...r.live('near/')].length, 25);
  });

  // Regression: when a promotion's commit landed, DeferredTimer.drain re-armed the clock timer at
  // the earliest *committed* deferred state, cancelling the earlier timer that `consider()` had
  // armed for a deferred update written meanwhile (not yet committed) (fixed in 0d7a479).
  test('an update deferred while a promotion is committing is promoted at its own state', async (t) => {
    const clock = new ManualClock(0);
    const { r, changes } = await openReplica(t, clock);
    await r.receive([upd('a', 100, 'a'), upd('c', 300, 'c')]).committed;
    let rc: Receipt | undefined;
    // React to the promotion of "a" by writing (as a daemon reacting to changes would).
    r.once('change', () => {
      rc = r.receive([upd('b', 200, 'b')]);
    });
    clock.set(100);
    await until(() => rc !== undefined, { what: 'promotion of "a"', intervalMs: 5 });
    await rc?.committed;
    assert.deepEqual(r.deferred().map((d) => d.key), ['b', 'c']);
    clock.set(200);
    await until(() => changes.some((c) => c.key === 'b'), { what: '"b" promoted when the clock reaches 200 (not only at 300)', intervalMs: 5 });
    assert.deepEqual(r.deferred().map((d) => d.key), ['c']);
  });
});

// Independent replicas each: run them concurrently (every open syncs to disk).
describe('validation: one bad update rejects the whole batch', { concurrency: true }, () => {
  const cases: [string, unknown, ErrorCode][] = [
    ['NaN state', { key: 'x', state: Number.NaN, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_STATE'],
    ['Infinity state', { key: 'x', state: Infinity, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_STATE'],
    ['string state', { key: 'x', state: '5', value: 1, source: 'dev1' }, 'HAMSYNC_ERR_STATE'],
    ['missing state', { key: 'x', value: 1, source: 'dev1' }, 'HAMSYNC_ERR_STATE'],
    ['key a//b', { key: 'a//b', state: 1, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_KEY'],
    ['key a/+/b', { key: 'a/+/b', state: 1, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_KEY'],
    ['key a/#', { key: 'a/#', state: 1, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_KEY'],
    ['key with a leading /', { key: '/a', state: 1, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_KEY'],
    ['empty key', { key: '', state: 1, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_KEY'],
    ['key with a control char', { key: 'a\nb', state: 1, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_KEY'],
    ['non-string key', { key: 7, state: 1, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_KEY'],
    ['key too deep', { key: Array(17).fill('s').join('/'), state: 1, value: 1, source: 'dev1' }, 'HAMSYNC_ERR_KEY'],
    ['source with a space', { key: 'x', state: 1, value: 1, source: 'dev 1' }, 'HAMSYNC_ERR_SOURCE'],
    ['empty source', { key: 'x', state: 1, value: 1, source: '' }, 'HAMSYNC_ERR_SOURCE'],
    ['65-char source', { key: 'x', state: 1, value: 1, source: 'd'.repeat(65) }, 'HAMSYNC_ERR_SOURCE'],
    ['source with a slash', { key: 'x', state: 1, value: 1, source: 'a/b' }, 'HAMSYNC_ERR_SOURCE'],
    ['undefined value', { key: 'x', state: 1, value: undefined, source: 'dev1' }, 'HAMSYNC_ERR_VALUE'],
    ['missing value', { key: 'x', state: 1, source: 'dev1' }, 'HAMSYNC_ERR_VALUE'],
    ['NaN inside value', { key: 'x', state: 1, value: { a: [1, Number.NaN] }, source: 'dev1' }, 'HAMSYNC_ERR_VALUE'],
    ['Date value', { key: 'x', state: 1, value: new Date(0), source: 'dev1' }, 'HAMSYNC_ERR_VALUE'],
    ['function value', { key: 'x', state: 1, value: () => 1, source: 'dev1' }, 'HAMSYNC_ERR_VALUE'],
    ['oversized value (limit 100)', { key: 'x', state: 1, value: 'x'.repeat(99), source: 'dev1' }, 'HAMSYNC_ERR_VALUE_TOO_LARGE'],
    ['oversized multibyte value (limit 100)', { key: 'x', state: 1, value: 'é'.repeat(50), source: 'dev1' }, 'HAMSYNC_ERR_VALUE_TOO_LARGE'],
    ['null update', null, 'HAMSYNC_ERR_UPDATE'],
    ['array update', [], 'HAMSYNC_ERR_UPDATE'],
    ['number update', 5, 'HAMSYNC_ERR_UPDATE'],
  ];

  for (const [name, bad, code] of cases) {
    for (const position of ['first', 'last'] as const) {
      test(`${name} (${position}) throws ${code} and stores nothing`, async (t) => {
        const clock = new ManualClock(1000);
        const { r, changes } = await openReplica(t, clock, { limits: { maxValueBytes: 100 } });
        await r.receive([upd('existing', 10, 'before')]).committed;
        const good = [upd('existing', 20, 'after'), upd('fresh', 10, 'new'), upd('later', 5000, 'deferred'), upd('existing', 10, 'before', 'dev2')];
        const batch = position === 'first' ? [bad, ...good] : [...good, bad];
        expectCode(() => r.receive(batch), code);
        // Let anything that might have been written commit, then look.
        await r.receive([upd('probe', 1, 1)]).committed;
        await r.idle();
        assert.deepEqual(r.get('existing'), { key: 'existing', value: 'before', state: 10, source: 'dev1' });
        assert.equal(r.get('fresh'), undefined);
        assert.equal(r.get('x'), undefined);
        assert.deepEqual(rows(r, 'existing'), [[10, 'before', 'dev1', 'applied', false]]);
        assert.deepEqual(r.history('fresh'), []);
        assert.deepEqual(r.deferred(), []);
        assert.deepEqual([...r.live()].map((e) => e.key), ['existing', 'probe']);
        assert.deepEqual(changes.map((c) => c.key), ['existing', 'probe']);
        clock.set(6000); // a ManualClock runs due timers now: a promotion would be running
        await r.idle();
        assert.equal(r.get('later'), undefined, 'no timer was armed for the rejected deferred update');
      });
    }
  }

  test('value size limit counts UTF-8 bytes of the canonical JSON, inclusive', async (t) => {
    const { r } = await openReplica(t, new ManualClock(1000), { limits: { maxValueBytes: 100 } });
    const rc = r.receive([
      upd('ascii', 1, 'x'.repeat(98)), // "xxx…" = 100 bytes
      upd('multi', 1, 'é'.repeat(49)), // 2 + 98 = 100 bytes
      upd('emoji', 1, '😀'.repeat(24)), // 2 + 96 = 98 bytes
      upd('obj', 1, { a: 'y'.repeat(92) }), // {"a":"…"} = 8 + 92 = 100 bytes
    ]);
    assert.ok(rc.results.every((x) => x.decision === 'apply'));
    await rc.committed;
    expectCode(() => r.receive([upd('emoji2', 1, '😀'.repeat(25))]), 'HAMSYNC_ERR_VALUE_TOO_LARGE'); // 102 bytes
    expectCode(() => r.receive([upd('obj2', 1, { a: 'y'.repeat(93) })]), 'HAMSYNC_ERR_VALUE_TOO_LARGE');
  });

  test('a batch that is not an array, or too large, throws HAMSYNC_ERR_BATCH', async (t) => {
    const { r } = await openReplica(t, new ManualClock(1000), { limits: { maxBatch: 3 } });
    expectCode(() => r.receive(upd('a', 1, 1) as unknown as Update[]), 'HAMSYNC_ERR_BATCH');
    expectCode(() => r.receive('nope' as unknown as Update[]), 'HAMSYNC_ERR_BATCH');
    expectCode(() => r.receive([upd('a', 1, 1), upd('b', 1, 1), upd('c', 1, 1), upd('d', 1, 1)]), 'HAMSYNC_ERR_BATCH');
    await r.receive([upd('a', 1, 1), upd('b', 1, 1), upd('c', 1, 1)]).committed;
    assert.deepEqual([...r.live()].map((e) => e.key), ['a', 'b', 'c']);
  });

  test('bad limits throw HAMSYNC_ERR_CONFIG', async () => {
    const dir = tempDir();
    try {
      await expectCodeAsync(() => Replica.open({ dataDir: dir, clock: new ManualClock(0), limits: { maxValueBytes: 0 } }), 'HAMSYNC_ERR_CONFIG');
      await expectCodeAsync(() => Replica.open({ dataDir: dir, clock: new ManualClock(0), limits: { bogus: 1 } as never }), 'HAMSYNC_ERR_CONFIG');
    } finally {
      removeDir(dir);
    }
  });
});

describe('reads', () => {
  test('history(key, {from, to, limit}): inclusive bounds, state order, only that key', async (t) => {
    const { r } = await openReplica(t, new ManualClock(1000));
    const batch: Update[] = [];
    for (let s = 1; s <= 10; s++) batch.push(upd('h', s, `v${s}`));
    batch.push(upd('h', 5, 'a5', 'dev2'), upd('h', 0.25, 'quarter'), upd('h', 2.5, 'frac'));
    // Keys that share a prefix with "h" must not leak into its history.
    batch.push(upd('h/sub', 4, 'x'), upd('h0', 4, 'x'), upd('h sp', 4, 'x'), upd('g', 4, 'x'), upd('hh', 4, 'x'));
    await r.receive(batch).committed;
    const states = (range: Parameters<Replica['history']>[1]): number[] => r.history('h', range).map((h) => h.state);
    assert.deepEqual(states({}), [0.25, 1, 2, 2.5, 3, 4, 5, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(states({ from: 3, to: 6 }), [3, 4, 5, 5, 6]);
    assert.deepEqual(states({ from: 2.5, to: 2.5 }), [2.5]);
    assert.deepEqual(states({ from: 5, to: 5 }), [5, 5]);
    assert.deepEqual(states({ from: 9 }), [9, 10]);
    assert.deepEqual(states({ to: 1 }), [0.25, 1]);
    assert.deepEqual(states({ from: 3, to: 8, limit: 2 }), [3, 4]);
    assert.deepEqual(states({ limit: 1 }), [0.25]);
    assert.deepEqual(states({ from: 11 }), []);
    assert.deepEqual(states({ from: 6, to: 3 }), []);
    assert.deepEqual(r.history('h', { from: 5, to: 5 }).map((h) => [h.value, h.outcome]), [['v5', 'applied'], ['a5', 'historical']]);
    assert.deepEqual(r.history('nothing'), []);
    assert.deepEqual(r.history('h/sub').map((h) => h.key), ['h/sub']);
  });

  test('live(prefix) lists committed entries in key order', async (t) => {
    const { r } = await openReplica(t, new ManualClock(1000));
    const rc = r.receive([upd('site1/t', 1, 20), upd('site1/h', 1, 50), upd('site10/t', 1, 21), upd('site2/t', 1, 22), upd('other', 1, null)]);
    await rc.committed;
    assert.deepEqual([...r.live('site1/')], [
      { key: 'site1/h', value: 50, state: 1, source: 'dev1' },
      { key: 'site1/t', value: 20, state: 1, source: 'dev1' },
    ]);
    assert.deepEqual([...r.live('site1')].map((e) => e.key), ['site1/h', 'site1/t', 'site10/t']);
    assert.deepEqual([...r.live()].map((e) => e.key), ['other', 'site1/h', 'site1/t', 'site10/t', 'site2/t']);
    assert.deepEqual([...r.live('zzz')], []);
    assert.deepEqual([...r.live('site2/t')].map((e) => e.key), ['site2/t']);
  });

  test('JSON values round-trip (strings, numbers, booleans, null, nested objects and arrays)', async (t) => {
    const { r } = await openReplica(t, new ManualClock(1000));
    const values: Json[] = ['', 'ünïcödé 😀', 0, -1.5, 1e21, true, false, null, [], {}, { b: [1, 'x', null, { c: false }], a: { z: 1 } }];
    await r.receive(values.map((v, i) => upd(`v/${i}`, 1, v))).committed;
    values.forEach((v, i) => assert.deepEqual(r.get(`v/${i}`)?.value, v));
  });
});

describe('lifecycle', () => {
  test('durable resolves, and the data survives close/reopen', async (t) => {
    const dir = tempDir(t);
    let r = await Replica.open({ dataDir: dir, clock: new ManualClock(1000) });
    const rc = r.receive([upd('k', 1, 'v'), upd('k', 2, 'w')]);
    await rc.durable;
    await rc.committed;
    await r.flushed();
    await r.close();
    r = await Replica.open({ dataDir: dir, clock: new ManualClock(1000) });
    try {
      assert.deepEqual(r.get('k'), { key: 'k', value: 'w', state: 2, source: 'dev1' });
      assert.equal(r.history('k').length, 2);
      // Sequence numbers continue: a new row does not overwrite an old one.
      await r.receive([upd('k', 2, 'w', 'dev0'), upd('k', 1, 'v', 'dev0')]).committed;
      assert.deepEqual(r.history('k').map((h) => [h.state, h.source]), [[1, 'dev1'], [1, 'dev0'], [2, 'dev1'], [2, 'dev0']]);
    } finally {
      await r.close();
    }
  });

  test('use after close throws HAMSYNC_ERR_CLOSED; close is idempotent', async (t) => {
    const dir = tempDir(t);
    const r = await Replica.open({ dataDir: dir, clock: new ManualClock(1000) });
    const rc = r.receive([upd('k', 1, 'v')]);
    await r.close();
    await rc.committed; // what was received before close still commits
    await r.close();
    expectCode(() => r.receive([upd('k', 2, 'w')]), 'HAMSYNC_ERR_CLOSED');
    expectCode(() => r.get('k'), 'HAMSYNC_ERR_CLOSED');
    expectCode(() => r.live(), 'HAMSYNC_ERR_CLOSED');
    expectCode(() => r.history('k'), 'HAMSYNC_ERR_CLOSED');
    expectCode(() => r.deferred(), 'HAMSYNC_ERR_CLOSED');
    const again = await Replica.open({ dataDir: dir, clock: new ManualClock(1000) });
    try {
      assert.equal(again.get('k')?.value, 'v');
    } finally {
      await again.close();
    }
  });

  // Issue 14 item 10: this used to pass with DeferredTimer.stop() emptied (the closed store made
  // the late promotion fail quietly). Now it checks the clock itself: close cancels the timer.
  test('a deferred timer does not fire after close', async (t) => {
    const clock = new CountingClock(0);
    const dir = tempDir(t);
    const r = await Replica.open({ dataDir: dir, clock });
    let fired = 0;
    const errors: Error[] = [];
    r.on('change', () => fired++);
    r.on('error', (err) => errors.push(err));
    await r.receive([upd('k', 100, 'v')]).committed;
    assert.equal(clock.armed, 1, 'the timer is armed for the deferred update');
    await r.close();
    assert.equal(clock.armed, 0, 'close cancelled the timer');
    clock.inner.set(200); // runs every due callback now, synchronously
    assert.equal(clock.ran, 0, 'no timer callback ran after close');
    assert.equal(fired, 0);
    assert.deepEqual(errors, []);
  });

  // Issue 14 item 10: the definite signal tests wait on instead of "sleep, then assert nothing happened".
  test('idle() resolves once a running promotion and a quarantine release have committed and announced', async (t) => {
    const clock = new ManualClock(10);
    const { r, changes } = await openReplica(t, clock, { maxFutureMs: 1000 });
    await r.receive([upd('k', 100, 'later'), upd('j', 200, 'much later'), upd('q', 5000, 'beyond')]).committed;
    await r.idle();
    assert.equal(changes.length, 0, 'nothing was due');
    clock.set(100); // the timer fires now; its promotion commits in the background
    await r.idle();
    assert.deepEqual(changes.map((c) => c.key), ['k'], 'the promotion was announced before idle() resolved');
    assert.deepEqual(r.deferred().map((d) => d.key), ['j']);
    clock.set(5000); // j falls due too: a promotion starts now
    void r.releaseQuarantined({ all: true }); // not awaited: idle() waits for it
    await r.idle();
    assert.deepEqual(changes.map((c) => c.key).sort(), ['j', 'k', 'q']);
    assert.deepEqual(r.deferred(), []);
    assert.deepEqual(r.quarantined(), []);
  });

  test('openStore / Replica.open on a path that is a file throws HAMSYNC_ERR_STORE', async (t) => {
    const dir = tempDir(t);
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, 'hello');
    expectCode(() => openStore(file), 'HAMSYNC_ERR_STORE');
    expectCode(() => openStore(path.join(file, 'below')), 'HAMSYNC_ERR_STORE');
    await expectCodeAsync(() => Replica.open({ dataDir: file, clock: new ManualClock(0) }), 'HAMSYNC_ERR_STORE');
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello', 'the file is left alone');
    expectCode(() => openStore(''), 'HAMSYNC_ERR_CONFIG');
  });

  // Issue 14 item 19: zero, -0 and negative states were stored (and -0 needed special care in
  // LMDB keys). States must now be greater than 0 (docs/PROTOCOL.md "put").
  test('states at or below 0 are refused with HAMSYNC_ERR_STATE; the smallest positive state is stored', async (t) => {
    const clock = new ManualClock(10);
    const { r, changes } = await openReplica(t, clock);
    for (const state of [0, -0, -5, -1e308, -Number.MIN_VALUE]) {
      assert.throws(
        () => r.receive([upd('ok', 5, 'fine'), upd('z', state, 'v')]),
        (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_STATE') && err.message.includes('update 1 state must be greater than 0') && err.message.includes(`got ${Object.is(state, -0) ? '-0' : String(state)}`),
        `state ${Object.is(state, -0) ? '-0' : state}`,
      );
    }
    await r.idle();
    assert.deepEqual([...r.live()], [], 'nothing of a refused batch is stored');
    assert.equal(changes.length, 0);
    await r.receive([upd('z', Number.MIN_VALUE, 'tiny')]).committed;
    assert.deepEqual(rows(r, 'z'), [[Number.MIN_VALUE, 'tiny', 'dev1', 'applied', false]]);
  });

  test('keys with a "." or ".." segment are refused with HAMSYNC_ERR_KEY; dots inside a segment are fine', async (t) => {
    const { r } = await openReplica(t, new ManualClock(10));
    for (const key of ['.', '..', 'a/.', 'a/..', './a', '../a', 'a/./b', 'a/../../etc/passwd']) {
      assert.throws(
        () => r.receive([upd(key, 5, 'v')]),
        (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_KEY') && err.message.includes(JSON.stringify(key)) && /"\.\.?" segment/.test(err.message),
        key,
      );
    }
    const fine = ['...', '.a', 'a.', 'a/..b', 'a/b../c', '.hidden/x'];
    await r.receive(fine.map((k) => upd(k, 5, 'v'))).committed;
    assert.deepEqual([...r.live()].map((e) => e.key).sort(), [...fine].sort());
  });
});
