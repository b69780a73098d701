/**
 * Archive fidelity (issue 14, item 9): `export` then `import` into an EMPTY data dir reproduces
 * the archive: `hamsync replay --format ndjson` gives the same rows, outcomes, deferred flags and
 * receive times, and the export of the copy equals the original's. An import into a dir with data
 * still merges through HAM. And item 7: an interrupted import says what it imported, exits 130,
 * and running it again is safe.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { interrupted } from '../../src/cli/import.js';
import { isHamsyncError } from '../../src/errors.js';
import { ManualClock } from '../../src/ham/manual-clock.js';
import type { Json } from '../../src/ham/lexical.js';
import { exportToFile } from '../../src/replay/export.js';
import { importFile } from '../../src/replay/import.js';
import { Replica } from '../../src/sync/replica.js';
import { Harness, runCli } from '../helpers/procs.js';
import { prng, seedFromEnv } from '../helpers/seed.js';
import { dump } from '../helpers/dump.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const SOURCES = ['pi-1', 'pi-2', 'fast'];
const VALUES: Json[] = [1, 2.5, 'a', 'b', true, null, { b: 1, a: [1, 2] }, ''];

/**
 * A replica whose history has every outcome (applied, historical, tie-lost, same), rows that
 * waited in the deferred queue (deferred: true) and rows still waiting; receive times differ
 * from states. Closed again; returns its data dir and the clock's time at the end.
 */
async function archive(t: TestContext, seed: number, rounds: number): Promise<{ dir: string; now: number }> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const dir = tempDir(t);
  const clock = new ManualClock(1_700_000_000_000);
  const r = await Replica.open({ dataDir: dir, clock });
  const keys = ['a', 'b', 'c/d', 'e f'];
  const states: number[] = [];
  const sent: { key: string; value: Json; state: number; source: string }[] = [];
  for (let round = 0; round < rounds; round++) {
    const batch = Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => {
      const source = pick(SOURCES);
      // The same write from another source: outcome "same".
      if (rnd() < 0.1 && sent.length > 0) return { ...pick(sent), source };
      // "fast" stamps ahead of the clock: deferred, then applied when its state comes.
      const state = rnd() < 0.25 && states.length > 0 ? pick(states) : Math.round(clock.now() + (source === 'fast' ? 3000 : -2000) * rnd());
      states.push(state);
      const u = { key: pick(keys), value: pick(VALUES), state, source };
      sent.push(u);
      return u;
    });
    await r.receive(batch).committed;
    clock.advance(Math.floor(rnd() * 1000));
  }
  // Leave some rows deferred (the last rounds' fast ones); the timer has promoted the due ones.
  await until(() => r.deferred().every((d) => d.state > r.now()), { what: 'due deferred rows promoted' });
  await r.close();
  return { dir, now: clock.now() };
}

