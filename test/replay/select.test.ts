import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { ManualClock, Replica } from '../../src/index.js';
import { openStore } from '../../src/store/open.js';
import { asOf } from '../../src/replay/as-of.js';
import { csvLine, csvValue, ndjsonLine } from '../../src/replay/format.js';
import { pacer } from '../../src/replay/pace.js';
import { fakeTimer } from '../helpers/fake-timer.js';
import { select, type Selection } from '../../src/replay/select.js';
import { seedFromEnv } from '../helpers/seed.js';
import { tempDir } from '../helpers/tmp.js';

const SEED = seedFromEnv(424242);

/** Every write is on disk and no promotion runs (the manual clock starts one at once when it moves). */
async function settle(replica: Replica): Promise<void> {
  await replica.flushed();
  await replica.idle();
  await replica.flushed();
}

/** A replica with a small, known history: a tie, a historical update, a deferred-then-applied one. */
async function known(dir: string): Promise<void> {
  const clock = new ManualClock(1000);
  const r = await Replica.open({ dataDir: dir, clock });
  r.receive([{ key: 'mission/hello', value: 'Hello Earth', state: 500, source: 'earth' }]);
  await r.flushed();
  r.receive([{ key: 'mission/hello', value: 'Hello Mars', state: 500, source: 'mars' }]);
  r.receive([{ key: 'pi-1/cpu/temp', value: 40, state: 600, source: 'pi-1' }]);
  r.receive([{ key: 'pi-2/cpu/temp', value: 45, state: 700, source: 'pi-2' }]);
  r.receive([{ key: 'pi-1/cpu/temp', value: 39, state: 550, source: 'pi-1' }]);
  r.receive([{ key: 'mission/hello', value: 'from the future', state: 1500, source: 'gps-1' }]);
  await r.flushed();
  clock.set(1200);
  r.receive([{ key: 'pi-1/load', value: { '1m': 0.5, note: 'a, "quoted"\nline' }, state: 1100, source: 'pi-1' }]);
  await r.flushed();
  clock.set(1600);
  await settle(r);
  await r.close();
}

function rows(dir: string, sel: Selection): string[] {
  const store = openStore(dir, { readOnly: true });
  try {
    return [...select(store, sel)].map((x) => `${x.row.k}@${x.state}:${x.row.src}:${x.row.o}${x.row.d ? ':d' : ''}`);
  } finally {
    void store.root.close();
  }
}

test('selection: state order, inclusive bounds, key/source/outcome filters', async (t) => {
  const dir = join(tempDir(t), 'r');
  await known(dir);
  assert.deepEqual(rows(dir, {}), [
    'mission/hello@500:earth:applied',
    'mission/hello@500:mars:applied',
    'pi-1/cpu/temp@550:pi-1:historical',
    'pi-1/cpu/temp@600:pi-1:applied',
    'pi-2/cpu/temp@700:pi-2:applied',
    'pi-1/load@1100:pi-1:applied',
    'mission/hello@1500:gps-1:applied:d',
  ]);
  // Both bounds inclusive, exactly on row states.
  assert.deepEqual(rows(dir, { from: 550, to: 700 }), ['pi-1/cpu/temp@550:pi-1:historical', 'pi-1/cpu/temp@600:pi-1:applied', 'pi-2/cpu/temp@700:pi-2:applied']);
  assert.deepEqual(rows(dir, { from: 550.0001, to: 699.9999 }), ['pi-1/cpu/temp@600:pi-1:applied']);
  assert.deepEqual(rows(dir, { keys: ['+/cpu/temp'], outcomes: ['applied'] }), ['pi-1/cpu/temp@600:pi-1:applied', 'pi-2/cpu/temp@700:pi-2:applied']);
  assert.deepEqual(rows(dir, { keys: ['pi-1/#'] }), ['pi-1/cpu/temp@550:pi-1:historical', 'pi-1/cpu/temp@600:pi-1:applied', 'pi-1/load@1100:pi-1:applied']);
  assert.deepEqual(rows(dir, { keys: ['mission/hello'], sources: ['mars', 'gps-1'] }), ['mission/hello@500:mars:applied', 'mission/hello@1500:gps-1:applied:d']);
  assert.deepEqual(rows(dir, { keys: ['nothing/#'] }), []);
});

test('selection by receive time: the deferred update sits where it arrived, bounds apply to rx', async (t) => {
  const dir = join(tempDir(t), 'r');
  await known(dir);
  const byRx = rows(dir, { by: 'received' });
  // Everything but pi-1/load arrived at 1000 (in write order); pi-1/load arrived at 1200.
  assert.equal(byRx.at(-1), 'pi-1/load@1100:pi-1:applied');
  assert.ok(byRx.indexOf('mission/hello@1500:gps-1:applied:d') < byRx.indexOf('pi-1/load@1100:pi-1:applied'));
  assert.deepEqual(rows(dir, { by: 'received', from: 1001 }), ['pi-1/load@1100:pi-1:applied']);
  assert.equal(rows(dir, { by: 'received', to: 1000 }).length, 6);
});

