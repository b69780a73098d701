import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { describe, test, type TestContext } from 'node:test';
import yargs from 'yargs';
import * as exportCmd from '../../src/cli/export.js';
import * as importCmd from '../../src/cli/import.js';
import { isHamsyncError, type ErrorCode } from '../../src/errors.js';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { canonical, type Json } from '../../src/ham/lexical.js';
import { resolveLimits, type Limits } from '../../src/model/limits.js';
import type { Update } from '../../src/model/update.js';
import { exportDataDir, exportToFile, type ExportCounts } from '../../src/replay/export.js';
import { importExport, importFile, validateExport, type ImportReport } from '../../src/replay/import.js';
import { Replica } from '../../src/sync/replica.js';
import { dump } from '../helpers/dump.js';
import { tempDir } from '../helpers/tmp.js';
import { prng } from '../helpers/seed.js';
import { sleep } from '../helpers/wait.js';

// ---------------------------------------------------------------------------------------------
// Helpers



async function openReplica(t: TestContext, clock: ManualClock, dir = tempDir(t), limits?: Partial<Limits>): Promise<Replica> {
  const r = await Replica.open({ dataDir: dir, clock, ...(limits ? { limits } : {}) });
  t.after(() => r.close());
  return r;
}

/** Waits until the deferred timer has promoted everything that is due, and all is on disk. */
async function settle(r: Replica): Promise<void> {
  for (let i = 0; i < 400; i++) {
    await r.flushed();
    if (r.deferred().every((d) => d.state > r.now())) {
      await sleep(5);
      await r.flushed();
      if (r.deferred().every((d) => d.state > r.now())) return;
    }
    await sleep(5);
  }
  assert.fail('deferred rows that are due were not promoted');
}

type Row = string;

/** Everything a replica holds, in a comparable form: live rows, per-key history (as sets), deferred. */
function view(r: Replica, keys: Iterable<string>): { live: Row[]; history: Row[]; deferred: Row[] } {
  const live = [...r.live()].map((e) => `${e.key}|${e.state}|${e.source}|${canonical(e.value)}`);
  const history: Row[] = [];
  for (const key of [...new Set(keys)].sort()) {
    for (const h of r.history(key)) history.push(`${h.key}|${h.state}|${h.source}|${canonical(h.value)}`);
  }
  const deferred = r.deferred().map((d) => `${d.key}|${d.state}|${d.source}|${canonical(d.value)}`);
  return { live, history: history.sort(), deferred: deferred.sort() };
}

async function exportFile(t: TestContext, dir: string): Promise<string> {
  const file = path.join(tempDir(t), 'export.ndjson');
  await exportToFile(dir, file);
  return file;
}

