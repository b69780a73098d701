import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Replica } from '../../src/index.js';
import { Progress } from '../../src/replay/progress.js';
import { tempDir } from '../helpers/tmp.js';

test('stamps never go backward across restarts, even when the wall clock does (high-water mark persisted)', async (t) => {
  const dir = join(tempDir(t), 'r');
  // First life: a clock 60 s fast stamps and stores some updates.
  const a = await Replica.open({ dataDir: dir, clockOffsetMs: 60_000 });
  const first: number[] = [];
  for (let i = 0; i < 50; i++) first.push(a.stamp());
  await a.receive([{ key: 'k', value: 1, state: first.at(-1) as number, source: 'me' }]).durable;
  await a.close();
  assert.ok(first.every((s, i) => i === 0 || s > (first[i - 1] as number)), 'strictly increasing, sub-ms steps');
  // Second life: the clock was "corrected" back by 60 s. Stamps still continue above the old ones,
  // and the machine state is never below them, so our own update is not deferred by ourselves.
  const b = await Replica.open({ dataDir: dir, clockOffsetMs: 0 });
  t.after(() => b.close());
  const next = b.stamp();
  assert.ok(next > (first.at(-1) as number), `${next} > ${first.at(-1)}`);
  assert.ok(b.now() >= next);
  const r = b.receive([{ key: 'k', value: 2, state: next, source: 'me' }]);
  assert.equal(r.results[0]?.decision, 'apply');
});

test('the replay progress line shows count, rate and ETA on a terminal, nothing otherwise', () => {
  const tty = Object.assign(new PassThrough(), { isTTY: true }) as unknown as NodeJS.WriteStream;
  let shown = '';
  (tty as unknown as PassThrough).on('data', (d: Buffer) => (shown += d.toString()));
  const p = new Progress(1000, { stream: tty });
  p.tick(250);
  assert.match(p.render(Date.now() + 1000), /^250 \/ 1,000 rows {2}\d[\d,]*\/s ETA \d+s$/);
  p.done();
  assert.match(shown, /250 \/ 1,000 rows/);
  const pipe = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
  let piped = '';
  (pipe as unknown as PassThrough).on('data', (d: Buffer) => (piped += d.toString()));
  const q = new Progress(10, { stream: pipe });
  q.tick(5);
  q.done();
  const quiet = new Progress(10, { stream: tty, quiet: true });
  shown = '';
  quiet.tick(5);
  quiet.done();
  assert.equal(piped, '');
  assert.equal(shown, '');
});