async function replayNdjson(dir: string): Promise<string[]> {
  const r = await runCli(['replay', '--data-dir', dir, '--format', 'ndjson', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

test('export, then import into an empty data dir: replay --format ndjson gives the same rows, outcomes, deferred flags and rx', async (t) => {
  const seed = seedFromEnv(20261202);
  t.diagnostic(`seed ${seed} (HAMSYNC_SEED to replay)`);
  const src = await archive(t, seed, 40);
  const file = path.join(tempDir(t), 'archive.ndjson');
  await exportToFile(src.dir, file);
  const rows = await replayNdjson(src.dir);
  const parsed = rows.map((l) => JSON.parse(l) as { outcome: string; deferred: boolean; rx: number; s: number });
  for (const o of ['applied', 'historical', 'tie-lost', 'same']) assert.ok(parsed.some((p) => p.outcome === o), `seed ${seed}: the archive has ${o} rows`);
  assert.ok(parsed.some((p) => p.deferred), `seed ${seed}: the archive has rows that waited in the deferred queue`);
  assert.ok(parsed.some((p) => p.rx !== p.s), `seed ${seed}: receive times differ from states`);

  const dest = path.join(tempDir(t), 'restored');
  const im = await runCli(['import', file, '--data-dir', dest, '--json']);
  assert.equal(im.code, 0, im.stderr);
  assert.equal((JSON.parse(im.stdout) as { mode: string }).mode, 'restore');
  const copy = await replayNdjson(dest);
  assert.equal(copy.length, rows.length, `seed ${seed}: same number of rows`);
  rows.forEach((row, i) => assert.equal(copy[i], row, `seed ${seed}: row ${i + 1}`));
  assert.equal(await dump(dest), await dump(src.dir), `seed ${seed}: live, history and deferred rows are identical`);

  // A daemon-style open of the copy resolves what is due and keeps what is not, like the original.
  const r = await Replica.open({ dataDir: dest, clock: new ManualClock(src.now) });
  assert.ok(r.deferred().length > 0, 'the rows still from the future are still deferred');
  await r.close();
});

test('into a data dir that has data the import still merges through HAM (outcomes from this replica)', async (t) => {
  const src = await archive(t, 3, 15);
  const file = path.join(tempDir(t), 'archive.ndjson');
  await exportToFile(src.dir, file);
  const dest = tempDir(t);
  const r = await Replica.open({ dataDir: dest, clock: new ManualClock(src.now) });
  await r.receive([{ key: 'z', value: 1, state: 1, source: 'other' }]).durable;
  await r.close();
  const report = await importFile(file, { dataDir: dest, clock: new ManualClock(src.now) });
  assert.equal(report.mode, 'merge');
  assert.ok(report.duplicates > 0, 'live rows are also in history: duplicates when merged');
});

test('an interrupted restore leaves a marked partial restore: daemon and broker refuse it, the same import finishes it', async (t) => {
  const src = await archive(t, 11, 30);
  const file = path.join(tempDir(t), 'archive.ndjson');
  await exportToFile(src.dir, file);
  const dest = path.join(tempDir(t), 'restored');
  let chunks = 0;
  const cut = await importFile(file, { dataDir: dest, chunk: 5, onProgress: () => chunks++, stopped: () => chunks >= 2 });
  assert.equal(cut.interrupted, 'import');
  assert.equal(cut.mode, 'restore');
  assert.equal(cut.imported, 10);
  assert.match(interrupted(cut, file, dest), /^import interrupted: restored 10 of \d+ rows of .* partial restore .* running the same command again is safe: it starts the restore over$/);
  for (const owner of [{ role: 'daemon' as const, id: 'earth', ns: 'default' }, { role: 'broker' as const, ns: 'default' }]) {
    await assert.rejects(
      Replica.open({ dataDir: dest, owner }),
      (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_STORE') && /holds a partial restore of .*archive\.ndjson .* run "hamsync import .* again/.test(err.message),
    );
  }
  const done = await importFile(file, { dataDir: dest, chunk: 5 });
  assert.equal(done.mode, 'restore', 'the partial restore is started over, not merged');
  assert.equal(done.interrupted, undefined);
  assert.equal(await dump(dest), await dump(src.dir));
});

test('item 7: Ctrl-C during `hamsync import` says what was imported and that re-running is safe (exit 130); re-running completes it', async (t) => {
  const h = new Harness(t);
  // An archive big enough that the import is still writing when the signal comes.
  const dir = h.tempDir('big');
  const clock = new ManualClock(1_700_000_000_000);
  const r = await Replica.open({ dataDir: dir, clock });
  for (let b = 0; b < 5; b++) {
    await r.receive(Array.from({ length: 1000 }, (_, i) => ({ key: `k/${i % 50}`, value: b * 1000 + i, state: 1_600_000_000_000 + b * 1000 + i, source: 'pi-1' }))).committed;
  }
  await r.close();
  const file = path.join(h.tempDir('file'), 'big.ndjson');
  await exportToFile(dir, file);
  const dest = path.join(h.tempDir('dest'), 'd');
  const merged = h.tempDir('merged');
  await (await Replica.open({ dataDir: merged, clock: new ManualClock(0) })).receive([{ key: 'other', value: 1, state: 1, source: 'x' }]).durable;

  for (const [mode, target, again] of [['restore', dest, /starts the restore over/], ['merge', merged, /it adds only what is missing/]] as const) {
    const p = h.spawn(`import-${mode}`, ['import', file, '--data-dir', target, '--chunk', '10']);
    // The lock file appears once the file is checked and the import starts writing.
    await until(() => fs.existsSync(path.join(target, 'hamsync.lock')), { intervalMs: 5, what: 'the import to start writing' });
    p.child.kill('SIGINT');
    const exit = await p.exited;
    assert.deepEqual(exit, { code: 130, signal: null }, p.stderr);
    assert.match(p.stderr, new RegExp(`^hamsync: import interrupted: .*${mode === 'restore' ? 'restored' : 'imported into'}`, 'm'));
    assert.match(p.stderr, /running the same command again is safe/);
    assert.match(p.stderr, again);
    assert.equal(fs.existsSync(path.join(target, 'hamsync.lock')), false, 'the lock was released');
    const rerun = await runCli(['import', file, '--data-dir', target]);
    assert.equal(rerun.code, 0, rerun.stderr);
  }
  assert.equal(await dump(dest), await dump(dir), 'the restore, run again, is complete and exact');
});