async function expectLineError(p: Promise<unknown>, code: ErrorCode, file: string, line: number, match?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isHamsyncError(err), `expected a HamsyncError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(err.message.includes(`${file}:${line}: `), `expected ${file}:${line}: in ${err.message}`);
    assert.equal(err.details.line, line);
    if (match) assert.match(err.message, match);
    return true;
  });
}

const VALUES: Json[] = [1, 2, 42.5, -0.25, 'a', 'b', 'Hello Mars', true, false, null, { b: 1, a: [1, 2] }, { a: [1, 2], b: 1 }, ['x', { y: 'é' }], 'line\nbreak\u2028', ''];
const SOURCES = ['pi-1', 'pi-2', 'mars_3', 'E-4'];
/** Per-source clock error: exact, slow, fast (its rows arrive from the future), very slow. */
const DRIFT: Record<string, number> = { 'pi-1': 0, 'pi-2': -30_000, mars_3: 4_000, 'E-4': -7_200_000 };

interface Source {
  r: Replica;
  dir: string;
  clock: ManualClock;
  keys: string[];
}

/** A replica with a randomized history: drifting sources, equal-state ties, exact resends, deferred rows. */
async function randomSource(t: TestContext, seed: number, rounds = 60): Promise<Source> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const clock = new ManualClock(1_700_000_000_000);
  const dir = tempDir(t);
  const r = await openReplica(t, clock, dir);
  const keys = Array.from({ length: 12 }, (_, i) => `site/dev${i % 4}/k${i}`);
  const sent: Update[] = [];
  const statesOf = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    const batch: Update[] = [];
    const n = 1 + Math.floor(rnd() * 40);
    for (let i = 0; i < n; i++) {
      const dice = rnd();
      if (dice < 0.1 && sent.length > 0) {
        batch.push({ ...pick(sent) }); // an exact resend
        continue;
      }
      const key = pick(keys);
      const source = pick(SOURCES);
      const used = statesOf.get(key) ?? [];
      // An equal-state tie with an earlier update of the key, or a fresh state near the source's (drifting) clock.
      const state = dice < 0.3 && used.length > 0 ? pick(used) : Math.round(clock.now() + (DRIFT[source] as number) + (rnd() - 0.5) * 2000);
      used.push(state);
      statesOf.set(key, used);
      const u = { key, value: pick(VALUES), state, source };
      sent.push(u);
      batch.push(u);
    }
    await r.receive(batch).committed;
    clock.advance(Math.floor(rnd() * 1500));
  }
  await settle(r);
  return { r, dir, clock, keys };
}

// ---------------------------------------------------------------------------------------------

describe('export', () => {
  test('writes the header and one line per row, values as the stored canonical text', async (t) => {
    const clock = new ManualClock(1000);
    const dir = tempDir(t);
    const r = await openReplica(t, clock, dir);
    await r.receive([
      { key: 'a/b', value: { z: 1, a: ['é', null] }, state: 500, source: 'dev1' },
      { key: 'a/b', value: 'older', state: 400, source: 'dev2' },
      { key: 'a/c', value: 'future', state: 5000, source: 'dev2' },
    ]).durable;
    const text = await dump(dir);
    const lines = text.split('\n');
    assert.equal(lines.pop(), '', 'every line ends with \\n');
    assert.deepEqual(lines, [
      '{"hamsync":"export","format":1,"created":"1970-01-01T00:00:00.000Z","counts":{"live":1,"history":2,"deferred":1}}',
      '{"t":"live","k":"a/b","v":{"a":["é",null],"z":1},"s":500,"src":"dev1"}',
      '{"t":"history","k":"a/b","v":"older","s":400,"src":"dev2","outcome":"historical","deferred":false,"rx":1000}',
      '{"t":"history","k":"a/b","v":{"a":["é",null],"z":1},"s":500,"src":"dev1","outcome":"applied","deferred":false,"rx":1000}',
      '{"t":"deferred","k":"a/c","v":"future","s":5000,"src":"dev2","rx":1000}',
    ]);
  });

  test('works beside an open replica, from one snapshot, and a failed file export leaves no partial file', async (t) => {
    const clock = new ManualClock(1_000_000);
    const dir = tempDir(t);
    const r = await openReplica(t, clock, dir);
    const updates = Array.from({ length: 3000 }, (_, i) => ({ key: `k/${i % 50}`, value: i, state: 500_000 + i, source: 'dev1' }));
    await r.receive(updates).durable;
    const out = tempDir(t);
    const file = path.join(out, 'x.ndjson');
    // Writes keep coming while the export runs: the header's counts still match the lines.
    const writing = (async () => {
      for (let i = 0; i < 20; i++) {
        await r.receive([{ key: `k/${i}`, value: -i, state: 600_000 + i, source: 'dev2' }]).committed;
      }
    })();
    const counts = await exportToFile(dir, file, { writeChunk: 512 });
    await writing;
    const v = await validateExport(file, resolveLimits());
    assert.deepEqual(v.counts, counts);
    assert.equal(v.lines, 1 + counts.live + counts.history + counts.deferred);
    assert.deepEqual(fs.readdirSync(out), ['x.ndjson'], 'the temporary file was renamed');
    // Missing data dir: a store error, and nothing is left behind.
    await assert.rejects(exportToFile(path.join(out, 'nope'), path.join(out, 'y.ndjson')), (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_STORE'));
    assert.deepEqual(fs.readdirSync(out), ['x.ndjson']);
  });

  test('waits for a slow output (backpressure) and reports a failing one as HAMSYNC_ERR_FILE', async (t) => {
    const clock = new ManualClock(1_000_000);
    const dir = tempDir(t);
    const r = await openReplica(t, clock, dir);
    await r.receive(Array.from({ length: 2000 }, (_, i) => ({ key: `k/${i}`, value: 'x'.repeat(100), state: i + 1, source: 'dev1' }))).durable;
    let buffered = 0;
    let maxBuffered = 0;
    let text = '';
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, cb) {
        buffered = slow.writableLength;
        maxBuffered = Math.max(maxBuffered, buffered);
        text += chunk.toString('utf8');
        setTimeout(cb, 1);
      },
    });
    const counts = await exportDataDir(dir, slow, { writeChunk: 8 * 1024 });
    slow.end();
    await finished(slow);
    assert.deepEqual(counts, { live: 2000, history: 2000, deferred: 0 });
    assert.ok(maxBuffered <= 16 * 1024 + 8 * 1024 + 1024, `the exporter waited for drain (max buffered ${maxBuffered})`);
    assert.equal(text.split('\n').length - 1, 4001);

    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      },
    });
    failing.on('error', () => undefined);
    await assert.rejects(exportDataDir(dir, failing, { writeChunk: 1024 }), (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_FILE') && /ENOSPC/.test(err.message));
  });
});

describe('import', () => {
  for (const seed of [1, 7, 2024]) {
    test(`round trip (seed ${seed}): the live view, history and deferred rows survive; a second import adds nothing`, async (t) => {
      const src = await randomSource(t, seed);
      const before = view(src.r, src.keys);
      assert.ok(before.deferred.length > 0, 'the fast source left rows from the future');
      assert.ok(before.history.length > before.live.length, 'there is history beyond the live rows');
      const file = await exportFile(t, src.dir);

      const targetDir = tempDir(t);
      const target = await openReplica(t, new ManualClock(src.clock.now()), targetDir);
      const first = await importExport(target, file, { chunk: 97 });
      const counts = first.counts;
      assert.equal(first.lines, 1 + counts.live + counts.history + counts.deferred);
      assert.equal(first.updates, counts.live + counts.history + counts.deferred);
      assert.equal(first.imported + first.duplicates, first.updates);
      assert.equal(first.imported, counts.history + counts.deferred, 'every history and deferred row is new; every live row is also in history');
      assert.equal(first.deferred, counts.deferred);
      assert.equal(first.chunks, Math.ceil(first.updates / 97));
      assert.deepEqual(view(target, src.keys), before);
      assert.deepEqual(
        [...target.live()],
        [...src.r.live()],
        'same live entries, sources included',
      );

      const beforeSecond = await dump(targetDir);
      const second = await importExport(target, file);
      assert.equal(second.imported, 0);
      assert.equal(second.duplicates, second.updates);
      assert.equal(await dump(targetDir), beforeSecond, 'nothing was written: live, history (outcomes, receive times) and deferred are byte-identical');
    });
  }

  test('into a replica with newer data: the newer live values stay, the imported rows go to history', async (t) => {
    const src = await randomSource(t, 99, 30);
    const file = await exportFile(t, src.dir);
    const clock = new ManualClock(src.clock.now() + 1_000_000);
    const target = await openReplica(t, clock);
    const newer = src.keys.slice(0, 4).map((key) => ({ key, value: `newer ${key}`, state: src.clock.now() + 500_000, source: 'hub' }));
    await target.receive(newer).durable;

    const report = await importExport(target, file);
    assert.equal(report.deferred, 0, 'nothing is in the future of this replica');
    for (const u of newer) assert.deepEqual(target.get(u.key), { key: u.key, value: u.value, state: u.state, source: 'hub' });
    // The other keys: what HAM gives for the file alone at this clock (the source's deferred rows are due here).
    const reference = await openReplica(t, new ManualClock(clock.now()));
    await importExport(reference, file);
    const expected = new Map([...reference.live()].map((e) => [e.key, e]));
    for (const e of target.live()) {
      if (!newer.some((u) => u.key === e.key)) assert.deepEqual(e, expected.get(e.key), `other keys take the file's value (${e.key})`);
    }
    // Every source row is in the target's history; for the newer keys it is historical.
    const srcView = view(src.r, src.keys);
    const targetView = view(target, src.keys);
    for (const row of srcView.history) assert.ok(targetView.history.includes(row), `history row ${row} imported`);
    for (const u of newer) {
      const rows = target.history(u.key);
      assert.equal(rows.at(-1)?.source, 'hub');
      for (const h of rows.slice(0, -1)) assert.ok(h.outcome === 'historical' || h.outcome === 'tie-lost' || h.outcome === 'same', `${u.key}: ${h.outcome}`);
    }
  });

  test('a row from the importer\'s future is deferred, and applied when its state comes', async (t) => {
    const srcClock = new ManualClock(10_000);
    const srcDir = tempDir(t);
    const src = await openReplica(t, srcClock, srcDir);
    await src.receive([
      { key: 'a/past', value: 'p', state: 1_000, source: 'dev1' },
      { key: 'a/soon', value: 's', state: 9_000, source: 'dev1' },
    ]).durable;
    const file = await exportFile(t, srcDir);

    const clock = new ManualClock(5_000);
    const target = await openReplica(t, clock);
    const report = await importExport(target, file);
    assert.equal(report.imported, 2);
    assert.equal(report.deferred, 1);
    assert.equal(report.duplicates, 2, 'the live rows are the same updates as the history rows');
    assert.deepEqual(target.get('a/past'), { key: 'a/past', value: 'p', state: 1_000, source: 'dev1' });
    assert.equal(target.get('a/soon'), undefined);
    assert.deepEqual(
      target.deferred().map((d) => [d.key, d.state, d.value]),
      [['a/soon', 9_000, 's']],
    );
    clock.set(9_000);
    await settle(target);
    assert.deepEqual(target.get('a/soon'), { key: 'a/soon', value: 's', state: 9_000, source: 'dev1' });
    assert.deepEqual(target.history('a/soon').map((h) => [h.outcome, h.deferred]), [['applied', true]]);
  });

  test('an interrupted import can be run again: the result is the same as one complete import', async (t) => {
    const src = await randomSource(t, 5, 25);
    const file = await exportFile(t, src.dir);
    // "Interrupted": only the first part of the rows made it in (a prefix, as chunks commit in order).
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const partialRows = lines.slice(1, Math.floor(lines.length / 2)).filter((l) => l !== '');
    const target = await openReplica(t, new ManualClock(src.clock.now()));
    await target.receive(
      partialRows.map((l) => {
        const o = JSON.parse(l) as { k: string; v: Json; s: number; src: string };
        return { key: o.k, value: o.v, state: o.s, source: o.src };
      }),
    ).durable;
    const report = await importExport(target, file);
    assert.ok(report.duplicates >= partialRows.length, 'what made it in the first time is not written again');
    assert.equal(report.imported + report.duplicates, report.updates);
    assert.deepEqual(view(target, src.keys), view(src.r, src.keys));
  });

  test('importFile opens the data dir, imports and closes; an empty export imports nothing', async (t) => {
    const empty = tempDir(t);
    await (await Replica.open({ dataDir: empty, clock: new ManualClock(0) })).close();
    const file = await exportFile(t, empty);
    const dest = path.join(tempDir(t), 'new-replica');
    const report = await importFile(file, { dataDir: dest, clock: new ManualClock(0) });
    assert.deepEqual({ ...report, file: '' }, { file: '', lines: 1, counts: { live: 0, history: 0, deferred: 0 }, updates: 0, imported: 0, duplicates: 0, applied: 0, deferred: 0, chunks: 0, mode: 'restore' });
    assert.ok(fs.existsSync(path.join(dest, 'data.mdb')));
  });
});