test('as-of: ties, historical rows and deferred-then-applied updates, by state and by receive time', async (t) => {
  const dir = join(tempDir(t), 'r');
  await known(dir);
  const store = openStore(dir, { readOnly: true });
  t.after(() => store.root.close());
  const view = (at: number, byReceived = false): Record<string, string> =>
    Object.fromEntries(asOf(store, at, { byReceived }).map((r) => [r.row.k, `${r.row.j}@${r.state}`]));
  assert.deepEqual(view(499), {});
  // At 500 the tie is already decided: Mars.
  assert.deepEqual(view(500), { 'mission/hello': '"Hello Mars"@500' });
  // At 580 the historical 550 update is what pi-1 had *if* it had been received by then...
  assert.deepEqual(view(580)['pi-1/cpu/temp'], '39@550');
  assert.deepEqual(view(1000), { 'mission/hello': '"Hello Mars"@500', 'pi-1/cpu/temp': '40@600', 'pi-2/cpu/temp': '45@700' });
  // The future update only counts once its state is reached.
  assert.equal(view(1499)['mission/hello'], '"Hello Mars"@500');
  assert.equal(view(1500)['mission/hello'], '"from the future"@1500');
  // By receive time: pi-1/load (state 1100) arrived at 1200, so at 1150 this replica did not have it.
  assert.equal(view(1150)['pi-1/load'] !== undefined, true);
  assert.equal(view(1150, true)['pi-1/load'], undefined);
  assert.equal(view(1200, true)['pi-1/load'] !== undefined, true);
});

test('formats: NDJSON uses the wire field names; CSV quotes commas, quotes and line breaks', () => {
  const row = { k: 'pi-1/load', src: 'pi-1', j: '{"1m":0.5,"note":"a, \\"quoted\\"\\nline"}', o: 'applied' as const, d: false, rx: 1200 };
  assert.deepEqual(JSON.parse(ndjsonLine(1100, row)), { k: 'pi-1/load', v: { '1m': 0.5, note: 'a, "quoted"\nline' }, s: 1100, src: 'pi-1', outcome: 'applied', deferred: false, rx: 1200 });
  assert.equal(csvLine(1100, row), 'pi-1/load,"{""1m"":0.5,""note"":""a, \\""quoted\\""\\nline""}",1100,pi-1,applied,false,1200\n');
  assert.equal(csvValue('"plain"'), 'plain');
  assert.equal(csvValue('"a,b"'), '"a,b"');
  assert.equal(csvValue('"say ""hi"""'.replace(/""/g, '\\"')), '"say ""hi"""');
  assert.equal(csvValue('"two\nlines"'.replace('\n', '\\n')), '"two\nlines"');
  assert.equal(csvValue('null'), '');
  assert.equal(csvValue('42.5'), '42.5');
  assert.equal(csvValue('true'), 'true');
  assert.equal(csvValue('[1,2]'), '"[1,2]"');
});

test('pacing: state gaps divided by --speed, measured from the start (no accumulated drift)', async () => {
  const timer = fakeTimer();
  const { sleeps } = timer;
  const wait = pacer(10, timer);
  for (const s of [1000, 1000, 2000, 3000, 13_000]) {
    await wait(s);
    timer.advance(5); // each row takes 5 ms to write
  }
  // Targets: 0, 0, 100, 200, 1200 ms after start.
  assert.deepEqual(sleeps, [90, 95, 995]);
  assert.equal(timer.now(), 1205);
  const max = pacer('max', timer);
  sleeps.length = 0;
  await max(0);
  await max(1e9);
  assert.deepEqual(sleeps, []);
});

test('replaying a randomized history (drift, ties) into an empty replica reproduces its live view exactly', async (t) => {
  const base = tempDir(t);
  let run = 0;
  const update = fc.record({
    key: fc.constantFrom('a', 'b', 'c/d', 'c/e'),
    value: fc.oneof(fc.constantFrom('Hello Earth', 'Hello Mars', 'x'), fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.constant(null)),
    state: fc.integer({ min: 1, max: 30 }),
    source: fc.constantFrom('earth', 'mars', 'gps-1'),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(update, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 30 }), async (batches, start) => {
      run++;
      const clock = new ManualClock(start);
      const a = await Replica.open({ dataDir: join(base, `a${run}`), clock });
      for (const [i, batch] of batches.entries()) {
        a.receive(batch);
        if (i % 3 === 2) clock.advance(4); // the clock moves while updates arrive: some were deferred
      }
      await a.flushed();
      clock.set(100);
      await settle(a);
      const liveA = [...a.live()];
      await a.close();
      const store = openStore(join(base, `a${run}`), { readOnly: true });
      const replayed = [...select(store)].map(({ state, row }) => ({ key: row.k, value: JSON.parse(row.j) as unknown, state, source: row.src }));
      // And as-of "the end of time" is the same live view.
      const end = asOf(store, 1e9).map((r) => ({ key: r.row.k, value: JSON.parse(r.row.j) as unknown, state: r.state, source: r.row.src }));
      await store.root.close();
      const b = await Replica.open({ dataDir: join(base, `b${run}`), clock: new ManualClock(1000) });
      for (let i = 0; i < replayed.length; i += 7) b.receive(replayed.slice(i, i + 7) as never);
      await settle(b);
      const liveB = [...b.live()];
      await b.close();
      assert.deepEqual(liveB, liveA);
      assert.deepEqual(end, liveA);
    }),
    { seed: SEED, numRuns: 25 },
  );
});