describe('import refuses a bad file and imports nothing', () => {
  /** A target replica with some data, and a valid export of another one (6 rows). */
  async function setup(t: TestContext, limits?: Partial<Limits>): Promise<{ target: Replica; targetDir: string; lines: string[]; file: string; before: string }> {
    const srcDir = tempDir(t);
    const src = await openReplica(t, new ManualClock(10_000), srcDir);
    await src.receive([
      { key: 'x/a', value: 1, state: 100, source: 'dev1' },
      { key: 'x/a', value: 2, state: 200, source: 'dev1' },
      { key: 'x/b', value: 'b', state: 300, source: 'dev2' },
      { key: 'x/c', value: 'c', state: 20_000, source: 'dev2' },
    ]).durable;
    const file = await exportFile(t, srcDir);
    const targetDir = tempDir(t);
    const target = await openReplica(t, new ManualClock(50_000), targetDir, limits);
    await target.receive([
      { key: 'x/a', value: 'mine', state: 150, source: 'dev9' },
      { key: 'y/z', value: 'z', state: 1, source: 'dev9' },
    ]).durable;
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 7, 'header, 2 live, 3 history, 1 deferred');
    return { target, targetDir, lines, file, before: await dump(targetDir) };
  }

  const row = (o: Record<string, unknown>): string => JSON.stringify({ t: 'history', k: 'x/a', v: 1, s: 1, src: 'dev1', outcome: 'applied', deferred: false, rx: 1, ...o });

  const cases: { name: string; line: number; code: ErrorCode; edit: (lines: string[]) => string; match?: RegExp }[] = [
    { name: 'not JSON', line: 4, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => [...l.slice(0, 3), '{"t":"history",', ...l.slice(4)].join('\n') + '\n', match: /not valid JSON/ },
    { name: 'a bad key', line: 3, code: 'HAMSYNC_ERR_KEY', edit: (l) => [...l.slice(0, 2), row({ t: 'live', k: 'x/+/a' }), ...l.slice(3)].join('\n') + '\n' },
    { name: 'a state that is not a number', line: 5, code: 'HAMSYNC_ERR_STATE', edit: (l) => [...l.slice(0, 4), row({ s: 'NaN' }), ...l.slice(5)].join('\n') + '\n', match: /"s" \(state\)/ },
    { name: 'a bad source', line: 6, code: 'HAMSYNC_ERR_SOURCE', edit: (l) => [...l.slice(0, 5), row({ src: 'dev 1' }), ...l.slice(6)].join('\n') + '\n' },
    { name: 'an unknown row type', line: 2, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => [l[0], row({ t: 'outbox' }), ...l.slice(2)].join('\n') + '\n', match: /"t" must be/ },
    { name: 'a row without a value', line: 2, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => [l[0], '{"t":"live","k":"x/a","s":1,"src":"dev1"}', ...l.slice(2)].join('\n') + '\n', match: /no "v"/ },
    { name: 'a bad outcome', line: 4, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => [...l.slice(0, 3), row({ outcome: 'won' }), ...l.slice(4)].join('\n') + '\n', match: /outcome/ },
    { name: 'a JSON array line', line: 7, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => [...l.slice(0, 6), '[1,2]'].join('\n') + '\n', match: /JSON object/ },
    { name: 'an empty line', line: 3, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => [...l.slice(0, 2), '', ...l.slice(2)].join('\n') + '\n', match: /empty line/ },
    { name: 'the first of two bad lines', line: 3, code: 'HAMSYNC_ERR_KEY', edit: (l) => [...l.slice(0, 2), row({ k: '' }), l[3], l[4], '{', ...l.slice(6)].join('\n') + '\n' },
    { name: 'a header from something else', line: 1, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => ['{"hello":"world"}', ...l.slice(1)].join('\n') + '\n', match: /not a hamsync export/ },
    { name: 'a newer format', line: 1, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => [(l[0] as string).replace('"format":1', '"format":2'), ...l.slice(1)].join('\n') + '\n', match: /format 2/ },
    { name: 'an empty file', line: 1, code: 'HAMSYNC_ERR_PAYLOAD', edit: () => '', match: /empty/ },
    { name: 'a last line cut short', line: 7, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => l.join('\n').slice(0, -12), match: /cut short/ },
    { name: 'the last line missing (cut at a line boundary)', line: 7, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => l.slice(0, 6).join('\n') + '\n', match: /promises 2 live, 3 history, 1 deferred rows, the file has 2 live, 3 history, 0 deferred: the file was cut short/ },
    { name: 'an extra row', line: 9, code: 'HAMSYNC_ERR_PAYLOAD', edit: (l) => [...l, row({})].join('\n') + '\n', match: /edited/ },
  ];

  for (const c of cases) {
    test(c.name, async (t) => {
      const { target, targetDir, lines, file, before } = await setup(t);
      fs.writeFileSync(file, c.edit(lines));
      await expectLineError(importExport(target, file, { chunk: 1 }), c.code, file, c.line, c.match);
      await expectLineError(validateExport(file, resolveLimits()), c.code, file, c.line, c.match);
      assert.equal(await dump(targetDir), before, 'the target is unchanged');
    });
  }

  test('invalid UTF-8, a value over the replica\'s limit, and a missing file', async (t) => {
    const { target, targetDir, lines, file, before } = await setup(t, { maxValueBytes: 16 });
    const bytes = Buffer.concat([Buffer.from(`${lines.slice(0, 2).join('\n')}\n{"t":"live","k":"x/a","v":"`), Buffer.from([0xc3, 0x28]), Buffer.from(`","s":1,"src":"dev1"}\n`)]);
    fs.writeFileSync(file, bytes);
    await expectLineError(importExport(target, file), 'HAMSYNC_ERR_PAYLOAD', file, 3, /UTF-8/);
    fs.writeFileSync(file, [...lines.slice(0, 5), row({ v: 'x'.repeat(40) }), lines[6]].join('\n') + '\n');
    await expectLineError(importExport(target, file), 'HAMSYNC_ERR_VALUE_TOO_LARGE', file, 6, /nothing was imported/);
    await assert.rejects(importExport(target, path.join(targetDir, 'missing.ndjson')), (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_FILE') && /ENOENT/.test(err.message));
    assert.equal(await dump(targetDir), before);
  });

  test('a bad last line after more rows than one chunk: still nothing imported', async (t) => {
    const { target, targetDir, before } = await setup(t);
    const srcDir = tempDir(t);
    const src = await openReplica(t, new ManualClock(1e9), srcDir);
    await src.receive(Array.from({ length: 3000 }, (_, i) => ({ key: `big/${i}`, value: i, state: i + 1, source: 'dev1' }))).durable;
    const file = await exportFile(t, srcDir);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.slice(0, -5));
    await expectLineError(importExport(target, file, { chunk: 100 }), 'HAMSYNC_ERR_PAYLOAD', file, 6001, /cut short/);
    assert.equal(await dump(targetDir), before);
  });
});

// ---------------------------------------------------------------------------------------------
// The CLI modules, through a yargs parser of their own (the lead registers them in main.ts).

async function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stderr.write;
  try {
    await yargs(args)
      .command(exportCmd)
      .command(importCmd)
      .strict()
      .exitProcess(false)
      .fail((msg, e) => {
        throw e ?? new Error(msg);
      })
      .parseAsync();
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return { stdout, stderr };
}

describe('CLI: hamsync export / hamsync import', () => {
  test('export --out, import, import again; export to stdout', async (t) => {
    // States an hour in the past: the import uses the wall clock, as the daemon does.
    const clock = new ManualClock(Date.now() - 3_600_000);
    const srcDir = tempDir(t);
    const src = await openReplica(t, clock, srcDir);
    await src.receive([
      { key: 'm/1', value: 'a', state: clock.now() - 10, source: 'dev1' },
      { key: 'm/1', value: 'b', state: clock.now() - 5, source: 'dev2' },
      { key: 'm/2', value: { deep: [1, 2] }, state: clock.now() - 1, source: 'dev1' },
    ]).durable;
    const file = path.join(tempDir(t), 'dump.ndjson');
    const ex = await cli(['export', '--data-dir', srcDir, '--out', file]);
    assert.match(ex.stdout, /exported 2 live, 3 history and 0 deferred rows/);

    const destDir = path.join(tempDir(t), 'dest');
    const im = await cli(['import', file, '--data-dir', destDir, '--json']);
    const report = JSON.parse(im.stdout) as ImportReport;
    // Into an empty data dir: restored as exported, every row written.
    assert.equal(report.mode, 'restore');
    assert.equal(report.imported, 5);
    assert.equal(report.duplicates, 0);
    const again = await cli(['import', file, '--data-dir', destDir]);
    assert.match(again.stdout, /imported {5}0 of 5 updates/);
    assert.match(again.stdout, /duplicates {3}5/);

    const dest = await Replica.open({ dataDir: destDir });
    t.after(() => dest.close());
    assert.deepEqual([...dest.live()], [...src.live()]);

    const std = await cli(['export', '--data-dir', destDir]);
    const lines = std.stdout.trim().split('\n');
    assert.equal(lines.length, 6);
    assert.deepEqual((JSON.parse(lines[0] as string) as { counts: ExportCounts }).counts, { live: 2, history: 3, deferred: 0 });
    assert.match(std.stderr, /exported 2 live/);
  });

  test('a bad file: the error names FILE:LINE and the command fails', async (t) => {
    const file = path.join(tempDir(t), 'bad.ndjson');
    fs.writeFileSync(file, '{"hamsync":"export","format":1,"created":"x","counts":{"live":1,"history":0,"deferred":0}}\n{"t":"live","k":"a","v":1,"s":1,"src":"bad source"}\n');
    const destDir = path.join(tempDir(t), 'dest');
    await assert.rejects(cli(['import', file, '--data-dir', destDir]), (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_SOURCE') && err.message.includes(`${file}:2: `));
    assert.equal(fs.existsSync(destDir), false, 'the data dir was not even created');
    await assert.rejects(cli(['import', `${file}.missing`, '--data-dir', destDir]), (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_FILE') && /ENOENT/.test(err.message));
    assert.equal(fs.existsSync(destDir), false);
  });

  test('--help documents that an interrupted import can be re-run, that the daemon must be stopped, and restore vs merge', async () => {
    const help = await new Promise<string>((resolve, reject) => {
      yargs(['import', '--help'])
        .command(importCmd)
        .exitProcess(false)
        .parse(['import', '--help'], {}, (err, _argv, output) => (err ? reject(err) : resolve(output.replace(/\s+/g, ' '))));
    });
    assert.match(help, /interrupted import can simply be run again/);
    assert.match(help, /stop it first \(HAMSYNC_ERR_LOCKED names its pid\)/);
    assert.match(help, /EMPTY data directory the export is restored exactly/);
    assert.match(help, /nothing is imported/);
  });
});
